"""What the show tells the rest of the program: a per-frame snapshot, the address table, the log.

Place in the data flow: the show publishes -> **link** -> reporters read (the HUD, OSC feedback
and `/livegan/get`, a web page, any plugin that asks with `connect(link)`). Publishing is one
attribute assignment of an immutable object, so readers on other threads never lock and never
see half a frame; the show never waits for a reader.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Callable, Mapping

from liveGAN.params import Registry

# The kinds of address in the table handed to sources: a param's own kind, "readonly" (a
# value published by a source), "any" (a mapping source: one number) and "action" (a command
# such as /livegan/quit that takes its own arguments).
ADDRESS_KINDS = ("float", "int", "bool", "trigger", "readonly", "any", "action")


@dataclass(frozen=True)
class Snapshot:
    """The show after one frame: values, time, tempo, speed. Never changed once published."""

    frame: int = -1
    time: float = 0.0
    values: Mapping[str, float] = field(default_factory=dict)
    bpm: float = 120.0
    beat: float = 0.0
    beat_phase: float = 0.0
    fps: float = 0.0
    generator_fps: float = 0.0
    generator_ms: float = 0.0
    seed: int = 0
    patch: str = ""
    last_changed: str = ""
    presented_at: float = 0.0     # time.perf_counter() when the frame went to the sinks
    started_at: float = 0.0       # time.perf_counter() at show time 0 (live shows; 0 offline)
    drained_at: float = 0.0       # time.perf_counter() when its update took the inbox's events
    beat_at: float = 0.0          # time.perf_counter() the frame's time and beat are for (live)


class ShowLink:
    """The read side of a running show, safe from any thread."""

    def __init__(self, log: Callable[[str, str], None], say: Callable[[str], None]) -> None:
        self.log = log      # log(kind, message): rate-limited, for problems that may repeat
        self.say = say      # say(message): a one-off line (a recording's start and end)
        self._snapshot = Snapshot()
        self._routes: Mapping[str, str] = MappingProxyType({})
        self._registry = Registry()
        self._audio = None
        self._mappings: tuple = ()

    # -- the show's side (its own thread) --------------------------------------------------

    def publish(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot

    def set_scene(self, registry: Registry, routes: Mapping[str, str]) -> None:
        self._registry = registry
        self._routes = MappingProxyType(dict(routes))

    def set_mappings(self, mappings) -> None:
        """The patch's mappings (liveGAN.mappings.MappingSpec), for feedback to controllers."""
        self._mappings = tuple(mappings)

    # -- readers ---------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """The latest published frame's state."""
        return self._snapshot

    def routes(self) -> Mapping[str, str]:
        """Every address the show acts on now -> its kind (see ADDRESS_KINDS)."""
        return self._routes

    def mappings(self) -> tuple:
        """The current patch's mappings (replaced, never changed, on a reload or a learn)."""
        return self._mappings

    def registry(self) -> Registry:
        """The current parameter registry (replaced, never changed, on a reload)."""
        return self._registry

    # -- live audio, from the audio input to the sinks that carry sound ----------------------

    def share_audio(self, ring) -> None:
        """The audio input offers its `liveGAN.pcm.PcmRing` (None when it stops)."""
        self._audio = ring

    def audio(self):
        """The live audio input's PcmRing, or None while the show has none."""
        return self._audio
