"""Offline analysis of real files written with PyAV: formats, rates, channels, bad files."""
from __future__ import annotations

import json

import numpy as np
import pytest

from audio_signals import click_track, drum_loop, f_measure, sine, write_audio
from liveGAN.audio.decode import AudioFileError, decode_mono
from liveGAN.audio.offline import analyse_file, analyse_samples, summary


@pytest.fixture(scope="module")
def loop_wav(tmp_path_factory):
    """A 6 s rock loop at 96 BPM, 48 kHz mono 16-bit WAV, and its ground truth."""
    loop = drum_loop(96.0, 6.0, pattern="rock")
    path = tmp_path_factory.mktemp("audio") / "loop.wav"
    write_audio(path, loop.samples, 48000, "pcm_s16le")
    return path, loop


def test_summary_of_a_drum_loop(loop_wav):
    path, loop = loop_wav
    result = summary(path)
    assert json.loads(json.dumps(result)) == result  # JSON-able as is
    assert result["duration"] == pytest.approx(6.0, abs=0.01)
    assert abs(result["bpm"] - 96.0) <= 1.0
    assert f_measure(result["onsets"], loop.onsets, 0.025) >= 0.95
    assert f_measure(result["beats"], loop.beats, 0.05) >= 0.9


def test_per_frame_features_line_up_with_the_audio(loop_wav):
    path, loop = loop_wav
    fps = 30.0
    result = analyse_file(path, fps)
    assert result.frames == 180 and result.values.dtype == np.float32
    assert np.all(np.isfinite(result.values))
    onset_frames = set(np.flatnonzero(result.column("onset")))
    # Each true onset marks the frame nearest to it (give or take one for rounding).
    for t in loop.onsets:
        assert {round(t * fps) - 1, round(t * fps), round(t * fps) + 1} & onset_frames
    assert np.all(result.column("bpm") == pytest.approx(96.0, abs=1.0))
    phase = result.column("beat_phase")
    assert phase.min() >= 0.0 and phase.max() <= 1.0
    beat_frames = np.flatnonzero(result.column("beat"))
    assert len(beat_frames) >= 8
    # On a beat's frame the phase wraps (within a frame: 1/30 s is 5% of a 96 BPM beat), and
    # between two beats it only rises.
    for f, g in zip(beat_frames[:-1], beat_frames[1:]):
        assert min(phase[f], 1.0 - phase[f]) < 0.06
        inside = phase[f + 1:g]
        assert np.all(np.diff(inside) > 0)
    assert set(result.frame(0)) == set(result.names)


def test_same_input_gives_identical_output(loop_wav):
    path, _ = loop_wav
    first, second = analyse_file(path, 25.0), analyse_file(path, 25.0)
    assert np.array_equal(first.values, second.values)
    assert np.array_equal(first.onsets, second.onsets) and first.bpm == second.bpm


@pytest.mark.parametrize("name, codec, rate, channels", [
    ("tone8k.wav", "pcm_s16le", 8000, 1),
    ("tone44.mp3", "libmp3lame", 44100, 2),
    ("tone48.ogg", "vorbis", 48000, 2),
    ("tone192.flac", "flac", 192000, 1),
    ("tone51.flac", "flac", 48000, 6),
])
def test_formats_rates_and_channels(tmp_path, name, codec, rate, channels):
    tone = sine(440.0, 1.5, rate, amplitude=0.5)
    path = tmp_path / name
    write_audio(path, np.tile(tone, (channels, 1)), rate, codec)
    for analysis_rate in (48000, None):  # resampled to 48 kHz, or at the file's own rate
        result = analyse_file(path, 30.0, sample_rate=analysis_rate)
        assert result.sample_rate == (analysis_rate or rate)
        assert result.duration == pytest.approx(1.5, abs=0.06)  # MP3 and Vorbis pad a little
        middle = result.frame(result.frames // 2)
        assert int(np.argmax([middle[f"chroma_{i}"] for i in range(12)])) == 9
        assert middle["centroid_hz"] == pytest.approx(440.0, rel=0.05)
        assert middle["level_db"] == pytest.approx(-9.03, abs=0.6)  # same tone in every channel


def test_a_click_track_in_a_file_at_44k(tmp_path):
    track = click_track(150.0, 6.0, 44100)
    path = tmp_path / "clicks.flac"
    write_audio(path, track.samples, 44100, "flac")
    result = summary(path, sample_rate=None)
    assert result["sample_rate"] == 44100
    assert abs(result["bpm"] - 150.0) <= 1.0
    assert f_measure(result["onsets"], track.onsets, 0.025) >= 0.95


def test_silent_file(tmp_path):
    path = tmp_path / "silence.wav"
    write_audio(path, np.zeros(48000 * 2), 48000, "pcm_s16le")
    result = analyse_file(path, 30.0)
    assert np.all(np.isfinite(result.values))
    assert result.bpm == 0.0 and len(result.onsets) == 0 and len(result.beats) == 0
    assert result.column("silence")[-10:].min() == 1.0


def test_nan_samples_in_a_float_wav(tmp_path):
    tone = sine(440.0, 1.0)
    tone[1000:1200] = np.nan
    tone[5000] = np.inf
    path = tmp_path / "nan.wav"
    write_audio(path, tone, 48000, "pcm_f32le")
    result = analyse_file(path, 30.0)
    assert np.all(np.isfinite(result.values))


@pytest.mark.parametrize("bpm, pattern",
                         [(80.0, "rock"), (123.4, "break"), (160.0, "funk"), (140.0, "click")])
def test_global_tempo_without_octave_errors(bpm, pattern):
    # The break at 123.4 BPM (a kick on beat 1 but only a hi-hat on beat 3) over 12 s is the
    # case that reads at half tempo if the octave check took the median of each half.
    signal = click_track(bpm, 8.0) if pattern == "click" else drum_loop(bpm, 12.0, pattern=pattern)
    result = analyse_samples(signal.samples, 48000)
    assert abs(result.bpm - bpm) <= 1.0
    assert f_measure(result.beats, signal.beats, 0.05) >= 0.9


def test_noise_has_no_global_tempo():
    noise = 0.1 * np.random.default_rng(4).standard_normal(48000 * 8)
    result = analyse_samples(noise.astype(np.float32), 48000)
    assert result.bpm == 0.0 and len(result.beats) == 0
    assert np.all(result.column("beat") == 0) and np.all(result.column("bpm") == 0)


def test_samples_in_memory_at_any_rate():
    loop = drum_loop(120.0, 5.0, sample_rate=44100, pattern="house")
    result = analyse_samples(np.stack([loop.samples, loop.samples], axis=1), 44100, fps=24.0)
    assert abs(result.bpm - 120.0) <= 1.0
    assert result.frames == 120
    with pytest.raises(ValueError):
        analyse_samples(loop.samples, 44100, fps=0.0)


# -- bad files: one clear AudioFileError naming the file ---------------------------------------

def _expect_error(path, words: str) -> None:
    with pytest.raises(AudioFileError) as err:
        analyse_file(path, 30.0)
    assert str(path) in str(err.value)
    assert words in str(err.value)


def test_missing_file(tmp_path):
    _expect_error(tmp_path / "nothing-here.wav", "no such file")


def test_folder(tmp_path):
    _expect_error(tmp_path, "folder")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.mp3"
    path.write_bytes(b"")
    _expect_error(path, "empty")


@pytest.mark.parametrize("seed", [5, 6])
def test_corrupt_file(tmp_path, seed):
    path = tmp_path / "noise.flac"
    path.write_bytes(np.random.default_rng(seed).integers(0, 256, 20000, dtype=np.uint8).tobytes())
    with pytest.raises(AudioFileError) as err:
        analyse_file(path, 30.0)
    # FFmpeg either refuses the bytes or finds a stream in them that decodes to nothing.
    assert str(path) in str(err.value)
    assert "not a readable audio format" in str(err.value) or "no decodable audio" in str(err.value)


def test_text_file_is_an_unsupported_format(tmp_path):
    path = tmp_path / "notes.ogg"
    path.write_text("these are my notes, not a song\n" * 50)
    _expect_error(path, "not a readable audio format")


def test_zero_length_audio(tmp_path):
    import wave

    path = tmp_path / "zero.wav"
    with wave.open(str(path), "wb") as out:  # a valid WAV header with no frames
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(48000)
    _expect_error(path, "no decodable audio")


def test_file_without_audio(tmp_path):
    import av

    path = tmp_path / "video.mkv"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    _expect_error(path, "no audio stream")


def test_decode_mono_mixes_channels_by_their_mean(tmp_path):
    left, right = sine(440.0, 0.5, amplitude=0.8), np.zeros(24000, np.float32)
    path = tmp_path / "left.wav"
    write_audio(path, np.stack([left, right]), 48000, "pcm_f32le")
    mono, rate = decode_mono(path)
    assert rate == 48000 and len(mono) == 24000
    assert np.abs(mono).max() == pytest.approx(0.4, abs=0.01)
