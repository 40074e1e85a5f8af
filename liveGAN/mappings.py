"""Mappings: a signal shaped onto a parameter.

Place in the data flow: sources -> inbox -> **mapping** -> param targets. A mapping's source is
any address a source posts (`/1/fader1` from OSC, `/midi/1/cc/7`, `/key/x`), any parameter
(`audio/level`, read every frame) or one of the patch's LFOs (`lfo/<name>`, computed from the
beat every frame). Each value goes through the same steps:

1. the raw input range (`input`, e.g. 0..1 from a TouchOSC fader) becomes 0..1;
2. a `dead_zone` (a fraction of that range) swallows small moves at rest: at the bottom, or
   around the middle when the input range spans 0 (pitch bend, a joystick);
3. `invert` turns it upside down, then a `curve` bends it (linear, exponential, logarithmic, S);
4. it is scaled onto the target range (`range`, default the param's own);
5. the mapping glides there on its own (`smoothing`, or `attack` going up and `release` going
   down, in seconds) and hands the result to the parameter's target.

`mode` says how a value drives the target: `absolute` (the value is the position), `relative`
(the value is a change: an endless encoder, in the same units, so a change of the whole
`input` range moves the whole `range`), `toggle` (each press flips between the ends of the
range; a note or a button), `gate` (the top of the range while held, the bottom on release).
A trigger parameter fires on a press (any value above the bottom of the input range).

Several mappings onto one parameter: by default the newest move wins (`combine = "last"`);
`combine = "sum"` adds their values, `"max"` takes the largest (an LFO plus a fader, the audio
level or a button). Mappings live in the show's update; source threads never call them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping as MappingType

from liveGAN.params import Param, ParamValues, Registry

# Curve names: the long ones are what the docs use; the short ones stay for older patches.
CURVES = ("linear", "exponential", "logarithmic", "s", "exp", "log", "smooth", "invert",
          "square", "sqrt")
MODES = ("absolute", "relative", "toggle", "gate")
COMBINES = ("last", "sum", "max")
LFO_PREFIX = "lfo/"
_BEND = math.exp(4.0) - 1.0


def apply_curve(curve: str, x: float) -> float:
    """Shape a 0..1 value. `exponential` is slow at first (fine control low), `logarithmic`
    the opposite, `s` eases both ends."""
    x = min(max(x, 0.0), 1.0)
    if curve == "linear":
        return x
    if curve in ("exponential", "exp"):
        return math.expm1(4.0 * x) / _BEND
    if curve in ("logarithmic", "log"):
        return math.log1p(x * _BEND) / 4.0
    if curve in ("s", "smooth"):
        return x * x * (3.0 - 2.0 * x)
    if curve == "invert":
        return 1.0 - x
    if curve == "square":
        return x * x
    if curve == "sqrt":
        return math.sqrt(x)
    raise ValueError(f"unknown curve {curve!r}")


def inverse_curve(curve: str, y: float) -> float:
    """The x that `apply_curve(curve, x)` maps to `y` (for feedback to a controller)."""
    y = min(max(y, 0.0), 1.0)
    if curve in ("exponential", "exp"):
        return apply_curve("log", y)
    if curve in ("logarithmic", "log"):
        return apply_curve("exp", y)
    if curve in ("s", "smooth"):
        return 0.5 - math.sin(math.asin(1.0 - 2.0 * y) / 3.0)
    if curve == "square":
        return math.sqrt(y)
    if curve == "sqrt":
        return y * y
    if curve == "invert":
        return 1.0 - y
    return y


@dataclass
class MappingSpec:
    """One `[[mappings]]` entry of a patch, validated."""

    source: str
    target: str
    input: tuple[float, float] = (0.0, 1.0)
    range: tuple[float, float] | None = None
    curve: str = "linear"
    smoothing: float | None = None
    invert: bool = False
    dead_zone: float = 0.0
    attack: float | None = None
    release: float | None = None
    mode: str = "absolute"
    combine: str = "last"


class Mapping:
    """A live mapping: feed raw values with `receive`, call `step(dt, values)` once per frame."""

    def __init__(self, spec: MappingSpec, param: Param) -> None:
        self.spec, self.param = spec, param
        lo, hi = spec.range if spec.range is not None else (param.min, param.max)
        self.lo, self.hi = lo, hi
        a, b = spec.input
        # Where the input rests: 0 when its range spans 0 (bend), else its bottom.
        self._rest = (0.0 - a) / (b - a) if b != a and min(a, b) < 0.0 < max(a, b) else 0.0
        self._goal: float | None = None
        self._value: float | None = None
        self._delta = 0.0
        self._flips = 0
        self.was_high = False  # for a parameter source driving a trigger: the last level
        self.combined = False  # set by MappingSet: the group writes the target, not this

    @property
    def discrete(self) -> bool:
        """Every event counts (a change, a press): the inbox must not merge them."""
        return self.param.kind == "trigger" or self.spec.mode in ("relative", "toggle")

    @property
    def value(self) -> float | None:
        """Where this mapping holds its target now (None before its first input)."""
        return self._value

    def position(self, raw: float) -> float:
        """`raw` as 0..1 through the input range and the dead zone (before invert and curve)."""
        a, b = self.spec.input
        x = 0.0 if b == a else (raw - a) / (b - a)
        x = min(max(x, 0.0), 1.0)
        zone = self.spec.dead_zone
        if zone > 0.0:
            rest = self._rest
            d = x - rest
            room = (1.0 - rest) if d > 0 else rest
            if room <= zone:
                return rest
            moved = max(abs(d) - zone, 0.0) * room / (room - zone)
            x = rest + math.copysign(moved, d)
        return x

    def shape(self, raw: float) -> float:
        """The target value for a raw input value."""
        x = self.position(raw)
        if self.spec.invert:
            x = 1.0 - x
        return self.lo + (self.hi - self.lo) * apply_curve(self.spec.curve, x)

    def unshape(self, value: float) -> float:
        """The raw input that would put the target at `value` (absolute mappings; feedback)."""
        y = 0.0 if self.hi == self.lo else (value - self.lo) / (self.hi - self.lo)
        x = inverse_curve(self.spec.curve, y)
        if self.spec.invert:
            x = 1.0 - x
        a, b = self.spec.input
        return a + (b - a) * x

    def pressed(self, raw: float) -> bool:
        """Whether `raw` is a press (above the bottom of the input range): a note on, a button
        down, any velocity."""
        return self.position(raw) > self._rest + 1e-9

    def receive(self, raw: float) -> bool:
        """Take one input value; True if it fires a trigger target."""
        if not math.isfinite(raw):
            return False
        if self.param.kind == "trigger":
            return self.pressed(raw)
        mode = self.spec.mode
        if mode == "relative":
            a, b = self.spec.input
            step = (self.hi - self.lo) / (b - a) if b != a else 0.0
            self._delta += -raw * step if self.spec.invert else raw * step
        elif mode == "toggle":
            if self.pressed(raw):
                self._flips += 1
        elif mode == "gate":
            self._goal = self.hi if self.pressed(raw) else self.lo
        else:
            self._goal = self.shape(raw)
        return False

    def step(self, dt: float, values: ParamValues) -> None:
        """Move toward the latest input and hand the result to the param's target."""
        key = self.param.key
        if key not in values.target:
            return
        if self._delta:
            base = values.target[key] if self._value is None or not self.combined \
                else self._value
            self._goal = min(max(base + self._delta, min(self.lo, self.hi)),
                             max(self.lo, self.hi))
            self._delta = 0.0
            self._value = None  # an encoder moves at once; the param's smoothing glides
        if self._flips:
            now = values.target[key] if not self.combined or self._value is None \
                else self._value
            high = now >= 0.5 * (self.lo + self.hi)
            if self._flips % 2:
                high = not high
            self._goal = self.hi if high else self.lo
            self._flips = 0
            self._value = None
        if self._goal is None:
            return
        rising = self._value is not None and self._goal > self._value
        spec = self.spec
        if spec.attack is not None or spec.release is not None:
            tau = (spec.attack if rising else spec.release) or 0.0
        else:
            tau = spec.smoothing or 0.0
        if tau <= 0.0 or self._value is None:
            self._value = self._goal
        else:
            self._value += (self._goal - self._value) * (1.0 - math.exp(-dt / tau))
            if abs(self._goal - self._value) <= 1e-6 * max(1.0, abs(self.hi - self.lo)):
                self._value = self._goal
        if not self.combined:
            values.set_target(key, self._value)
        if self._value == self._goal:
            self._goal = None


class MappingSet:
    """Every mapping of a scene, grouped by what feeds them and by what they drive.

    `by_address[address]` are fed by events (`feed`), the rest every frame in `step`: those
    whose source is a parameter, and those whose source is an LFO (`lfos`: name -> a function
    of the beat, see liveGAN.clock.Lfo).
    """

    def __init__(self, specs: Iterable[MappingSpec], registry: Registry,
                 lfos: MappingType[str, Callable[[float], float]] | None = None) -> None:
        lfos = lfos or {}
        self.by_address: dict[str, list[Mapping]] = {}
        self._param_sources: list[tuple[str, Mapping]] = []
        self._lfo_sources: list[tuple[Callable[[float], float], Mapping]] = []
        self._stepped: list[Mapping] = []
        groups: dict[str, list[Mapping]] = {}
        for spec in specs:
            target = registry.get(spec.target)
            if target is None or target.readonly:
                continue
            mapping = Mapping(spec, target)
            if spec.source.startswith("/"):
                self.by_address.setdefault(spec.source, []).append(mapping)
            elif spec.source in registry:
                self._param_sources.append((spec.source, mapping))
            elif spec.source.startswith(LFO_PREFIX) and spec.source[len(LFO_PREFIX):] in lfos:
                self._lfo_sources.append((lfos[spec.source[len(LFO_PREFIX):]], mapping))
            else:
                continue
            if target.kind != "trigger":
                self._stepped.append(mapping)
                groups.setdefault(target.key, []).append(mapping)
        # A target fed by several mappings adds them up or takes the largest when any of them
        # says so; otherwise each writes the target itself and the newest move wins.
        self._combined: list[tuple[str, str, list[Mapping]]] = []
        for key, members in groups.items():
            how = next((m.spec.combine for m in members if m.spec.combine != "last"), "last")
            if how != "last" and len(members) > 1:
                for m in members:
                    m.combined = True
                self._combined.append((key, how, members))
        self._written: dict[str, float] = {}

    def mappings(self) -> list[Mapping]:
        return [m for ms in self.by_address.values() for m in ms] + \
            [m for _, m in self._param_sources] + [m for _, m in self._lfo_sources]

    def step(self, dt: float, values: ParamValues, beat: float, fired: set[str]) -> None:
        """Feed the per-frame sources (params, LFOs), then move every mapping one frame."""
        current = values.current
        for source, mapping in self._param_sources:
            value = current[source]
            if mapping.param.kind == "trigger":
                # A parameter (an audio beat pulse) fires a trigger on its rising edge.
                high = mapping.shape(value) >= 0.5
                if high and not mapping.was_high:
                    fired.add(mapping.param.key)
                mapping.was_high = high
            else:
                mapping.receive(value)
        for lfo, mapping in self._lfo_sources:
            value = lfo(beat)
            if mapping.param.kind == "trigger":
                high = value >= 0.5
                if high and not mapping.was_high:
                    fired.add(mapping.param.key)
                mapping.was_high = high
            else:
                mapping.receive(value)
        for mapping in self._stepped:
            mapping.step(dt, values)
        for key, how, members in self._combined:
            held = [m.value for m in members if m.value is not None]
            if not held:
                continue
            total = sum(held) if how == "sum" else max(held)
            if self._written.get(key) != total:
                self._written[key] = total
                values.set_target(key, total)
