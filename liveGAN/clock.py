"""Clocks: when each frame happens, and where it falls on the beat.

Place in the data flow: the frame loop asks its clock for the next frame; everything time-based
downstream (latent walks, LFOs, shader uniforms) reads the clock's `time`, `beat` and
`beat_phase`, never the wall clock, so an offline render with `FixedClock` gives the same frames
every time.

There is one clock and one tempo source at a time (`[clock] source`): the internal BPM and tap,
MIDI clock, Ableton Link or the audio beat. An external source reports where it is with a sync
(`TempoSync`: the source's tempo and beat at a moment of `time.perf_counter()`), and the live
clock follows it (`TempoFollower`). Actions can wait for the next beat or bar (`Quantiser`), and
`Lfo`s give mapping sources in beats.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

from liveGAN.params import Param

BPM_MIN, BPM_MAX = 20.0, 300.0
QUANTIZE_MODES = ("off", "beat", "bar")
# A quantised action pressed this soon after a beat (in beats) happens on that beat: a player
# who presses a little late means the beat that just went by.
LATE_PRESS = 0.06


def tempo_params() -> list[Param]:
    """The `clock/...` controls: tempo, tap, quantisation, walk restart."""
    return [
        Param("clock", "bpm", "float", 120.0, BPM_MIN, BPM_MAX, 0, "tempo in beats per minute"),
        Param("clock", "tap", "trigger", 0, 0, 1, 0, "tap tempo: send on each beat"),
        Param("clock", "quantize", "int", 0, 0, 2, 0,
              "seed steps, scene recalls and walk restarts wait for: 0 nothing, 1 the next "
              "beat, 2 the next bar"),
        Param("clock", "beats_per_bar", "int", 4, 1, 32, 0, "beats in a bar (quantize = 2)"),
        Param("clock", "restart", "trigger", 0, 0, 1, 0,
              "restart the latent walk from its start (quantised)"),
    ]


@dataclass
class Tempo:
    """Beats that accumulate at the current BPM, so a tempo change never jumps the phase."""

    bpm: float = 120.0
    beat: float = 0.0
    _taps: list[float] = field(default_factory=list)

    def advance(self, dt: float) -> None:
        self.beat += dt * self.bpm / 60.0

    @property
    def beat_phase(self) -> float:
        """Position inside the current beat, 0..1."""
        return self.beat - math.floor(self.beat)

    def tap(self, now: float) -> float | None:
        """Tap tempo: returns the new BPM after at least two taps less than 2 s apart."""
        if self._taps and now - self._taps[-1] > 2.0:
            self._taps.clear()
        self._taps.append(now)
        del self._taps[:-8]
        if len(self._taps) < 2:
            return None
        intervals = [b - a for a, b in zip(self._taps, self._taps[1:])]
        intervals.sort()
        median = intervals[len(intervals) // 2]
        if median <= 0:
            return None
        self.bpm = min(max(60.0 / median, BPM_MIN), BPM_MAX)
        # A tap lands on the beat: snap the phase so the next beat falls where the player hears it.
        self.beat = float(round(self.beat))
        return self.bpm


class FixedClock:
    """Advances exactly 1/fps per frame and never sleeps: offline renders and tests."""

    live = False

    def __init__(self, fps: float, bpm: float = 120.0) -> None:
        self.fps = float(fps)
        self.tempo = Tempo(bpm)
        self.frame = -1
        self.time = 0.0
        self.dt = 0.0
        self.late_frames = 0
        self.tick_at = 0.0  # the moment this frame is for, in time.perf_counter() seconds (live)

    early = False  # this frame's update ran before its presentation time (RealtimeClock)

    def tick(self, wake=None) -> float:
        """Start the next frame's update; returns its dt. (`wake` is for live clocks.)"""
        self.frame += 1
        self.dt = 0.0 if self.frame == 0 else 1.0 / self.fps
        self.time = self.frame / self.fps
        self.tempo.advance(self.dt)
        return self.dt

    def present(self) -> None:
        """Wait until this frame is due on screen (live clocks only; here: now)."""

    def now(self) -> float:
        return self.time


class RealtimeClock(FixedClock):
    """Paces frames at `fps` against the monotonic clock.

    When a frame runs late it counts it and starts the next deadline from now instead of
    rushing to catch up, so one slow frame never becomes a burst of fast ones.

    A frame is an update then a presentation. Normally both happen at the frame's deadline.
    Given a `wake` event (the inbox sets it when a control arrives), `tick` returns as soon as
    it is set (`early`): the update runs at once, so the generator gets the new request without
    waiting for the deadline, and `present()` then waits for the deadline. An early frame's
    `time`, `dt` and `tick_at` are still its deadline's (the update computes the frame as it
    will be shown), so times stay on the frame grid and a replay is the same either way; so
    are those of a frame the loop was ready for but the system woke late. Only a frame whose
    work ran past its deadline takes the moment it was shown. `intervals` are between
    presentations.
    """

    live = True

    def __init__(self, fps: float, bpm: float = 120.0, sleep=time.sleep,
                 monotonic=time.perf_counter) -> None:
        super().__init__(fps, bpm)
        self._sleep = sleep
        self._monotonic = monotonic
        self._start = 0.0
        self._deadline = 0.0
        self._last = 0.0
        self._present_at = 0.0
        self._presented = 0.0
        self._pending = False   # an early update whose presentation is still to come
        self.early = False
        self.early_frames = 0   # frames whose update a control brought forward
        self.intervals: list[float] = []

    def tick(self, wake=None) -> float:
        if self._pending:       # the caller did not present the last frame: do it now
            self.present()
        period = 1.0 / self.fps
        now = self._monotonic()
        self.early = False
        if self.frame < 0:
            self._start = self._last = now
            self._present_at = now
            self._mark_presented(now, on_time=True)
        else:
            self._present_at = self._deadline
            wait = self._deadline - now
            if wait > 0.002 and wake is not None and wake.wait(wait - 0.0015):
                # A control arrived: update now for the deadline, present then (`present`).
                self.early = self._monotonic() < self._deadline - 0.001
            if self.early:
                now = self._deadline
                self._pending = True
                self.early_frames += 1
            else:
                slot = self._deadline
                self._until(slot)
                presented = self._monotonic()
                self._mark_presented(presented, on_time=wait > 0)
                # A frame the loop was ready for is for its deadline, however late the
                # scheduler woke it: times stay on the grid (a recording places each frame
                # at round(time * fps); one pushed half a period on took the next's place).
                now = slot if wait > 0 else presented
        self.frame += 1
        self.dt = now - self._last if self.frame > 0 else 0.0
        self._last = self.tick_at = now
        self.time = now - self._start
        self.tempo.advance(self.dt)
        return self.dt

    def present(self) -> None:
        if not self._pending:
            return
        on_time = self._monotonic() < self._present_at
        self._until(self._present_at)
        self._mark_presented(self._monotonic(), on_time)

    def _until(self, moment: float) -> None:
        """Sleep most of the way, then spin the last half millisecond: plain sleep overshoots
        by up to a millisecond on a loaded machine."""
        wait = moment - self._monotonic()
        if wait > 0.002:
            self._sleep(wait - 0.0015)
        while self._monotonic() < moment:
            pass

    def _mark_presented(self, now: float, on_time: bool) -> None:
        self._pending = False
        period = 1.0 / self.fps
        if self.frame >= 0:
            self.intervals.append(now - self._presented)
        late = now - self._present_at
        if self.frame >= 0 and late > 0.5 * period:
            self.late_frames += 1
        # On time: the next deadline one period on; late: one period from now (no catching up).
        self._deadline = self._present_at + period if on_time else now + period
        self._presented = now

    def now(self) -> float:
        return self._monotonic() - self._start


def interval_stats(intervals: list[float]) -> dict[str, float]:
    """Median and p99 of frame intervals, in milliseconds."""
    if not intervals:
        return {"p50_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0}
    ordered = sorted(intervals)
    def pick(q: float) -> float:
        return 1000.0 * ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))]
    return {"p50_ms": pick(0.5), "p99_ms": pick(0.99), "max_ms": 1000.0 * ordered[-1]}


# -- following an external tempo -----------------------------------------------------------


@dataclass(frozen=True)
class TempoSync:
    """Where an external tempo source was at one moment: `beat` at `at` (perf_counter s)."""

    source: str
    bpm: float
    beat: float
    at: float
    playing: bool = True

    @staticmethod
    def from_values(values: tuple) -> "TempoSync":
        """From the `/livegan/clock/sync source bpm beat at [playing]` action's arguments."""
        if len(values) not in (4, 5) or not isinstance(values[0], str):
            raise ValueError("clock sync takes: source bpm beat time [playing]")
        numbers = [float(v) for v in values[1:]]
        if not all(math.isfinite(v) for v in numbers) or not BPM_MIN / 4 <= numbers[0] <= 999:
            raise ValueError(f"clock sync: not a usable tempo and beat: {values[1:]!r}")
        playing = bool(numbers[3] >= 0.5) if len(numbers) == 4 else True
        return TempoSync(values[0], numbers[0], numbers[1], numbers[2], playing)

    def beat_at(self, now: float) -> float:
        if not self.playing:
            return self.beat
        return self.beat + (now - self.at) * self.bpm / 60.0


class TempoFollower:
    """Makes the clock's tempo follow the one chosen source (see the module docstring).

    `source`: "internal" (the `clock/bpm` param and tap), "link" (hard-locked: Link's timeline is
    already smooth and shared by every peer), "midi" and "audio" (jittery: the beat is pulled
    toward theirs a little each frame, and jumps only when it is far off; while their transport
    is stopped the beat is held exactly where it stopped). `say` gets one line
    when the source is lost or found again.
    """

    STALE_S = 2.0       # no sync for this long: the source is gone, the clock runs free
    PULL = 0.15         # share of a small beat error corrected each frame (MIDI, audio)
    JUMP_BEATS = 0.25   # larger errors are corrected at once

    def __init__(self, source: str = "internal", say: Callable[[str], None] | None = None
                 ) -> None:
        self.source = source
        self.say = say or (lambda message: None)
        self.latest: TempoSync | None = None
        self.following = False
        self.written_bpm: float | None = None

    def set_source(self, source: str) -> None:
        if source != self.source:
            self.source, self.latest, self.following = source, None, False

    def sync(self, sync: TempoSync) -> None:
        """A report from a tempo source; ignored unless it is the chosen one."""
        if sync.source == self.source:
            self.latest = sync

    def follow(self, tempo: Tempo, now: float, audio: tuple[float, float] | None = None
               ) -> bool:
        """Move `tempo` to the source at `now`; True while it is followed. `audio` is the
        audio beat tracker's (bpm, beat_phase) for the `audio` source."""
        if self.source == "internal":
            return False
        target = self._target(tempo, now, audio)
        if target is None:
            if self.following:
                self.following = False
                self.say(f"clock: lost the {self.source} tempo; running free at "
                         f"{tempo.bpm:.1f} BPM")
            return False
        if not self.following:
            self.following = True
            self.say(f"clock: following the {self.source} tempo ({target[0]:.1f} BPM)")
        bpm, beat, exact = target
        tempo.bpm = min(max(bpm, BPM_MIN), BPM_MAX)
        error = beat - tempo.beat
        if exact or abs(error) > self.JUMP_BEATS:
            tempo.beat = beat
        else:
            tempo.beat += self.PULL * error
        return True

    def _target(self, tempo: Tempo, now: float, audio) -> tuple[float, float, bool] | None:
        """The source's (bpm, beat, exact) at `now`; exact: take the beat as it is. Link's
        timeline is already smooth, and a stopped transport holds the beat where it stopped (a
        gentle pull would let it creep ahead each frame and be pulled back: a wobble)."""
        if self.source == "audio":
            if audio is None or not audio[0] > 0:
                return None
            bpm, phase = audio
            # The beat nearest ours that has the tracker's phase.
            return bpm, round(tempo.beat - phase) + phase, False
        sync = self.latest
        if sync is None or (sync.playing and now - sync.at > self.STALE_S):
            return None
        return sync.bpm, sync.beat_at(now), self.source == "link" or not sync.playing


class Quantiser:
    """Actions that wait for the next beat or bar: `hold(name, beat, mode, beats_per_bar)`,
    then `due(beat)` each frame returns what has come due, in the order it was held."""

    def __init__(self) -> None:
        self._waiting: list[tuple[float, str, tuple]] = []

    @staticmethod
    def next_boundary(beat: float, mode: str, beats_per_bar: int = 4) -> float:
        """The beat an action pressed at `beat` happens on (`beat` itself when not quantised)."""
        unit = 1.0 if mode == "beat" else float(max(beats_per_bar, 1)) if mode == "bar" else 0.0
        if unit <= 0.0:
            return beat
        index = math.floor(beat / unit)
        if beat - index * unit < LATE_PRESS:
            return beat  # just after the beat: now
        return (index + 1) * unit

    def hold(self, name: str, beat: float, mode: str, beats_per_bar: int = 4,
             args: tuple = ()) -> bool:
        """Hold `name` for the next boundary; False (nothing held) when it is due now."""
        due = self.next_boundary(beat, mode, beats_per_bar)
        if due <= beat:
            return False
        self._waiting.append((due, name, args))
        return True

    def due(self, beat: float) -> list[tuple[str, tuple]]:
        if not self._waiting:
            return []
        ready = [(name, args) for at, name, args in self._waiting if at <= beat]
        if ready:
            self._waiting = [w for w in self._waiting if w[0] > beat]
        return ready

    def clear(self) -> None:
        self._waiting.clear()

    def __len__(self) -> int:
        return len(self._waiting)


# -- LFOs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lfo:
    """A low-frequency oscillator in beats: 0..1 at any beat, a pure function of the beat so
    offline renders repeat. Shapes: sine, triangle, saw, square (`width`: the share of the
    period it is high), random (sample and hold: a new value each period, fixed by `seed`)."""

    shape: str = "sine"
    beats: float = 4.0
    phase: float = 0.0
    width: float = 0.5
    seed: int = 0

    def __call__(self, beat: float) -> float:
        position = beat / self.beats + self.phase
        p = position - math.floor(position)
        if self.shape == "sine":
            return 0.5 - 0.5 * math.cos(2.0 * math.pi * p)
        if self.shape == "triangle":
            return 1.0 - abs(2.0 * p - 1.0)
        if self.shape == "saw":
            return p
        if self.shape == "square":
            return 1.0 if p < self.width else 0.0
        if self.shape == "random":
            return _hash01(self.seed, math.floor(position))
        raise ValueError(f"unknown LFO shape {self.shape!r}")


def _hash01(seed: int, index: int) -> float:
    """A repeatable value in 0..1 for (seed, index) (splitmix64)."""
    x = (seed * 0x9E3779B97F4A7C15 + index * 0xBF58476D1CE4E5B9 + 0x94D049BB133111EB)
    x &= (1 << 64) - 1
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & ((1 << 64) - 1)
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & ((1 << 64) - 1)
    x ^= x >> 31
    return (x >> 11) / float(1 << 53)


def lfo_table(specs: Iterable) -> dict[str, Lfo]:
    """The patch's `[[lfos]]` (liveGAN.patch.LfoSpec) by name, ready to be mapping sources."""
    return {s.name: Lfo(s.shape, s.beats, s.phase, s.width, s.seed) for s in specs}
