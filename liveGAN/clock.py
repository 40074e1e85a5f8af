"""Clocks: when each frame happens, and where it falls on the beat.

Place in the data flow: the frame loop asks its clock for the next frame; everything time-based
downstream (latent walks, LFOs, shader uniforms) reads the clock's `time`, `beat` and
`beat_phase`, never the wall clock, so an offline render with `FixedClock` gives the same frames
every time.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from liveGAN.params import Param

BPM_MIN, BPM_MAX = 20.0, 300.0


def tempo_params() -> list[Param]:
    """The `clock/...` controls: the tempo and tap tempo."""
    return [
        Param("clock", "bpm", "float", 120.0, BPM_MIN, BPM_MAX, 0, "tempo in beats per minute"),
        Param("clock", "tap", "trigger", 0, 0, 1, 0, "tap tempo: send on each beat"),
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

    def __init__(self, fps: float, bpm: float = 120.0) -> None:
        self.fps = float(fps)
        self.tempo = Tempo(bpm)
        self.frame = -1
        self.time = 0.0
        self.dt = 0.0
        self.late_frames = 0

    def tick(self) -> float:
        """Start the next frame; returns its dt."""
        self.frame += 1
        self.dt = 0.0 if self.frame == 0 else 1.0 / self.fps
        self.time = self.frame / self.fps
        self.tempo.advance(self.dt)
        return self.dt

    def now(self) -> float:
        return self.time


class RealtimeClock(FixedClock):
    """Paces frames at `fps` against the monotonic clock.

    When a frame runs late it counts it and starts the next deadline from now instead of
    rushing to catch up, so one slow frame never becomes a burst of fast ones.
    """

    def __init__(self, fps: float, bpm: float = 120.0, sleep=time.sleep,
                 monotonic=time.perf_counter) -> None:
        super().__init__(fps, bpm)
        self._sleep = sleep
        self._monotonic = monotonic
        self._start = 0.0
        self._deadline = 0.0
        self._last = 0.0
        self.intervals: list[float] = []

    def tick(self) -> float:
        period = 1.0 / self.fps
        now = self._monotonic()
        if self.frame < 0:
            self._start = self._last = now
            self._deadline = now + period
        else:
            wait = self._deadline - now
            if wait > 0:
                # Sleep most of the way, then spin the last half millisecond: plain sleep
                # overshoots by up to a millisecond on a loaded machine.
                if wait > 0.002:
                    self._sleep(wait - 0.0015)
                while self._monotonic() < self._deadline:
                    pass
                now = self._monotonic()
                self._deadline += period
            else:
                if -wait > 0.5 * period:
                    self.late_frames += 1
                self._deadline = now + period
        self.frame += 1
        self.dt = now - self._last if self.frame > 0 else 0.0
        if self.frame > 0:
            self.intervals.append(self.dt)
        self._last = now
        self.time = now - self._start
        self.tempo.advance(self.dt)
        return self.dt

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
