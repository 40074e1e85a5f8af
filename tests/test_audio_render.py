"""`livegan render PATCH --audio SONG`: a patch played to a song, frame by frame, deterministic,
with the song as the video's sound. Songs are generated (tests/audio_signals.py) and written
with PyAV in every format and rate a user may bring; bad files get one clear message.
"""
from __future__ import annotations

import hashlib
import math

import av
import numpy as np
import pytest

from audio_signals import click_track, drum_loop, sine, square, write_audio
from conftest import FIXTURES
from liveGAN.audio.offline import analyse_file, analyse_samples
from liveGAN.cli import main
from liveGAN.show.options import RunOptions
from liveGAN.show.show import Show
from liveGAN.sources.audio import SongFeed
from liveGAN.standin import stand_in_bundle

MODEL = FIXTURES / "stylegan" / "sg2-tiny.safetensors"
CONDITIONAL = FIXTURES / "stylegan" / "sg2-cond.safetensors"
FPS = 15

PATCH = """
[model]
path = "{model}"
[latent]
walk = "noise"
seed = 3
speed = 0.3
avoid_dark = 0
[clock]
quantize = "off"
[output]
size = [32, 32]
fps = {fps}
[osc]
enabled = false
[[inputs]]
kind = "audio"
{mappings}
"""

MOVES = """
[[mappings]]
source = "audio/onset_strength"
target = "latent/pulse"
[[mappings]]
source = "audio/level"
target = "latent/motion"
range = [0.0, 2.0]
"""


def write_patch(tmp_path, mappings: str = MOVES, model=MODEL, name: str = "patch.toml"):
    path = tmp_path / name
    path.write_text(PATCH.format(model=model, fps=FPS, mappings=mappings))
    return path


def decoded(video) -> tuple[list[np.ndarray], np.ndarray | None, int]:
    """The video's frames, its sound (mono, the first channel) and the sound's rate."""
    with av.open(str(video)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    sound, rate = None, 0
    with av.open(str(video)) as container:
        if container.streams.audio:
            rate = container.streams.audio[0].sample_rate
            sound = np.concatenate([f.to_ndarray()[0] for f in container.decode(audio=0)])
    return frames, sound, rate


def digest(frames) -> list[str]:
    return [hashlib.sha256(f.tobytes()).hexdigest() for f in frames]


class Probe:
    """The values of every frame a show publishes (an offline show, on this thread), and
    what its update asked of the generator: truncation and walk phase."""

    def __init__(self, show) -> None:
        self.values: list[dict] = []
        self.truncation: list[float] = []
        self.phase: list[float] = []
        self.uniforms: list[tuple[float, float]] = []
        publish, update, view = show.link.publish, show.update, show.view_frame

        def keep(snapshot) -> None:
            self.values.append(dict(snapshot.values))
            publish(snapshot)

        def asked(dt):
            request = update(dt)
            self.truncation.append(request.truncation_psi)
            self.phase.append(show.latent.phase)
            return request

        def viewed(request) -> None:
            view(request)
            uniforms = show.view.uniforms
            self.uniforms.append((uniforms.level, uniforms.onset))

        show.link.publish, show.update, show.view_frame = keep, asked, viewed

    def column(self, key: str) -> np.ndarray:
        return np.array([v[key] for v in self.values])


def play(tmp_path, samples: np.ndarray, rate: int, mappings: str = MOVES, model=None,
         bundle=True) -> tuple[Probe, SongFeed]:
    """An offline show of the patch to `samples` (written as a WAV), probed frame by frame."""
    song = tmp_path / "song.wav"
    write_audio(song, samples, rate, "pcm_f32le")
    feed = SongFeed(analyse_file(song, FPS), song)
    patch = write_patch(tmp_path, mappings, model or MODEL)
    show = Show(patch, RunOptions(headless=True, offline=True, frames=feed.frames,
                                  watch=False, audio=feed),
                print_fn=lambda m: None, bundle=stand_in_bundle(16) if bundle else None)
    probe = Probe(show)
    show.run()
    return probe, feed


# -- the render command ------------------------------------------------------------------------

def test_a_render_to_a_song_is_deterministic_follows_it_and_carries_its_sound(tmp_path, capsys):
    loop = drum_loop(100.0, 4.0, 44100, "house")
    song = tmp_path / "loop.flac"
    write_audio(song, np.stack([loop.samples, loop.samples]), 44100, "flac")
    silent = tmp_path / "silent.flac"
    write_audio(silent, np.zeros((2, len(loop.samples))), 44100, "flac")
    patch = write_patch(tmp_path)

    def render(name: str, audio) -> list[np.ndarray]:
        out = tmp_path / name
        assert main(["render", str(patch), "--audio", str(audio), "--out", str(out),
                     "--seed", "5"]) == 0
        return out

    first, again, quiet = render("a.mkv", song), render("b.mkv", song), render("c.mkv", silent)
    said = capsys.readouterr()
    assert "100.0 BPM" in said.out and "render: 100%" in said.err
    frames, sound, rate = decoded(first)
    # the song's length (no --frames or --duration), frame for frame the same every time
    assert len(frames) == math.ceil(4.0 * FPS)
    assert digest(frames) == digest(decoded(again)[0])
    # ... and the song is what moves it: the same patch and seed to silence differ
    assert digest(frames) != digest(decoded(quiet)[0])
    # the song is the sound track, from the start, as long as the video
    assert sound is not None and rate == 48000
    assert len(sound) / rate == pytest.approx(4.0, abs=0.05)
    heard = analyse_samples(sound, rate, fps=FPS)
    assert heard.bpm == pytest.approx(100.0, abs=1.0)
    assert abs(heard.onsets[0] - loop.onsets[0]) < 0.03


@pytest.mark.parametrize("name, codec, rate, channels", [
    ("tone8k.wav", "pcm_s16le", 8000, 1),
    ("beat44.mp3", "libmp3lame", 44100, 2),
    ("beat48.ogg", "vorbis", 48000, 2),
    ("beat192.flac", "flac", 192000, 1),
    ("beat51.flac", "flac", 48000, 6),
])
def test_any_format_rate_and_layout_renders_with_its_sound(tmp_path, name, codec, rate,
                                                           channels):
    clicks = click_track(120.0, 1.5, rate).samples
    path = tmp_path / name
    write_audio(path, np.tile(clicks, (channels, 1)), rate, codec)
    out = tmp_path / "out.mkv"
    patch = write_patch(tmp_path)
    assert main(["render", str(patch), "--audio", str(path), "--out", str(out),
                 "--size", "16x16"]) == 0
    frames, sound, sound_rate = decoded(out)
    assert len(frames) == pytest.approx(1.5 * FPS, abs=1)   # MP3 and Vorbis pad a little
    assert sound is not None and np.abs(sound).max() > 0.05
    assert len(sound) / sound_rate == pytest.approx(len(frames) / FPS, abs=0.05)


def test_duration_and_frames_override_the_songs_length(tmp_path):
    song = tmp_path / "tone.wav"
    write_audio(song, sine(220.0, 2.0, 48000), 48000, "pcm_s16le")
    patch = write_patch(tmp_path)
    out = tmp_path / "long.mkv"
    # longer than the song: the sound ends with the song, the picture goes on at rest
    assert main(["render", str(patch), "--audio", str(song), "--out", str(out),
                 "--duration", "3"]) == 0
    frames, sound, rate = decoded(out)
    assert len(frames) == 3 * FPS and len(sound) / rate == pytest.approx(2.0, abs=0.05)
    out = tmp_path / "short.mkv"
    assert main(["render", str(patch), "--audio", str(song), "--out", str(out),
                 "--frames", "6"]) == 0
    frames, sound, rate = decoded(out)
    assert len(frames) == 6 and len(sound) / rate == pytest.approx(6 / FPS, abs=0.03)


@pytest.mark.parametrize("kind", ["corrupt", "empty", "zero-length", "not audio", "missing"])
def test_a_bad_song_gets_one_clear_message(tmp_path, capsys, kind):
    import wave

    path = tmp_path / {"corrupt": "song.mp3", "empty": "song.flac", "zero-length": "song.wav",
                       "not audio": "song.ogg", "missing": "nowhere.wav"}[kind]
    if kind == "corrupt":
        path.write_bytes(np.random.default_rng(5).integers(0, 256, 20000, np.uint8).tobytes())
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "zero-length":
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(48000)
    elif kind == "not audio":
        path.write_text("these are my notes, not a song\n" * 50)
    out = tmp_path / "out.mkv"
    assert main(["render", str(write_patch(tmp_path)), "--audio", str(path),
                 "--out", str(out)]) == 1
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and "Traceback" not in err, err
    assert not out.exists()


# -- what the show does with the song, frame by frame ------------------------------------------

def test_each_frame_gets_that_moment_of_the_song_and_the_moves_follow(tmp_path):
    loop = drum_loop(120.0, 3.0, 48000, "rock", offset=0.5)
    probe, feed = play(tmp_path, loop.samples, 48000)
    level = probe.column("audio/level")
    assert len(level) == feed.frames
    assert np.array_equal(level, feed.analysis.column("level").astype(np.float64))
    pulse, motion = probe.column("latent/pulse"), probe.column("latent/motion")
    first_hit = int(loop.onsets[0] * FPS)
    # at rest before the first hit, moved on the hits
    assert pulse[:first_hit - 1].max() == 0.0 and motion[:first_hit - 1].max() == 0.0
    onsets = np.flatnonzero(probe.column("audio/onset") > 0.5)
    assert len(onsets) >= len(loop.onsets) - 1
    # the mapping holds pulse at the onset's strength (which jumps on each hit and decays)
    assert np.allclose(pulse, probe.column("audio/onset_strength"))
    assert pulse[onsets].min() > 0.0 and pulse.max() > 0.8
    assert motion.max() > 0.5
    # pulse pushes W outward (truncation lifted), motion hurries the walk, frame by frame
    truncation = probe.column("latent/truncation")
    assert np.allclose(probe.truncation, np.minimum(truncation + 0.5 * pulse, 1.5))
    speed = probe.column("latent/speed")
    assert np.allclose(np.diff(probe.phase), (speed + motion)[1:] / FPS)
    # the shaders' u_level and u_onset (the onset's strength: a flash that decays)
    assert np.allclose(np.array(probe.uniforms), np.stack(
        [level, probe.column("audio/onset_strength")], axis=1), atol=1e-6)


def test_a_beat_steps_the_seed_and_the_clock_follows_the_song(tmp_path):
    track = click_track(120.0, 6.0, 48000, offset=0.25)
    mappings = ('[[mappings]]\nsource = "audio/beat"\ntarget = "latent/next_seed"\n')
    probe, feed = play(tmp_path, track.samples, 48000, mappings=mappings)
    seeds = probe.column("latent/seed")
    beats = int((probe.column("audio/beat") > 0.5).sum())
    assert beats == len(feed.analysis.beats) and abs(beats - len(track.beats)) <= 1
    assert seeds[-1] - seeds[0] == beats


def test_the_clock_follows_the_songs_beat(tmp_path):
    track = click_track(132.0, 6.0, 48000, offset=0.25)
    song = tmp_path / "clicks.wav"
    write_audio(song, track.samples, 48000, "pcm_s16le")
    patch = write_patch(tmp_path, mappings="")
    patch.write_text(patch.read_text().replace('[clock]\n', '[clock]\nsource = "audio"\n'))
    feed = SongFeed(analyse_file(song, FPS), song)
    show = Show(patch, RunOptions(headless=True, offline=True, frames=feed.frames, watch=False,
                                  audio=feed), print_fn=lambda m: None, bundle=stand_in_bundle(16))
    beats = []
    publish = show.link.publish
    show.link.publish = lambda s: (beats.append((s.time, s.bpm, s.beat)), publish(s))
    show.run()
    time, bpm, beat = beats[-1]
    assert bpm == pytest.approx(132.0, abs=1.0)
    # on the song's beats: the clock's beat is whole (phase 0) at the clicks
    for click in track.beats[2:-1]:
        frame = int(round(click * FPS))
        phase = beats[frame][2] % 1.0
        assert min(phase, 1 - phase) < 132 / 60 / FPS, (click, phase)


def test_chroma_blends_the_classes_of_a_conditional_model(tmp_path):
    song = np.concatenate([np.zeros(48000), sine(440.0, 2.0, 48000, 0.5)])  # silence, then A
    mappings = ('[[mappings]]\nsource = "audio/chroma_9"\ntarget = "model/class_mix"\n'
                '[params]\n"model/class_b" = 3\n')
    probe, feed = play(tmp_path, song, 48000, mappings=mappings, model=CONDITIONAL,
                       bundle=False)
    mix = probe.column("model/class_mix")
    assert mix[:FPS - 2].max() < 0.05          # silence: class 0
    assert mix[int(1.5 * FPS):].min() > 0.9     # an A sounds: class_b


@pytest.mark.parametrize("signal", ["silence", "clipped square", "dc offset"])
def test_hard_signals_give_finite_values_and_the_whole_render(tmp_path, signal):
    rate = 48000
    samples = {"silence": np.zeros(2 * rate, np.float32),
               "clipped square": square(110.0, 2.0, rate, drive=50.0),
               "dc offset": 0.6 + sine(300.0, 2.0, rate, 0.1)}[signal]
    probe, feed = play(tmp_path, samples, rate)
    assert len(probe.values) == feed.frames == 2 * FPS
    assert all(math.isfinite(v) for frame in probe.values for v in frame.values())
    if signal == "silence":
        assert probe.column("audio/silence")[FPS:].min() == 1.0
        assert probe.column("latent/pulse").max() == 0.0


def test_without_a_song_an_audio_patch_renders_with_its_moves_at_rest(tmp_path):
    patch = write_patch(tmp_path)
    out = tmp_path / "quiet.mkv"
    assert main(["render", str(patch), "--out", str(out), "--frames", "5"]) == 0
    frames, sound, _ = decoded(out)
    assert len(frames) == 5 and sound is None
