"""Mappings: a signal shaped onto a parameter.

Place in the data flow: sources -> inbox -> **mapping** -> param targets. A mapping's source is
any address a source posts (`/1/fader1` from OSC, `/midi/1/cc/7`, `/key/x`) or any parameter
(`audio/level`, read every frame). It takes the raw input range (`input`, e.g. 0..1 from a
TouchOSC fader), applies a curve, scales onto the target range (`range`, default the param's
own range) and, if it has its own `smoothing`, glides there. Mappings live in the show's
update; source threads never call them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from liveGAN.params import Param, ParamValues

CURVES = ("linear", "exp", "log", "smooth", "invert", "square", "sqrt")


def apply_curve(curve: str, x: float) -> float:
    """Shape a 0..1 value. `exp` is slow at first (fine control low), `log` the opposite."""
    x = min(max(x, 0.0), 1.0)
    if curve == "linear":
        return x
    if curve == "exp":
        return (math.exp(4.0 * x) - 1.0) / (math.exp(4.0) - 1.0)
    if curve == "log":
        return math.log1p(x * (math.exp(4.0) - 1.0)) / 4.0
    if curve == "smooth":
        return x * x * (3.0 - 2.0 * x)
    if curve == "invert":
        return 1.0 - x
    if curve == "square":
        return x * x
    if curve == "sqrt":
        return math.sqrt(x)
    raise ValueError(f"unknown curve {curve!r}")


@dataclass
class MappingSpec:
    """One `[[mappings]]` entry of a patch, validated."""

    source: str
    target: str
    input: tuple[float, float] = (0.0, 1.0)
    range: tuple[float, float] | None = None
    curve: str = "linear"
    smoothing: float | None = None


class Mapping:
    """A live mapping: feed raw values with `receive`, call `step(dt)` once per frame."""

    def __init__(self, spec: MappingSpec, param: Param) -> None:
        self.spec, self.param = spec, param
        lo, hi = spec.range if spec.range is not None else (param.min, param.max)
        self.lo, self.hi = lo, hi
        self._goal: float | None = None
        self._value: float | None = None
        self.was_high = False  # for a parameter source driving a trigger: the last level

    def shape(self, raw: float) -> float:
        """The target value for a raw input value."""
        a, b = self.spec.input
        x = 0.0 if b == a else (raw - a) / (b - a)
        return self.lo + (self.hi - self.lo) * apply_curve(self.spec.curve, x)

    def receive(self, raw: float) -> None:
        if math.isfinite(raw):
            self._goal = self.shape(raw)

    def step(self, dt: float, values: ParamValues) -> None:
        """Move toward the latest input and hand the result to the param's target."""
        if self._goal is None:
            return
        tau = self.spec.smoothing
        if not tau or self._value is None:
            self._value = self._goal
        else:
            self._value += (self._goal - self._value) * (1.0 - math.exp(-dt / tau))
        if self.param.key in values.target:
            values.set_target(self.param.key, self._value)
        if self._value == self._goal:
            self._goal = None
