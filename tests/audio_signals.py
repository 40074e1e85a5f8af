"""Generated test material for the audio analysis: click tracks, drum loops, tones, bad input.

Every signal comes with its ground truth (onset times, beat times, BPM) computed from how it was
made, so tests and benchmarks check the analysis against an independent expectation. All
randomness is seeded: the same call gives the same samples.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Rhythm:
    """A generated rhythmic signal and what is known about it."""

    samples: np.ndarray  # float32 mono
    sample_rate: int
    bpm: float
    onsets: np.ndarray  # seconds, sorted, one per distinct event time
    beats: np.ndarray  # seconds


def _fade(sound: np.ndarray, sample_rate: int, seconds: float = 0.03) -> np.ndarray:
    """Fade the end out, so cutting a sound short does not add a click of its own."""
    n = min(len(sound), int(seconds * sample_rate))
    sound[len(sound) - n:] *= np.cos(np.linspace(0, np.pi / 2, n)) ** 2
    return sound


def _add(out: np.ndarray, sound: np.ndarray, start: int) -> None:
    end = min(len(out), start + len(sound))
    if start < end:
        out[start:end] += sound[: end - start]


def click(sample_rate: int, seconds: float = 0.02) -> np.ndarray:
    """A short decaying 1 kHz + noise click, like a metronome."""
    n = int(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    rng = np.random.default_rng(7)
    tone = np.sin(2 * np.pi * 1000 * t) + 0.3 * rng.standard_normal(n)
    return (np.exp(-t / 0.004) * tone).astype(np.float32)


def kick(sample_rate: int) -> np.ndarray:
    """A bass drum: a sine falling from 150 to 50 Hz, 0.4 s long."""
    t = np.arange(int(0.4 * sample_rate)) / sample_rate
    freq = 50 + 100 * np.exp(-t / 0.03)
    phase = 2 * np.pi * np.cumsum(freq) / sample_rate
    return _fade((np.sin(phase) * np.exp(-t / 0.08)).astype(np.float32), sample_rate)


def snare(sample_rate: int, seed: int = 1) -> np.ndarray:
    """A snare: a 190 Hz body plus noise (most of it under 8 kHz, like snare wires), 0.2 s long."""
    t = np.arange(int(0.2 * sample_rate)) / sample_rate
    white = np.random.default_rng(seed).standard_normal(len(t) + 3)
    taps = max(1, int(round(sample_rate / 12000)))  # a moving average: first null near 12 kHz
    noise = np.convolve(white, np.ones(taps) / np.sqrt(taps), mode="same")[: len(t)]
    body = 0.5 * np.sin(2 * np.pi * 190 * t) * np.exp(-t / 0.04)
    return _fade((0.7 * (body + 0.6 * noise * np.exp(-t / 0.06))).astype(np.float32), sample_rate)


def hat(sample_rate: int, open_: bool = False, seed: int = 2) -> np.ndarray:
    """A hi-hat: differentiated (high-passed) noise, closed 0.05 s or open 0.3 s."""
    seconds = 0.3 if open_ else 0.05
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    noise = np.random.default_rng(seed).standard_normal(len(t) + 1)
    bright = np.diff(noise) * 0.5
    return _fade((0.35 * bright * np.exp(-t / (0.1 if open_ else 0.012))).astype(np.float32), sample_rate)


# Drum patterns on a 16-step bar (16th notes): which steps each drum plays.
PATTERNS: dict[str, dict[str, tuple[int, ...]]] = {
    # rock beat: kick on 1 and 3, snare on 2 and 4, closed hats on every 8th
    "rock": {"kick": (0, 8), "snare": (4, 12), "hat": (0, 2, 4, 6, 8, 10, 12, 14)},
    # four on the floor with off-beat open hats
    "house": {"kick": (0, 4, 8, 12), "snare": (4, 12), "open_hat": (2, 6, 10, 14)},
    # a syncopated kick ("1, and-of-2, 3") with 16th hats
    "funk": {"kick": (0, 6, 8), "snare": (4, 12), "hat": tuple(range(16))},
    # half a breakbeat: kick 1 and and-of-3, snare 2 and 4, 8th hats
    "break": {"kick": (0, 10), "snare": (4, 12), "hat": (0, 2, 4, 6, 8, 10, 12, 14)},
}


def click_track(bpm: float, seconds: float, sample_rate: int = 48000, offset: float = 0.25,
                accent: bool = False) -> Rhythm:
    """A metronome at `bpm`, first click at `offset` seconds (louder on the bar if `accent`)."""
    out = np.zeros(int(seconds * sample_rate), np.float32)
    sound = click(sample_rate)
    period = 60.0 / bpm
    times = np.arange(offset, seconds - 0.05, period)
    for i, t in enumerate(times):
        gain = 1.0 if (not accent or i % 4 == 0) else 0.5
        _add(out, 0.5 * gain * sound, int(round(t * sample_rate)))
    return Rhythm(out, sample_rate, bpm, times, times)


def drum_loop(bpm: float, seconds: float, sample_rate: int = 48000, pattern: str = "rock",
              offset: float = 0.2, noise_db: float | None = None, seed: int = 0) -> Rhythm:
    """A drum loop on a 16-step grid at `bpm`; onsets are the distinct step times played.

    `noise_db` adds white noise at that level (dBFS RMS) under the drums.
    """
    steps = PATTERNS[pattern]
    out = np.zeros(int(seconds * sample_rate), np.float32)
    sounds = {"kick": kick(sample_rate), "snare": snare(sample_rate),
              "hat": hat(sample_rate), "open_hat": hat(sample_rate, open_=True)}
    gains = {"kick": 0.8, "snare": 0.6, "hat": 0.5, "open_hat": 0.4}
    step_s = 60.0 / bpm / 4
    onsets = []
    n_steps = int((seconds - offset - 0.05) / step_s)
    for i in range(max(n_steps, 0)):
        t = offset + i * step_s
        played = False
        for drum, where in steps.items():
            if i % 16 in where:
                _add(out, gains[drum] * sounds[drum], int(round(t * sample_rate)))
                played = True
        if played:
            onsets.append(t)
    if noise_db is not None:
        rng = np.random.default_rng(seed)
        out += (10 ** (noise_db / 20) * rng.standard_normal(len(out))).astype(np.float32)
    beats = offset + np.arange(0, max(n_steps, 0), 4) * step_s
    return Rhythm(out, sample_rate, bpm, np.asarray(onsets), beats)


def sine(freq: float, seconds: float, sample_rate: int = 48000, amplitude: float = 0.5) -> np.ndarray:
    """A pure tone."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def square(freq: float, seconds: float, sample_rate: int = 48000, drive: float = 4.0) -> np.ndarray:
    """A sine overdriven `drive` times and hard-clipped to +-1: a clipped square wave."""
    return np.clip(drive * sine(freq, seconds, sample_rate, 1.0), -1.0, 1.0).astype(np.float32)


def blocks(samples: np.ndarray, block: int):
    """Consecutive whole blocks of `samples` (a trailing partial block is dropped)."""
    for start in range(0, len(samples) - block + 1, block):
        yield samples[start:start + block]


def f_measure(detected, truth, tolerance: float = 0.025) -> float:
    """Onset F-measure: each true onset matches at most one detection within `tolerance` s."""
    detected = sorted(detected)
    truth = sorted(truth)
    used = [False] * len(detected)
    hits = 0
    j = 0
    for t in truth:
        while j < len(detected) and detected[j] < t - tolerance:
            j += 1
        k = j
        while k < len(detected) and detected[k] <= t + tolerance:
            if not used[k]:
                used[k] = True
                hits += 1
                break
            k += 1
    if not detected or not truth:
        return 1.0 if not detected and not truth else 0.0
    precision = hits / len(detected)
    recall = hits / len(truth)
    return 0.0 if hits == 0 else 2 * precision * recall / (precision + recall)


def write_audio(path, samples: np.ndarray, sample_rate: int, codec: str,
                layout: str | None = None) -> None:
    """Encode `samples` ([n] mono or [channels, n]) to `path` with PyAV (any codec it has).

    The container comes from the file name (.wav, .flac, .mp3, .ogg). FFmpeg's own Vorbis
    encoder takes stereo only.
    """
    import av  # only the file tests need it

    planes = np.atleast_2d(np.asarray(samples, np.float64))
    layout = layout or {1: "mono", 2: "stereo", 6: "5.1"}[planes.shape[0]]
    with av.open(str(path), "w") as container:
        options = {"strict": "experimental"} if codec == "vorbis" else {}
        stream = container.add_stream(codec, rate=sample_rate, layout=layout, options=options)
        fmt = stream.codec_context.format
        pts = 0
        for start in range(0, planes.shape[1], 1024):
            chunk = planes[:, start:start + 1024]
            if fmt.name.startswith("s16"):
                data = (np.clip(chunk, -1, 1) * 32767).astype(np.int16)
            elif fmt.name.startswith("s32"):
                data = (np.clip(chunk, -1, 1) * 2147483000).astype(np.int32)
            else:
                data = chunk.astype(np.float32)
            if not fmt.is_planar:
                data = data.T.reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(data), format=fmt.name, layout=layout)
            frame.sample_rate = sample_rate
            frame.pts = pts
            pts += chunk.shape[1]
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


class ClickPlayer:
    """Plays clicks into the default output (the null sink in tests and benchmarks) and says,
    in perf_counter time, when each click's first sample leaves for the sink (PortAudio's DAC
    time): `play()` returns it. A click is `pulse` samples at `level`, then silence up to
    `length` samples; `latency` is PortAudio's, in seconds or "high" (through ALSA's PulseAudio
    plugin "high" is no more than the default, 35 ms; 0.2 s keeps a player whose callback is
    late on a loaded machine from underrunning). `underflows` counts the callbacks PortAudio
    flagged as late (the sink may have lost what they carried)."""

    def __init__(self, sd, rate: int, pulse: int, level: float, length: int,
                 latency=None) -> None:
        import threading

        self.click = np.zeros((length, 2), np.float32)
        self.click[:pulse] = level
        self._wanted = threading.Event()
        self._position = None
        self.sent: list[float] = []
        self.underflows = 0
        options = {} if latency is None else {"latency": latency}
        self.stream = sd.OutputStream(samplerate=rate, channels=2, dtype="float32",
                                      callback=self._callback, **options)

    def _callback(self, outdata, frames, time_info, status) -> None:
        import time

        from liveGAN.pcm import PcmRing

        if status.output_underflow:
            self.underflows += 1
        outdata[:] = 0
        if self._position is None and self._wanted.is_set():
            self._wanted.clear()
            self._position = 0
            self.sent.append(PcmRing.capture_time(time.perf_counter(), self.stream.time,
                                                  time_info.outputBufferDacTime))
        if self._position is not None:
            part = self.click[self._position:self._position + frames]
            outdata[:len(part)] = part
            self._position += len(part)
            if self._position >= len(self.click):
                self._position = None

    def play(self, timeout: float = 5.0) -> float:
        """Play one click; its DAC time once the audio callback has scheduled it (raises
        TimeoutError when the callback never runs)."""
        import time

        count = len(self.sent)
        self._wanted.set()
        deadline = time.monotonic() + timeout
        while len(self.sent) == count:
            if time.monotonic() > deadline:
                raise TimeoutError("the audio output never asked for the click")
            time.sleep(0.0005)
        return self.sent[-1]
