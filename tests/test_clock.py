"""Clocks: fixed-step determinism, real-time pacing, tempo and tap tempo."""
import pytest

from liveGAN.clock import FixedClock, RealtimeClock, Tempo, interval_stats


def test_fixed_clock_steps_exactly():
    clock = FixedClock(fps=25, bpm=120)
    for _ in range(51):
        clock.tick()
    assert clock.frame == 50
    assert clock.time == pytest.approx(2.0)
    assert clock.tempo.beat == pytest.approx(4.0)
    assert clock.tempo.beat_phase == pytest.approx(0.0, abs=1e-9)


def test_tempo_change_keeps_phase():
    tempo = Tempo(bpm=120)
    tempo.advance(0.25)
    assert tempo.beat == pytest.approx(0.5)
    tempo.bpm = 60
    tempo.advance(0.5)
    assert tempo.beat == pytest.approx(1.0)


def test_tap_tempo():
    tempo = Tempo(bpm=120)
    assert tempo.tap(10.0) is None
    for i in range(1, 5):
        bpm = tempo.tap(10.0 + 0.5 * i * 1.0)
    assert bpm == pytest.approx(120.0)
    tempo2 = Tempo()
    for i in range(4):
        bpm = tempo2.tap(100.0 + 0.4 * i)
    assert bpm == pytest.approx(150.0)


def test_realtime_clock_paces_and_counts_late_frames():
    now = [0.0]
    def sleep(s):
        now[0] += s
    def monotonic():
        now[0] += 1e-5  # each reading takes a little time, like a real clock
        return now[0]
    clock = RealtimeClock(fps=50, sleep=sleep, monotonic=monotonic)
    for _ in range(11):
        clock.tick()
    assert clock.time == pytest.approx(0.2, abs=0.002)
    assert clock.late_frames == 0
    now[0] += 0.1  # a frame that took five periods
    clock.tick()
    assert clock.late_frames == 1
    stats = interval_stats(clock.intervals)
    assert stats["p50_ms"] == pytest.approx(20.0, abs=0.5)
    assert stats["max_ms"] > 90
