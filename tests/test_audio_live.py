"""The audio input live, with real parts: sound played by another process (paplay) into a
PulseAudio null sink is heard through PortAudio by the show's `[[inputs]] kind = "audio"`.

The drum loop's onsets and tempo are known from how it was made (tests/audio_signals.py); the
show's own values (its published snapshots) and its recording are checked against them. A
device that is missing, or that goes away and comes back, never stops the show.
"""
from __future__ import annotations

import threading
import time

import av
import numpy as np
import pytest

from audio_signals import drum_loop, f_measure, sine, write_audio
from conftest import wait_for
from liveGAN.show.options import RunOptions
from liveGAN.show.show import Show
from liveGAN.sources import audio
from liveGAN.standin import stand_in_bundle

RATE = 48000
BPM = 100.0

PATCH = """
[model]
preset = "stand-in"
[latent]
walk = "still"
[clock]
bpm = 120
source = "audio"
[output]
size = [64, 36]
fps = 30
window = false
[osc]
enabled = false
[[inputs]]
kind = "audio"
device = "{device}"
trigger_hold = 0.12
poll = 0.2
[[mappings]]
source = "audio/onset"
target = "latent/next_seed"
[[mappings]]
source = "audio/onset_strength"
target = "latent/pulse"
{extra}
"""

RECORD = """
[[outputs]]
kind = "record"
path = "show.mkv"
audio = true
"""


class Watch:
    """Every snapshot the show publishes (polled from another thread, as OSC feedback or a
    HUD would read them): (show time, values)."""

    def __init__(self, show) -> None:
        self.show = show
        self.seen: list[tuple[float, dict]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        last = -1
        while not self._stop.is_set():
            snapshot = self.show.link.snapshot()
            if snapshot.frame != last:
                last = snapshot.frame
                self.seen.append((snapshot.time, dict(snapshot.values)))
            time.sleep(0.002)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def column(self, key: str) -> np.ndarray:
        return np.array([values[key] for _, values in self.seen])

    def times(self) -> np.ndarray:
        return np.array([t for t, _ in self.seen])


def start(tmp_path, device: str = "pulse", extra: str = ""):
    (tmp_path / "patch.toml").write_text(PATCH.format(device=device, extra=extra))
    said: list[str] = []
    show = Show(tmp_path / "patch.toml", RunOptions(headless=True, no_osc=True, watch=False),
                print_fn=said.append, bundle=stand_in_bundle(32))
    return show, said


def test_a_drum_loop_is_heard_live_onsets_tempo_moves_and_the_recording(
        pulse_server, tmp_path, show_thread):
    loop = drum_loop(BPM, 14.0, RATE, "rock")
    wav = tmp_path / "loop.wav"
    write_audio(wav, loop.samples, RATE, "pcm_s16le")
    show, said = start(tmp_path, extra=RECORD)
    with show_thread(show):
        source = show.source("AudioSource")
        assert source is not None, said
        # PulseAudio takes a moment to start delivering a new recording stream.
        assert wait_for(lambda: source.blocks > 50, 60), said
        watch = Watch(show)
        time.sleep(0.5)
        seed_before = show.link.snapshot().values["latent/seed"]
        player = pulse_server.play(wav)
        assert player.wait(60) == 0
        time.sleep(1.0)
        watch.stop()
        final = show.link.snapshot()
    assert not any("Traceback" in line for line in said), said

    # Onsets: each one the show saw (a rising edge of audio/onset in its values) against the
    # loop's, after lining up the loop's start with the show's clock.
    onset = watch.column("audio/onset")
    times = watch.times()
    edges = times[1:][(onset[1:] >= 0.5) & (onset[:-1] < 0.5)]
    assert len(edges) > 10, (len(edges), said)
    rough = edges[0] - loop.onsets[0]
    offset = rough + float(np.median([e - rough - loop.onsets[np.argmin(np.abs(
        loop.onsets - (e - rough)))] for e in edges]))
    score = f_measure(edges - offset, loop.onsets, tolerance=0.1)
    # On failure, every edge (not numpy's elided print) and what the machine lost: late show
    # frames and input overruns tell a stall from a detection miss.
    assert score >= 0.9, (f"f-measure {score:.3f}; edges at "
                          + " ".join(f"{e:.2f}" for e in edges - offset)
                          + f"; late frames {show.clock.late_frames}, overruns {source.overruns}"
                          + f", samples skipped {source.skipped}; said: " + " | ".join(said))
    # ... and each one stepped the seed (a param -> trigger mapping fires on the rising edge).
    steps = final.values["latent/seed"] - seed_before
    assert abs(steps - len(loop.onsets)) <= 2, (steps, len(loop.onsets), source.overruns)

    # Tempo: the analysis locked on the loop, and the show's clock follows it ([clock] source).
    assert abs(final.values["audio/bpm"] - BPM) <= 1.0, final.values["audio/bpm"]
    assert abs(final.bpm - BPM) <= 1.0, final.bpm
    assert any("following the audio tempo" in line for line in said), said

    # A mapped parameter moved with the sound and rests at 0 in silence.
    pulse = watch.column("latent/pulse")
    before = times < edges[0] - 0.05
    assert before.any() and pulse[before].max() == 0.0
    assert pulse.max() > 0.3

    # The recording carries what the input heard, in time: its sound has the loop's tempo
    # and onsets (within the recorder's sync corrections, a few tens of ms).
    with av.open(str(tmp_path / "show.mkv")) as container:
        sound = np.concatenate([f.to_ndarray()[0] for f in container.decode(audio=0)])
        rate = container.streams.audio[0].sample_rate
    from liveGAN.audio.offline import analyse_samples

    heard = analyse_samples(sound, rate, fps=30)
    assert abs(heard.bpm - BPM) <= 1.0, heard.bpm
    # The lead (the loop's start in the recording) from whichever of the first heard onsets
    # lines the rest up best: a sync correction early in a loaded run (tens of ms) or a click
    # where the recording starts must not decide it alone.
    score = max(f_measure(heard.onsets - (first - loop.onsets[0]), loop.onsets, tolerance=0.06)
                for first in heard.onsets[:3])
    assert score >= 0.95, (score, heard.onsets[:6])

    # The performance log beside the recording holds what the input posted: a replay plays
    # the same values, seeds and tempo (the clock following the audio beat) at every frame.
    from liveGAN.show.performance import Replay

    replay = Replay(tmp_path / "show.livegan.jsonl.gz")
    try:
        Show(replay.patch(), replay.options(record=tmp_path / "again.mkv"),
             print_fn=lambda m: None, bundle=stand_in_bundle(32)).run()
    finally:
        replay.close()
    assert replay.frames > 300 and replay.mismatches == 0, replay.summary()


def test_a_missing_device_is_said_once_and_the_show_plays_silent(tmp_path, show_thread):
    show, said = start(tmp_path, device="no such sound card 7")
    with show_thread(show):
        frame = show.clock.frame
        assert wait_for(lambda: show.clock.frame > frame + 20, 60)
        time.sleep(1.0)   # several looks for the device (poll = 0.2 s)
        values = show.link.snapshot().values
    missing = [line for line in said if "no input device 'no such sound card 7'" in line]
    assert len(missing) == 1 and "inputs:" in missing[0], said
    assert values["audio/level"] == 0.0 and values["audio/silence"] == 1.0
    assert values["audio/level_db"] == -120.0 and values["latent/pulse"] == 0.0
    assert all(np.isfinite(v) for v in values.values())


def test_a_device_that_goes_away_and_comes_back_is_heard_again(pulse_server, tmp_path,
                                                               show_thread):
    tone = tmp_path / "tone.wav"
    write_audio(tone, sine(440.0, 2.5, RATE, amplitude=0.5), RATE, "pcm_s16le")
    show, said = start(tmp_path)

    def loud() -> bool:
        return show.link.snapshot().values["audio/level_db"] > -20.0

    try:
        with show_thread(show):
            source = show.source("AudioSource")
            assert wait_for(lambda: source.blocks > 50, 60), said
            player = pulse_server.play(tone)
            assert wait_for(loud, 30), said
            player.wait(30)
            # The sound server goes away: said once, the params rest, the show plays on.
            pulse_server.stop()
            assert wait_for(lambda: any("stopped delivering" in m for m in said), 30), said
            assert wait_for(lambda: show.link.snapshot().values["audio/silence"] == 1.0, 10)
            frame = show.clock.frame
            assert wait_for(lambda: show.clock.frame > frame + 10, 30)
            # It comes back: taken up again, and heard.
            pulse_server.start()
            assert wait_for(lambda: any("is back" in m for m in said), 60), said
            before = source.blocks
            assert wait_for(lambda: source.blocks > before + 50, 60), "\n".join(said)
            player = pulse_server.play(tone)
            assert wait_for(loud, 30), "\n".join(said)
            player.wait(30)
    finally:
        if pulse_server.process is None:
            pulse_server.start()
    assert sum("stopped delivering" in m for m in said) == 1, said


def test_a_lost_device_rests_at_silence_before_its_slow_close():
    """A stand-in stream whose abort() takes a while (closing a device whose sound server has
    gone can, and that cannot be made to happen on demand here): the params must rest at
    silence before the close, not hold the last sound heard until it returns."""

    source = audio.AudioSource({"device": "default"})
    posted: dict[str, float] = {}
    source._post = lambda address, value: posted.__setitem__(address, value) or True
    source._out[source.names.index("level")] = 0.8
    source._publish(0.0)
    assert posted["/audio/level"] == pytest.approx(0.8)
    seen_at_close = []

    class SlowStream:
        def abort(self):
            seen_at_close.append(posted["/audio/level"])
            time.sleep(0.2)

        def close(self):
            pass

    source._stream = SlowStream()
    with audio._streams_lock:
        audio._open_streams += 1     # as _start_stream counts a real one
    source._lose()
    assert seen_at_close == [0.0] and posted["/audio/silence"] == 1.0
    assert source._stream is None


def test_a_close_that_hangs_is_left_behind_and_the_input_goes_on(monkeypatch):
    """A stand-in stream whose abort() does not return until released (a sound server that
    has gone can hang PortAudio's close; that cannot be made to happen on demand here): the
    input waits CLOSE_WAIT_S, says so in one line, and is free to look for the device again;
    the stream counts as open until the close does return."""

    monkeypatch.setattr(audio, "CLOSE_WAIT_S", 0.3)
    source = audio.AudioSource({"device": "default"})
    logged: list[str] = []
    source._log = lambda kind, message: logged.append(message)
    release = threading.Event()

    class HangingStream:
        def abort(self):
            release.wait(30)

        def close(self):
            pass

    source._stream, source.device_name = HangingStream(), "Gone Card"
    with audio._streams_lock:
        before = audio._open_streams
        audio._open_streams += 1     # as _start_stream counts a real one
    started = time.perf_counter()
    source._lose()
    waited = time.perf_counter() - started
    assert 0.3 <= waited < 5.0 and source._stream is None and not source.listening
    assert len(logged) == 1 and "'Gone Card'" in logged[0] and "going on" in logged[0], logged
    assert audio._open_streams == before + 1        # PortAudio still holds it
    release.set()
    assert wait_for(lambda: audio._open_streams == before, 5)


class Stream:
    time = 0.0


BLOCK = np.zeros((512, 2), np.float32)
TIMES = type("T", (), {"inputBufferAdcTime": 0.0})()


def test_overruns_are_counted_in_the_callback_not_printed(capsys):
    import sounddevice as sd

    from liveGAN.pcm import PcmRing
    from liveGAN.sources.audio import AudioSource

    source = AudioSource({"device": "default"})
    own = audio._Own(PcmRing(RATE, 2, 1.0))
    source._stream = own.stream = Stream()
    overflow = sd.CallbackFlags()
    overflow.input_overflow = True
    for flags in (overflow, sd.CallbackFlags(), overflow):
        source._callback(own, BLOCK, 512, TIMES, flags)
    assert source.overruns == 2 and own.ring.written == 3 * 512
    assert capsys.readouterr() == ("", "")


def test_a_stream_let_go_delivers_into_nothing():
    """Seen live: the stream being closed after its sound server died delivered one more
    block after it was let go (then failed on the missing stream, in PortAudio's thread).
    Its blocks belong to no ring: not the next stream's, timed by the next stream's clock."""
    import sounddevice as sd

    from liveGAN.pcm import PcmRing

    source = audio.AudioSource({"device": "default"})
    old, new = audio._Own(PcmRing(RATE, 2, 1.0)), audio._Own(PcmRing(RATE, 2, 1.0))
    old.stream = Stream()
    source._callback(old, BLOCK, 512, TIMES, sd.CallbackFlags())   # not yet the current one
    source._stream = new.stream = Stream()                       # the next stream is open
    source._callback(old, BLOCK, 512, TIMES, sd.CallbackFlags())
    assert old.ring.written == 0 and new.ring.written == 0 and source._last_block_at == 0.0
    source._callback(new, BLOCK, 512, TIMES, sd.CallbackFlags())  # the current one is heard
    assert new.ring.written == 512
    source._stream = None                                         # ... until it is let go too
    source._callback(new, BLOCK, 512, TIMES, sd.CallbackFlags())
    assert old.ring.written == 0 and new.ring.written == 512


def test_a_show_whose_sound_server_froze_still_quits(pulse_server, tmp_path):
    """A sound server that stops answering while the show listens (SIGSTOP: frozen, as a hung
    server is). Closing its stream then takes seconds, or hangs for good (the next test); the
    show plays on, and `livegan run` still ends when its time is up, with its own status."""
    import signal
    import subprocess
    import sys

    patch = PATCH.format(device="pulse", extra="").replace('"stand-in"', '"sg2-tiny"')
    (tmp_path / "patch.toml").write_text(patch)   # the stand-in is for in-process shows only
    out = tmp_path / "out.txt"
    with open(out, "w") as sink:
        show = subprocess.Popen([sys.executable, "-m", "liveGAN.cli", "run", "patch.toml",
                                 "--headless", "--no-osc", "--no-watch", "--duration", "12"],
                                cwd=tmp_path, stdout=sink, stderr=subprocess.STDOUT)
    server = pulse_server.process
    try:
        assert wait_for(lambda: "listening to 'pulse'" in out.read_text()
                        or show.poll() is not None, 60) and show.poll() is None, out.read_text()
        time.sleep(1.0)
        server.send_signal(signal.SIGSTOP)
        try:
            status = show.wait(60)
        except subprocess.TimeoutExpired:
            show.kill()
            pytest.fail("the show did not quit: " + out.read_text())
    finally:
        server.send_signal(signal.SIGCONT)
        pulse_server.stop()     # its clients are in a state no other test should inherit
        pulse_server.start()
    said = out.read_text()
    assert status == 0, said
    assert "stopped delivering sound" in said, said
    assert "frames shown" in said, said   # it ended as a show ends, not cut short


HUNG_CLOSE = """
import atexit, sys, threading

# Registered before the guard, as a recording started before the audio input is.
atexit.register(lambda: print("the recording was finished", flush=True))
from liveGAN.sources import audio

audio.portaudio()   # PortAudio loaded: its shutdown is registered at exit, the guard after it
source = audio.AudioSource({"device": "default"})
never = threading.Event()


class Stuck:
    def abort(self):
        never.wait()

    def close(self):
        pass


source._stream = Stuck()
with audio._streams_lock:
    audio._open_streams += 1
source._close_stream()   # gives up waiting after CLOSE_WAIT_S; its thread waits on
print("the show went on", flush=True)
if sys.argv[1] == "status":
    audio.leave_now_if_a_close_hangs(3)   # what `livegan` does with its own status
sys.exit(0)
"""


@pytest.mark.parametrize("how, status", [("status", 3), ("at-exit", 1)])
def test_a_close_that_never_returns_does_not_keep_the_process(tmp_path, how, status):
    """The hang a CI run met (an hour, then killed), seen with gdb: a sound server died under
    a stream, libpulse deadlocked between its mainloop thread (pa_memimport_free) and
    PortAudio's (snd_pcm_status), so the close never returned; at exit sounddevice's handler
    ran Pa_Terminate, which closes that stream again and joined the deadlocked thread
    forever. That deadlock cannot be made on demand, so a stand-in stream whose abort() never
    returns takes its place here: the process must end anyway, saying why, with the status
    `livegan` gives (or 1 from the at-exit fallback, which cannot know the status)."""
    import subprocess
    import sys

    script = tmp_path / "hung_close.py"
    script.write_text(HUNG_CLOSE)
    result = subprocess.run([sys.executable, str(script), how], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == status, (result.stdout, result.stderr)
    assert "the show went on" in result.stdout
    assert "the recording was finished" in result.stdout   # the other at-exit handlers ran
    assert "1 sound device(s) never finished closing" in result.stderr, result.stderr
