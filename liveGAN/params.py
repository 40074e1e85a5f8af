"""The parameter registry: every controllable value, declared once.

Place in the data flow: sources (OSC, MIDI, audio, LFOs, keys) -> **params** -> latent,
generator, shader chain. Sources never touch parameter values directly; they `post` events into
the show's inbox and the show drains it, clamps, and sets targets. Values then glide toward their
targets (`ParamValues.step`) so a jump on a controller becomes a smooth move on screen.

Each owner declares its own params (the walk, the clock, the outputs, the model's controls, the
shader effects, the sources); `liveGAN.show.scene.scene_registry` gathers them. OSC addresses,
patch keys, shader uniforms and the generated reference docs all come from those declarations,
so nothing is listed twice.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Mapping

OSC_PREFIX = "/livegan"
KINDS = ("float", "int", "bool", "trigger")


class ParamError(ValueError):
    """A value or a key that does not fit the registry; the message says what and why."""


@dataclass(frozen=True)
class Param:
    """One controllable value.

    `smoothing` is a time constant in seconds: after that long a jump has covered 63% of the way.
    Ints and bools never glide (a seed of 3.5 means nothing), whatever `smoothing` says.
    A `trigger` is an action rather than a value (next seed, tap tempo): any message fires it.
    A `readonly` param is published by a source (audio level, detected BPM): mappings, shaders
    and OSC feedback read it; only its source sets it.
    """

    group: str
    name: str
    kind: str = "float"
    default: float = 0.0
    min: float = 0.0
    max: float = 1.0
    smoothing: float = 0.0
    description: str = ""
    readonly: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"param {self.key}: kind must be one of {KINDS}, not {self.kind!r}")
        if not all(math.isfinite(v) for v in (self.min, self.max, self.default, self.smoothing)):
            raise ValueError(f"param {self.key}: min, max, default and smoothing must be finite")
        if not (self.min <= self.default <= self.max):
            raise ValueError(f"param {self.key}: default {self.default} outside [{self.min}, {self.max}]")

    @property
    def key(self) -> str:
        """`group/name`, the key used in patches and mappings."""
        return f"{self.group}/{self.name}"

    @property
    def address(self) -> str:
        """The OSC address, `/livegan/<group>/<name>`."""
        return f"{OSC_PREFIX}/{self.group}/{self.name}"

    def coerce(self, value: object) -> float:
        """Clamp `value` into range and round it to the kind; raise ParamError on a wrong type.

        Bools accept 0/1, true/false (as sent by TouchOSC buttons and Pd toggles); ints accept
        whole floats (Max sends floats from most number boxes).
        """
        if self.kind == "trigger":
            return 1.0
        if isinstance(value, bool):
            number = float(value)
        elif isinstance(value, (int, float)):
            number = float(value)
        else:
            raise ParamError(f"{self.key} takes a {self.kind}, got {type(value).__name__} {value!r}")
        if not math.isfinite(number):
            raise ParamError(f"{self.key} takes a finite {self.kind}, got {number}")
        number = min(max(number, self.min), self.max)
        if self.kind == "int":
            return float(round(number))
        if self.kind == "bool":
            return 1.0 if number >= 0.5 else 0.0
        return number

    @property
    def range_text(self) -> str:
        """The accepted values as people read them: `0..1`, `0/1`, `any`."""
        if self.kind == "trigger":
            return "any"
        if self.kind == "bool":
            return "0/1"
        if self.kind == "int":
            return f"{int(self.min)}..{int(self.max)}"
        return f"{self.min:g}..{self.max:g}"

    @property
    def default_text(self) -> str:
        if self.kind == "trigger":
            return "-"
        if self.kind in ("int", "bool"):
            return str(int(self.default))
        return f"{self.default:g}"

    def typed(self, value: float) -> float | int | bool:
        """`value` as the Python type of this param's kind."""
        if self.kind == "int":
            return int(round(value))
        if self.kind in ("bool", "trigger"):
            return value >= 0.5
        return float(value)


class Registry:
    """The set of declared params, keyed by `group/name`.

    Declarations come from the engine's standard controls, the loaded model, and the shader chain.
    The registry is rebuilt when a patch or shader changes; input threads hold an immutable
    `AddressMap` snapshot, never the registry itself.
    """

    def __init__(self, params: Iterable[Param] = ()) -> None:
        self._params: dict[str, Param] = {}
        self.model_missing = False  # built without its model (a check of a broken patch)
        for param in params:
            self.declare(param)

    def declare(self, param: Param) -> Param:
        """Add `param`; declaring the same key twice with a different definition is an error."""
        existing = self._params.get(param.key)
        if existing is not None and existing != param:
            raise ValueError(f"param {param.key} declared twice with different definitions")
        self._params[param.key] = param
        return param

    def extend(self, params: Iterable[Param]) -> None:
        for param in params:
            self.declare(param)

    def __getitem__(self, key: str) -> Param:
        try:
            return self._params[key]
        except KeyError:
            raise ParamError(f"unknown parameter {key!r}") from None

    def get(self, key: str) -> Param | None:
        return self._params.get(key)

    def __contains__(self, key: object) -> bool:
        return key in self._params

    def __iter__(self) -> Iterator[Param]:
        return iter(sorted(self._params.values(), key=lambda p: (p.group, p.name)))

    def __len__(self) -> int:
        return len(self._params)

    def by_address(self) -> dict[str, Param]:
        """A fresh dict from OSC address to param (a snapshot safe to hand to another thread)."""
        return {p.address: p for p in self._params.values()}


@dataclass
class ParamValues:
    """Current and target values of every param in a registry; owned by the frame loop."""

    registry: Registry
    current: dict[str, float] = field(default_factory=dict)
    target: dict[str, float] = field(default_factory=dict)
    last_changed: str = ""

    def __post_init__(self) -> None:
        self.sync()

    def sync(self) -> None:
        """Adopt a changed registry: new params start at their default, gone ones are dropped,
        surviving ones keep their value (clamped into a possibly new range)."""
        keys = {p.key for p in self.registry}
        for store in (self.current, self.target):
            for key in list(store):
                if key not in keys:
                    del store[key]
        for param in self.registry:
            for store in (self.current, self.target):
                store[param.key] = param.coerce(store.get(param.key, param.default))

    def set_target(self, key: str, value: object) -> None:
        """Aim `key` at `value` (clamped); raises ParamError on unknown key or wrong type."""
        param = self.registry[key]
        self.target[key] = param.coerce(value)
        self.last_changed = key
        if param.kind != "float" or param.smoothing <= 0:
            self.current[key] = self.target[key]

    def set_now(self, key: str, value: object) -> None:
        """Jump `key` to `value` with no glide (patch load, resets)."""
        param = self.registry[key]
        self.target[key] = self.current[key] = param.coerce(value)

    def step(self, dt: float) -> None:
        """Move every smoothed value toward its target by one frame of `dt` seconds."""
        for param in self.registry:
            key = param.key
            if param.kind != "float" or param.smoothing <= 0:
                continue
            cur, tgt = self.current[key], self.target[key]
            if cur == tgt:
                continue
            alpha = 1.0 - math.exp(-max(dt, 0.0) / param.smoothing)
            cur += (tgt - cur) * alpha
            if abs(tgt - cur) <= 1e-6 * max(1.0, param.max - param.min):
                cur = tgt
            self.current[key] = cur

    def __getitem__(self, key: str) -> float:
        return self.current[key]

    def typed(self, key: str) -> float | int | bool:
        return self.registry[key].typed(self.current[key])

    def snapshot(self) -> dict[str, float]:
        """A copy of the current values, for handing to the generator worker."""
        return dict(self.current)


def format_table(params: Iterable[Param], values: Mapping[str, str] | None = None) -> str:
    """The OSC address space as a Markdown table (used by `livegan osc list` and the README).
    With `values` (key -> text), a column shows the patch's starting values."""
    head = "| address | type | range | default | description |"
    if values is not None:
        head = "| address | type | range | default | patch value | description |"
    rows = [head, "|" + "---|" * head.count(" | ") + "---|"]
    for p in params:
        kind = f"{p.kind}, read-only" if p.readonly else p.kind
        value = f" {values.get(p.key, p.default_text)} |" if values is not None else ""
        rows.append(f"| `{p.address}` | {kind} | {p.range_text} | {p.default_text} |{value} "
                    f"{p.description} |")
    return "\n".join(rows)


def values_view(values: Mapping[str, float], group: str) -> dict[str, float]:
    """The values of one group keyed by bare name (e.g. a shader effect's uniforms)."""
    prefix = group + "/"
    return {k[len(prefix):]: v for k, v in values.items() if k.startswith(prefix)}
