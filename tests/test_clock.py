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


# -- following a tempo source, quantised actions, LFOs (issue 11) ------------------------------

from liveGAN.clock import Lfo, Quantiser, TempoFollower, TempoSync  # noqa: E402


def test_sync_reports_are_checked():
    sync = TempoSync.from_values(("link", 128.0, 3.5, 100.0, 1.0))
    assert sync.beat_at(100.5) == pytest.approx(3.5 + 128 / 120)
    assert TempoSync.from_values(("midi", 120, 8.0, 5.0, 0.0)).beat_at(9.0) == 8.0  # stopped
    for bad in [(), ("link", float("nan"), 1, 2), ("link", 120), (7, 120, 1, 2), ("x", 0, 1, 2)]:
        with pytest.raises(ValueError):
            TempoSync.from_values(bad)


def test_link_is_followed_exactly_and_other_sources_are_ignored():
    lines = []
    follower = TempoFollower("link", say=lines.append)
    tempo = Tempo(bpm=120)
    follower.sync(TempoSync("midi", 90.0, 0.0, 10.0))     # not the chosen source
    assert not follower.follow(tempo, 10.0)
    follower.sync(TempoSync("link", 133.0, 17.25, 10.0))
    assert follower.follow(tempo, 10.3)
    assert tempo.bpm == 133.0
    assert tempo.beat == pytest.approx(17.25 + 0.3 * 133 / 60)
    assert "following the link tempo" in lines[-1]
    assert not follower.follow(tempo, 10.0 + TempoFollower.STALE_S + 0.1)
    assert "lost the link tempo" in lines[-1]


def test_midi_clock_pulls_the_beat_gently_and_jumps_when_far():
    follower = TempoFollower("midi")
    tempo = Tempo(bpm=120, beat=4.0)
    follower.sync(TempoSync("midi", 120.0, 4.1, 0.0))
    follower.follow(tempo, 0.0)
    assert tempo.beat == pytest.approx(4.0 + TempoFollower.PULL * 0.1)
    follower.sync(TempoSync("midi", 120.0, 12.0, 0.0))
    follower.follow(tempo, 0.0)
    assert tempo.beat == pytest.approx(12.0)


def test_a_stopped_transport_holds_the_beat_still_while_the_clock_ticks():
    # The clock advances the beat each frame at its tempo; a stopped MIDI transport must not
    # let it creep ahead and be pulled back (a beat that wobbles by a tenth while stopped).
    follower = TempoFollower("midi")
    tempo = Tempo(bpm=140, beat=9.49)
    follower.sync(TempoSync("midi", 140.0, 9.375, 0.0, playing=False))
    beats = []
    for frame in range(60):
        tempo.advance(1 / 30)
        follower.follow(tempo, frame / 30)
        beats.append(tempo.beat)
    assert beats == [9.375] * 60
    follower.sync(TempoSync("midi", 140.0, 9.375, 2.0, playing=True))   # continue
    tempo.advance(1 / 30)
    follower.follow(tempo, 2.0 + 1 / 30)
    assert tempo.beat > 9.375


def test_audio_beat_phase_is_met_at_the_nearest_beat():
    follower = TempoFollower("audio")
    tempo = Tempo(bpm=100, beat=10.9)
    assert follower.follow(tempo, 0.0, audio=(126.0, 0.0))
    assert tempo.bpm == 126.0
    assert tempo.beat == pytest.approx(10.9 + TempoFollower.PULL * 0.1)
    assert not TempoFollower("audio").follow(Tempo(), 0.0, audio=(0.0, 0.3))  # no tempo yet


def test_quantiser_waits_for_the_next_beat_or_bar():
    q = Quantiser()
    assert Quantiser.next_boundary(5.3, "beat") == 6.0
    assert Quantiser.next_boundary(5.3, "bar", 4) == 8.0
    assert Quantiser.next_boundary(8.02, "bar", 4) == 8.02   # just late: now
    assert Quantiser.next_boundary(5.3, "off") == 5.3
    assert q.hold("latent/next_seed", 5.3, "bar", 4)
    assert q.hold("recall", 6.5, "beat", 4, (3, 2.0))
    assert not q.hold("x", 7.01, "beat")
    assert q.due(6.99) == []
    assert q.due(7.0) == [("recall", (3, 2.0))]
    assert q.due(8.0) == [("latent/next_seed", ())]
    assert len(q) == 0


@pytest.mark.parametrize("shape, expected", [
    ("sine", [0.0, 0.5, 1.0, 0.5]), ("triangle", [0.0, 0.5, 1.0, 0.5]),
    ("saw", [0.0, 0.25, 0.5, 0.75]), ("square", [1.0, 1.0, 0.0, 0.0]),
])
def test_lfo_shapes_over_one_period(shape, expected):
    lfo = Lfo(shape, beats=4.0)
    assert [lfo(b) for b in (0.0, 1.0, 2.0, 3.0)] == pytest.approx(expected, abs=1e-9)
    assert lfo(4.0) == pytest.approx(expected[0])   # it repeats


def test_sample_and_hold_repeats_for_a_seed_and_holds_for_a_period():
    lfo = Lfo("random", beats=1.0, seed=3)
    held = [lfo(0.1), lfo(0.5), lfo(0.9)]
    assert held[0] == held[1] == held[2]
    values = [lfo(b + 0.5) for b in range(200)]
    assert len(set(values)) > 190 and all(0.0 <= v < 1.0 for v in values)
    assert 0.4 < sum(values) / len(values) < 0.6
    assert values == [Lfo("random", beats=1.0, seed=3)(b + 0.5) for b in range(200)]
    assert values != [Lfo("random", beats=1.0, seed=4)(b + 0.5) for b in range(200)]


def test_a_frame_woken_late_keeps_its_slot_on_the_frame_grid():
    """The scheduler waking the loop late (a loaded machine) must not move an on-time frame's
    `time` off its slot: the recording places each frame at round(time * fps), and a frame
    pushed past half a period took the next frame's place (CI: 30 frames shown, 29 recorded)."""
    fps = 50
    period = 1.0 / fps
    now = [0.0]
    oversleep = {5: 0.6 * period}   # frame 5's sleep ends 0.6 periods after its deadline
    def sleep(s):
        now[0] += s + oversleep.pop(clock.frame + 1, 0.0)
    def monotonic():
        now[0] += 1e-5
        return now[0]
    clock = RealtimeClock(fps=fps, sleep=sleep, monotonic=monotonic)
    slots = []
    for _ in range(12):
        clock.tick()
        slots.append(round(clock.time * fps))
    assert slots == list(range(12))
    assert clock.late_frames == 1   # it was still shown late, and counted
    assert clock.dt == pytest.approx(period)
