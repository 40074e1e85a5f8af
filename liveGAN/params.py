"""The parameter registry: every controllable value, declared once.

Place in the data flow: signals (OSC, MIDI, audio, LFOs, keys) -> **params** -> latent, generator,
shader chain. Input threads never touch parameter values directly; they `post` into an `Inbox`
and the frame loop drains it, clamps, and sets targets. Values then glide toward their targets
(`ParamValues.step`) so a jump on a controller becomes a smooth move on screen.

OSC addresses, patch keys, shader uniforms and the generated reference docs all come from the
`Param` declarations kept here, so nothing is listed twice.
"""
from __future__ import annotations

import math
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Mapping

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
    """

    group: str
    name: str
    kind: str = "float"
    default: float = 0.0
    min: float = 0.0
    max: float = 1.0
    smoothing: float = 0.0
    description: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"param {self.key}: kind must be one of {KINDS}, not {self.kind!r}")
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
        if math.isnan(number):
            raise ParamError(f"{self.key} takes a {self.kind}, got NaN")
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


class Inbox:
    """Where input threads leave messages for the frame loop.

    `post` never blocks: when the frame loop is not keeping up (a flood of messages) new
    messages are dropped and counted, so an input thread can never stall the show.
    """

    def __init__(self, maxsize: int = 4096) -> None:
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._maxsize = maxsize
        self._size = 0
        self._lock = threading.Lock()
        self.dropped = 0

    def post(self, address: str, value: object, source: str = "") -> bool:
        with self._lock:
            if self._size >= self._maxsize:
                self.dropped += 1
                return False
            self._size += 1
        self._queue.put((address, value, source))
        return True

    def drain(self, limit: int = 1024) -> list[tuple[str, object, str]]:
        """Up to `limit` waiting messages, oldest first."""
        items = []
        while len(items) < limit:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                break
        with self._lock:
            self._size -= len(items)
        return items


class RateLimitedLog:
    """Prints a message at most once per `interval` seconds per kind, then a count of repeats.

    Bad input is reported once, clearly, without a log storm that would itself slow the show.
    """

    def __init__(self, interval: float = 2.0, sink: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.sink = sink or (lambda msg: print(msg, flush=True))
        self.clock = clock
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}
        self._lock = threading.Lock()

    def __call__(self, kind: str, message: str) -> None:
        now = self.clock()
        with self._lock:
            last = self._last.get(kind)
            if last is not None and now - last < self.interval:
                self._suppressed[kind] = self._suppressed.get(kind, 0) + 1
                return
            self._last[kind] = now
            repeats = self._suppressed.pop(kind, 0)
        suffix = f" (and {repeats} more like it)" if repeats else ""
        self.sink(f"{message}{suffix}")


def format_table(params: Iterable[Param]) -> str:
    """The OSC address space as a Markdown table (used by `livegan osc list` and the README)."""
    rows = ["| address | type | range | default | description |", "|---|---|---|---|---|"]
    for p in params:
        rows.append(f"| `{p.address}` | {p.kind} | {p.range_text} | {p.default_text} | "
                    f"{p.description} |")
    return "\n".join(rows)


def values_view(values: Mapping[str, float], group: str) -> dict[str, float]:
    """The values of one group keyed by bare name (e.g. a shader effect's uniforms)."""
    prefix = group + "/"
    return {k[len(prefix):]: v for k, v in values.items() if k.startswith(prefix)}
