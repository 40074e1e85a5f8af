"""The per-block analyser on generated signals, checked against what the signals are made of."""
from __future__ import annotations

import math

import numpy as np
import pytest

from audio_signals import PATTERNS, blocks, click_track, drum_loop, f_measure, sine, square
from liveGAN.audio.features import AudioAnalyzer, FeatureConfig
from liveGAN.audio.shaping import Shaping


def feed(analyser: AudioAnalyzer, samples: np.ndarray, chunk: int | None = None):
    """Feed `samples` in chunks; returns the features (a copy) after each chunk."""
    chunk = chunk or analyser.block
    return [analyser.process(samples[i:i + chunk]).copy() for i in range(0, len(samples) - chunk + 1, chunk)]


def onset_times(analyser: AudioAnalyzer, samples: np.ndarray) -> list[float]:
    times = []
    for b in blocks(samples, analyser.block):
        if analyser.process(b)["onset"]:
            times.append(analyser.time_s - analyser.latency_s["onset"])
    return times


def bpm_track(analyser: AudioAnalyzer, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t, bpm = [], []
    for b in blocks(samples, analyser.block):
        bpm.append(analyser.process(b)["bpm"])
        t.append(analyser.time_s)
    return np.array(t), np.array(bpm)


def all_finite(feats) -> bool:
    return bool(np.all(np.isfinite(feats.values)))


# -- names, shapes, config ----------------------------------------------------------------------

def test_published_names_and_latency():
    an = AudioAnalyzer()
    names = an.process(np.zeros(512, np.float32)).names()
    for name in ("level", "level_db", "peak", "peak_db", "low", "mid", "high", "flux", "onset",
                 "onset_strength", "beat", "bpm", "beat_phase", "beat_confidence", "centroid",
                 "centroid_hz", "silence", *(f"chroma_{i}" for i in range(12))):
        assert name in names
    assert set(an.latency_s) == set(names)
    assert all(0 <= v < 5 for v in an.latency_s.values())
    assert an.latency_s["beat"] == 0.0


def test_log_bands_replace_the_three_bands():
    an = AudioAnalyzer(FeatureConfig(n_log_bands=8))
    names = an.features.names()
    assert [n for n in names if n.startswith("band_")] == [f"band_{i}" for i in range(8)]
    assert "low" not in names
    edges = an.config.band_edges
    # A tone in the middle (geometrically) of band 5 lights band 5 and no other.
    lo, hi = edges[5]
    feats = feed(an, sine(math.sqrt(lo * hi), 1.0))[-1]
    raw = [feats[f"band_{i}"] for i in range(8)]
    assert int(np.argmax(raw)) == 5
    assert sorted(raw)[-2] < 0.1


@pytest.mark.parametrize("bad", [dict(sample_rate=4000), dict(sample_rate=400000),
                                 dict(block=512, window=768),
                                 dict(bands=((300, 200),)), dict(bpm_range=(100, 150)),
                                 dict(shaping={"nonsense": Shaping()})])
def test_config_errors_are_clear(bad):
    with pytest.raises(ValueError):
        AudioAnalyzer(FeatureConfig(**bad))


def test_default_block_scales_with_the_rate():
    assert FeatureConfig(sample_rate=48000).block_size == 512
    assert FeatureConfig(sample_rate=44100).block_size == 512
    assert FeatureConfig(sample_rate=8000).block_size == 64
    assert FeatureConfig(sample_rate=192000).block_size == 2048


# -- level, bands, chroma, centroid on tones ---------------------------------------------------

@pytest.mark.parametrize("rate", [8000, 44100, 48000, 192000])
def test_a440_reads_as_a_with_centroid_near_440(rate):
    an = AudioAnalyzer(FeatureConfig(sample_rate=rate))
    feats = feed(an, sine(440.0, 1.0, rate, amplitude=0.5))[-1]
    chroma = [feats[f"chroma_{i}"] for i in range(12)]
    assert int(np.argmax(chroma)) == 9  # A
    assert chroma[9] == pytest.approx(1.0, abs=0.05)
    assert feats["centroid_hz"] == pytest.approx(440.0, rel=0.05)
    assert feats["centroid"] == pytest.approx(math.log10(440 / 20) / 3, abs=0.03)
    # 0.5 amplitude: RMS 0.354 = -9.03 dBFS, peak 0.5 = -6.02 dBFS.
    assert feats["level_db"] == pytest.approx(-9.03, abs=0.3)
    assert feats["peak"] == pytest.approx(0.5, abs=0.01)
    assert feats["peak_db"] == pytest.approx(-6.02, abs=0.2)
    assert feats["mid"] > 0.9 and feats["low"] < 0.1 and feats["high"] < 0.1


@pytest.mark.parametrize("freq, pitch_class",
                         [(261.63, 0), (329.63, 4), (392.0, 7), (1046.5, 0), (698.46, 5)])
def test_chroma_pitch_classes(freq, pitch_class):
    feats = feed(AudioAnalyzer(), sine(freq, 0.8))[-1]
    assert int(np.argmax([feats[f"chroma_{i}"] for i in range(12)])) == pitch_class


@pytest.mark.parametrize("freq, band", [(80.0, "low"), (1000.0, "mid"), (6000.0, "high")])
def test_bands_follow_the_tone(freq, band):
    feats = feed(AudioAnalyzer(), sine(freq, 0.8))[-1]
    others = [b for b in ("low", "mid", "high") if b != band]
    assert feats[band] > 0.9
    assert all(feats[b] < 0.1 for b in others)


def test_centroid_of_a_high_tone_is_higher():
    low = feed(AudioAnalyzer(), sine(200.0, 0.5))[-1]
    high = feed(AudioAnalyzer(), sine(5000.0, 0.5))[-1]
    assert low["centroid_hz"] == pytest.approx(200, rel=0.08)
    assert high["centroid_hz"] == pytest.approx(5000, rel=0.05)
    assert 0 < low["centroid"] < high["centroid"] <= 1


def test_auto_gain_brings_a_quiet_passage_back_to_full_scale():
    an = AudioAnalyzer(FeatureConfig(auto_gain_s=2.0))
    loud = feed(an, sine(440, 1.0, amplitude=0.5))
    quiet = feed(an, sine(440, 7.0, amplitude=0.05))  # 20 dB down
    assert loud[-1]["level"] > 0.95
    assert quiet[45]["level"] < 0.3  # half a second after the drop it reads low ...
    assert quiet[-1]["level"] > 0.9  # ... and after 3 auto_gain_s the loud part is forgotten
    assert all(0.0 <= f["level"] <= 1.0 for f in loud + quiet)


def test_release_envelope_decays_with_its_time_constant():
    release = 0.5
    cfg = FeatureConfig(shaping={"level": Shaping(auto_gain=False, attack_s=0.0, release_s=release)})
    an = AudioAnalyzer(cfg)
    before = feed(an, sine(440, 1.0, amplitude=0.5))[-1]["level"]
    assert before == pytest.approx(0.5 / math.sqrt(2), rel=0.02)  # raw RMS with no auto-gain
    after = feed(an, np.zeros(int(release * 48000) + 512, np.float32))
    # One time constant after the sound stops (less the block that still held sound): e^-1.
    assert after[-1]["level"] / before == pytest.approx(math.exp(-1), abs=0.05)


# -- bad input: silence, DC, clipping, NaN/inf, odd shapes ---------------------------------------

def test_silence():
    an = AudioAnalyzer()
    history = feed(an, np.zeros(48000 * 3, np.float32))
    last = history[-1]
    assert all(all_finite(f) for f in history)
    assert last["silence"] == 1.0 and last["level"] == 0.0 and last["level_db"] == -120.0
    assert last["bpm"] == 0.0 and last["centroid_hz"] == 0.0
    assert sum(f["onset"] for f in history) == 0 and sum(f["beat"] for f in history) == 0
    assert history[10]["silence"] == 0.0  # only after the hold time (0.25 s = 23 blocks)


def test_dc_offset_is_not_loudness():
    an = AudioAnalyzer()
    history = feed(an, np.full(48000 * 8, 0.5, np.float32))
    assert all(all_finite(f) for f in history)
    assert history[-1]["level_db"] < -60 and history[-1]["silence"] == 1.0
    assert history[-1]["peak"] == pytest.approx(0.5)  # the peak meter still shows the offset
    assert sum(f["onset"] for f in history[50:]) == 0
    # A tone riding on a DC offset reads as the tone.
    an = AudioAnalyzer()
    feats = feed(an, sine(440, 6.0, amplitude=0.5) + np.float32(0.3))[-1]
    assert feats["level_db"] == pytest.approx(-9.03, abs=0.5)
    assert feats["centroid_hz"] == pytest.approx(440, rel=0.05)


def test_clipped_square_wave():
    an = AudioAnalyzer()
    history = feed(an, square(440.0, 2.0))
    assert all(all_finite(f) for f in history)
    last = history[-1]
    assert last["level_db"] == pytest.approx(0.0, abs=0.6)
    assert last["peak"] == pytest.approx(1.0) and last["peak_db"] == pytest.approx(0.0, abs=0.01)
    assert int(np.argmax([last[f"chroma_{i}"] for i in range(12)])) == 9  # the fundamental, A
    assert sum(f["onset"] for f in history[20:]) == 0


@pytest.mark.parametrize("poison", [np.nan, np.inf, -np.inf, 1e30, -3e38])
def test_non_finite_samples_never_escape(poison):
    an = AudioAnalyzer()
    feed(an, sine(440, 0.5))
    bad = sine(440, 512 / 48000)
    bad[::7] = poison
    feats = an.process(bad)
    assert all_finite(feats)
    assert 0.0 <= feats["level"] <= 1.0
    everything_bad = np.full(512, poison, np.float32)
    for _ in range(30):
        assert all_finite(an.process(everything_bad))
    # And the analyser recovers: a clean tone reads as the tone again.
    feats = feed(an, sine(440, 1.5))[-1]
    assert feats["centroid_hz"] == pytest.approx(440, rel=0.05)
    assert all_finite(feats)


def test_any_chunk_size_stereo_and_int16():
    an = AudioAnalyzer()
    tone = sine(440, 1.0)
    feats = feed(an, tone, chunk=300)[-1]  # chunks that do not divide the block
    assert feats["centroid_hz"] == pytest.approx(440, rel=0.05)
    assert an.process(np.zeros(0, np.float32)) is an.features  # empty chunk: nothing to do
    stereo = np.stack([tone, tone], axis=1)  # [n, 2], identical channels: same as mono
    feats = feed(AudioAnalyzer(), stereo)[-1]
    assert feats["level_db"] == pytest.approx(-9.03, abs=0.3)
    ints = (tone * 32767).astype(np.int16)
    feats = feed(AudioAnalyzer(), ints)[-1]
    assert feats["level_db"] == pytest.approx(-9.03, abs=0.3)
    feats = feed(AudioAnalyzer(), np.stack([ints, ints], axis=1))[-1]  # int16 stereo
    assert feats["level_db"] == pytest.approx(-9.03, abs=0.3)
    with pytest.raises(ValueError):
        an.process(np.zeros((4, 4, 4), np.float32))
    with pytest.raises(ValueError):
        an.process(np.zeros(512, np.complex64))


def test_process_returns_the_same_object_updated_in_place():
    an = AudioAnalyzer()
    first = an.process(sine(440, 512 / 48000))
    second = an.process(np.zeros(512, np.float32))
    assert first is second


# -- onsets and beat ----------------------------------------------------------------------------

@pytest.mark.parametrize("rate", [8000, 48000, 96000])
def test_click_track_onsets(rate):
    track = click_track(120, 6.0, rate)
    detected = onset_times(AudioAnalyzer(FeatureConfig(sample_rate=rate)), track.samples)
    assert f_measure(detected, track.onsets, 0.025) >= 0.95


@pytest.mark.parametrize("pattern", sorted(PATTERNS))
def test_drum_loop_onsets(pattern):
    loop = drum_loop(128, 6.0, pattern=pattern)
    detected = onset_times(AudioAnalyzer(), loop.samples)
    assert f_measure(detected, loop.onsets, 0.025) >= 0.95


@pytest.mark.parametrize("bpm, pattern", [(80, "rock"), (80, "house"), (80, "break"), (160, "funk")])
def test_drum_loop_onsets_under_noise(bpm, pattern):
    loop = drum_loop(bpm, 8.0, pattern=pattern, noise_db=-40.0)
    detected = onset_times(AudioAnalyzer(), loop.samples)
    assert f_measure(detected, loop.onsets, 0.025) >= 0.95


def test_onset_sensitivity():
    loop = drum_loop(120, 6.0, pattern="funk", noise_db=-30.0)
    counts = [len(onset_times(AudioAnalyzer(FeatureConfig(onset_sensitivity=s)), loop.samples))
              for s in (0.0, 0.5, 1.0)]
    assert counts[0] < counts[1] < counts[2]


def test_onset_strength_follows_the_hit():
    an = AudioAnalyzer()
    loop = click_track(100, 3.0)
    strengths = [f["onset_strength"] for f in feed(an, loop.samples)]
    assert max(strengths) > 0.5
    assert min(strengths[30:]) >= 0.0 and strengths[-1] < max(strengths)


@pytest.mark.parametrize("bpm, pattern", [(80, "rock"), (160, "rock"), (97.5, "house"), (123.4, "funk"),
                                          (140, "break"), (90, "click")])
def test_tempo_locks_within_8_seconds_without_octave_errors(bpm, pattern):
    signal = click_track(bpm, 10.0) if pattern == "click" else drum_loop(bpm, 10.0, pattern=pattern)
    t, track = bpm_track(AudioAnalyzer(), signal.samples)
    off = np.flatnonzero(np.abs(track - bpm) > 1.0)
    locked_at = t[off[-1] + 1] if len(off) else t[0]
    assert abs(track[-1] - bpm) <= 1.0, f"ended at {track[-1]:.2f} BPM"
    assert locked_at <= 8.0


def test_beats_land_on_the_beat():
    loop = drum_loop(120, 10.0, pattern="house")
    an = AudioAnalyzer()
    beats, phases = [], []
    for b in blocks(loop.samples, an.block):
        feats = an.process(b)
        if feats["beat"]:
            beats.append(an.time_s)
        phases.append(feats["beat_phase"])
    late = [b for b in beats if b > 5.0]
    assert len(late) >= 8
    errors = [min(abs(loop.beats - b)) for b in late]
    assert max(errors) < 0.02  # within 20 ms of the true beat (blocks are 10.7 ms)
    assert min(phases) >= 0.0 and max(phases) <= 1.0


def test_a_quiet_loop_locks_like_a_loud_one():
    loop = drum_loop(110, 8.0, pattern="house")
    _, track = bpm_track(AudioAnalyzer(), loop.samples * np.float32(0.01))  # -40 dB
    assert abs(track[-1] - 110) <= 1.0


@pytest.mark.parametrize("db", [-30, -10])
def test_few_false_onsets_in_white_noise(db):
    noise = (10 ** (db / 20) * np.random.default_rng(8).standard_normal(48000 * 5)).astype(np.float32)
    assert len(onset_times(AudioAnalyzer(), noise)) <= 5  # about one in 1000 blocks


def test_white_noise_and_a_steady_tone_have_no_beat():
    rng = np.random.default_rng(3)
    noise = (0.1 * rng.standard_normal(48000 * 6)).astype(np.float32)
    for signal in (noise, sine(440, 6.0)):
        history = feed(AudioAnalyzer(), signal)
        assert history[-1]["bpm"] == 0.0
        assert sum(f["beat"] for f in history) == 0
