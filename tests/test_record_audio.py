"""Recording with sound: the live audio input muxed in sync with the picture.

The sync test uses real parts end to end: a PulseAudio null sink (scripts/test.sh starts it), a
click played into it with sounddevice, its monitor captured by a sounddevice input stream into
the `PcmRing` the show offers its sinks, and at the moment the click leaves the player the
picture flashes (blackout off). The recording's sound and picture are decoded and the click is
measured against the flash. The ring and the placement of samples are tested on their own with
made-up blocks and stamps.
"""
from __future__ import annotations

import subprocess
import threading
import time

import av
import numpy as np
import pytest

from audio_signals import ClickPlayer
from conftest import wait_for
from liveGAN.pcm import PcmRing
from liveGAN.sinks.record_audio import TOLERANCE_S, AudioTrack

RATE = 48000


# -- the ring ---------------------------------------------------------------------------------

def test_the_ring_keeps_the_newest_samples_and_their_times():
    ring = PcmRing(1000, 2, seconds=1.0)
    for k in range(25):   # 2.5 s of 100-sample blocks: the ring wraps twice
        block = np.repeat(np.arange(k * 100, k * 100 + 100, dtype=np.float32)[:, None], 2, 1)
        ring.write(block, captured_at=50.0 + k * 0.1)
    assert ring.written == 2500
    read = ring.read(0)
    assert read.skipped == 1500 and read.start == 1500     # fell behind: the oldest kept
    assert (read.samples[:, 0] == np.arange(1500, 2500)).all()
    assert ring.time_of(1750) == pytest.approx(50.0 + 1.75)
    assert len(ring.read(2400, most=30).samples) == 30
    ring.write(np.ones(10, np.float32), captured_at=53.0)   # mono fills both channels
    assert (ring.read(2500).samples == 1).all()


# -- placing samples in the file ----------------------------------------------------------------

def feed(track: AudioTrack, ring: PcmRing, blocks, started_at: float = 100.0):
    """Write `blocks` (samples, capture time) and pull after each; the chunks, contiguous."""
    placed = []
    for samples, captured in blocks:
        ring.write(samples, captured)
        placed += track.pull(ring, started_at, show_time=captured - started_at)
    positions = [p for _, p in placed]
    lengths = [len(s) for s, _ in placed]
    assert positions == list(np.cumsum([0] + lengths[:-1])), "chunks must run back to back"
    return np.concatenate([s for s, _ in placed]) if placed else np.zeros((0, 1))


def blocks_of(seconds: float, start: float, jitter: float = 0.0, rate_error: float = 0.0,
              seed: int = 0):
    """10 ms blocks of a counter signal (sample k has value k), stamped at `start` + k/RATE,
    with random stamp jitter and a sound card running `rate_error` fast."""
    rng = np.random.default_rng(seed)
    out, n, size = [], 0, RATE // 100
    while n < seconds * RATE:
        stamp = start + n / (RATE * (1 + rate_error)) + rng.uniform(-jitter, jitter)
        out.append((np.arange(n, n + size, dtype=np.float32)[:, None], stamp))
        n += size
    return out


def test_the_first_sample_goes_where_it_was_heard_and_jitter_changes_nothing():
    ring, track = PcmRing(RATE, 1, seconds=4), AudioTrack(RATE, 1, log=lambda m: None)
    placed = feed(track, ring, blocks_of(3.0, start=100.25, jitter=0.004))
    # heard 0.25 s into the show: 0.25 s of silence, then every sample in order, none lost
    lead = int(0.25 * RATE)
    assert abs(np.argmax(placed[:, 0] > 0) - (lead + 1)) <= 0.004 * RATE + 1
    assert track.inserted == 0 and track.dropped == 0
    body = placed[np.argmax(placed[:, 0] > 0) - 1:, 0]
    assert (np.diff(body) == 1).all()


def test_audio_heard_before_the_show_started_is_left_out():
    ring, track = PcmRing(RATE, 1, seconds=4), AudioTrack(RATE, 1, log=lambda m: None)
    placed = feed(track, ring, blocks_of(1.0, start=99.5))
    assert placed[0, 0] == pytest.approx(0.5 * RATE, abs=1)


def test_a_sound_card_clock_that_drifts_is_kept_within_tolerance():
    ring, track = PcmRing(RATE, 1, seconds=4), AudioTrack(RATE, 1, log=lambda m: None)
    # 0.3% fast: over 20 s it would run 60 ms ahead of the picture
    placed = feed(track, ring, blocks_of(20.0, start=100.0, jitter=0.002, rate_error=0.003))
    assert track.dropped > 0.03 * RATE
    # where the last sample ended up vs when it was heard
    heard = 20.0 / 1.003 * RATE
    assert abs(len(placed) - heard) <= (TOLERANCE_S + 0.004) * RATE


def test_a_lost_block_becomes_silence_in_its_place():
    ring, track = PcmRing(RATE, 1, seconds=4), AudioTrack(RATE, 1, log=lambda m: None)
    blocks = blocks_of(2.0, start=100.0)
    del blocks[100:110]                       # 0.1 s the input never delivered
    placed = feed(track, ring, blocks)[:, 0]
    # the samples after the gap are at their own time again, the gap is silent
    after = int(np.argmax(placed == blocks[100][0][0, 0]))
    assert abs(after - int(blocks[100][0][0, 0])) <= TOLERANCE_S * RATE
    assert track.inserted >= 0.1 * RATE - TOLERANCE_S * RATE


def test_without_an_input_the_track_is_silence_said_once():
    said = []
    track = AudioTrack(RATE, 2, log=said.append)
    chunks = track.pull(None, 0.0, 0.5) + track.pull(None, 0.0, 1.0)
    assert sum(len(c) for c, _ in chunks) == RATE and all((c == 0).all() for c, _ in chunks)
    assert len(said) == 1 and "no live audio input" in said[0]


# -- the real thing: a click into PulseAudio, a flash on screen --------------------------------

def pulse_problem() -> str | None:
    try:
        import sounddevice  # noqa: F401
    except OSError as err:
        return f"sounddevice does not load: {err}"
    try:
        info = subprocess.run(["pactl", "info"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"pactl is not available: {err}"
    if info.returncode != 0:
        return "no PulseAudio server (scripts/test.sh starts one with a null sink)"
    return None


PATCH = """
[model]
preset = "stand-in"
[latent]
speed = 0.5
[output]
size = [128, 72]
fps = {fps}
window = false
[osc]
enabled = false
[params]
"output/blackout" = 1
[[outputs]]
kind = "record"
path = "show.mkv"
audio = true
"""


def decode_sound(path) -> tuple[np.ndarray, float]:
    """The file's sound as one mono array and the time (s) of its first sample."""
    with av.open(str(path)) as container:
        frames = list(container.decode(audio=0))
    first = frames[0]
    start = float(first.pts * first.time_base)
    samples = np.concatenate([f.to_ndarray().reshape(len(f.layout.channels), -1)[0]
                              for f in frames])
    return samples, start


def decode_brightness(path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.array([f.to_ndarray(format="rgb24").mean() for f in container.decode(video=0)])


def test_a_click_and_a_flash_stay_within_a_frame_in_the_recording(tmp_path):
    problem = pulse_problem()
    if problem:
        pytest.skip(problem)
    import sounddevice as sd

    from liveGAN.show.options import RunOptions
    from liveGAN.show.show import Show
    from liveGAN.standin import stand_in_bundle

    fps = 30
    (tmp_path / "patch.toml").write_text(PATCH.format(fps=fps))
    said: list[str] = []
    show = Show(tmp_path / "patch.toml", RunOptions(headless=True, no_osc=True, watch=False),
                print_fn=said.append, bundle=stand_in_bundle(32))
    ring = PcmRing(RATE, 2, seconds=8)

    backlog = [1.0]   # how long ago the newest block was captured, as PortAudio reports it
    overflows = [0]   # input blocks PortAudio says were lost

    def microphone(indata, frames, time_info, status) -> None:
        overflows[0] += bool(status.input_overflow)
        backlog[0] = listening.time - time_info.inputBufferAdcTime
        ring.write(indata, PcmRing.capture_time(time.perf_counter(), listening.time,
                                                time_info.inputBufferAdcTime))

    listening = sd.InputStream(samplerate=RATE, channels=2, dtype="float32",
                               callback=microphone)
    # 1 ms pulse, 0.2 s of output buffer: a player that underruns can lose its click (seen in
    # clean-clone runs with the default 35 ms; the DAC time it reports includes the buffer)
    player = ClickPlayer(sd, RATE, pulse=48, level=0.9, length=RATE // 100, latency=0.2)
    show.link.share_audio(ring)
    thread = threading.Thread(target=show.run)
    events = []      # (click DAC time in show seconds, show time of the first bright frame)
    with listening, player.stream:
        thread.start()
        assert wait_for(lambda: show.link.snapshot().frame > 15, 60)
        # While the show starts, the input's callbacks wait and PulseAudio piles up a backlog
        # (then drops it): the clicks come once the input delivers what it hears now.
        assert wait_for(lambda: backlog[0] < 0.05, 30)
        for _ in range(3):
            time.sleep(0.6)
            started_at = show.link.snapshot().started_at
            dac = player.play()
            while time.perf_counter() < dac:   # flash exactly when the click is heard
                pass
            show.inbox.post("/livegan/output/blackout", 0)
            assert wait_for(lambda: show.link.snapshot().values["output/blackout"] == 0, 5,
                            0.001)
            events.append((dac - started_at, show.link.snapshot().time))
            time.sleep(0.6)
            show.inbox.post("/livegan/output/blackout", 1)
            assert wait_for(lambda: show.link.snapshot().values["output/blackout"] == 1, 5)
        time.sleep(0.5)
        show.stop()
        thread.join(60)

    sound, sound_start = decode_sound(tmp_path / "show.mkv")
    brightness = decode_brightness(tmp_path / "show.mkv")
    loud = np.abs(sound) > 0.3
    clicks = [i for i in np.nonzero(loud)[0] if i == 0 or not loud[max(0, i - 2400):i].any()]
    click_times = [sound_start + i / RATE for i in clicks]
    bright = brightness > brightness.max() / 2
    flashes = [k / fps for k in np.nonzero(bright[1:] & ~bright[:-1])[0] + 1]
    assert len(click_times) == 3 and len(flashes) == 3, (
        click_times, flashes, f"player underflows {player.underflows}, input overflows "
        f"{overflows[0]}", said)

    frame = 1.0 / fps
    raw, placement = [], []
    for click_file, flash_file, (dac, shown) in zip(click_times, flashes, events):
        # The sound: the click is in the file at the show time it was played (and heard).
        placement.append(click_file - dac)
        # The picture: the frame that first showed the flash (show time `shown`) is in the
        # file at its own time; frames before it may repeat it when the show ran late, which
        # is the video's policy, not the muxing's.
        slot = round(shown * fps)
        assert bright[slot], (slot, flash_file)
        # Together: the click and that frame are as far apart in the file as they were in
        # the show, up to the frame grid (half a frame) and the sound's placement.
        assert abs((click_file - slot / fps) - (dac - shown)) <= frame
        raw.append(click_file - flash_file)
    assert max(abs(p) for p in placement) <= frame, placement
    print(f"click - flash as recorded: {[round(r * 1000, 1) for r in raw]} ms; "
          f"click placed vs played: {[round(p * 1000, 1) for p in placement]} ms")
