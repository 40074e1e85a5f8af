"""The recording's sound: the live audio input placed in the file at the show time it was heard.

Place in the data flow: audio input -> `liveGAN.pcm.PcmRing` -> **AudioTrack** (on the show's
thread, once per recorded frame) -> `Recorder.write_audio` -> the encoder thread muxes AAC next
to the video.

The video's frame i is the show at time i / fps, so a sample belongs at file time
`captured_at - started_at` (both `time.perf_counter()` seconds: the ring stamps each block, the
show's snapshot says when show time 0 was). The first block is placed exactly; after that the
samples run on back to back, because an audio clock is steadier than its block stamps (which
jitter by milliseconds). A smoothed measure of where the stamps say the samples belong catches
what really moves (the sound card's clock drifting from the computer's, a block the input lost)
and corrects it past `TOLERANCE_S`: silence where samples are missing, samples dropped where
there are too many. Before the audio input exists (or without one) the track is silence, so the
file plays everywhere and the sound lines up once it starts.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

TOLERANCE_S = 0.012     # corrected beyond this (under half a frame at 30 fps)
SMOOTHING = 0.05        # weight of each new block's stamp in the running offset estimate
JUMP = 4                # an error this many tolerances big is a real jump, corrected at once


class AudioTrack:
    """Turns the ring's samples into contiguous, time-placed chunks for the recorder."""

    def __init__(self, sample_rate: int, channels: int, log: Callable[[str], None]) -> None:
        self.sample_rate = sample_rate
        self.channels = channels
        self.log = log
        self.position = 0          # the next sample's place in the file (samples)
        self.inserted = 0          # silence added to keep sync (samples)
        self.dropped = 0           # samples left out to keep sync
        self._cursor: int | None = None
        self._offset: float | None = None   # smoothed (stamped place - running place), samples
        self._ring = None
        self._said_no_input = False
        self._said_rate = False

    def pull(self, ring, started_at: float, show_time: float) -> list[tuple[np.ndarray, int]]:
        """What to write for the show up to `show_time`: (samples frames x channels float32,
        file position) chunks. `ring` is the show's audio input (None: silence)."""
        if ring is not None and ring.sample_rate != self.sample_rate:
            if not self._said_rate:
                self._said_rate = True
                self.log(f"recording: the audio input runs at {ring.sample_rate} Hz, the "
                         f"recording's sound at {self.sample_rate} Hz; recording silence "
                         f"(set audio_rate = {ring.sample_rate})")
            ring = None
        if ring is None or started_at <= 0:
            if not self._said_no_input:
                self._said_no_input = True
                self.log("recording: no live audio input; the sound track is silent until "
                         "there is one")
            return self._silence_until(show_time)
        if ring is not self._ring:
            self._ring, self._cursor, self._offset = ring, None, None
        if self._cursor is None:
            # Start from the oldest sample the ring still has; what is before show time 0 is
            # dropped by the placement below.
            self._cursor = max(0, ring.written - ring.capacity)
        read = ring.read(self._cursor)
        self._cursor = read.start + len(read.samples)
        if len(read.samples) == 0:
            return []
        samples = read.samples
        if samples.shape[1] != self.channels:   # stereo input, mono track or the other way
            samples = samples.mean(axis=1, keepdims=True) if self.channels == 1 else \
                np.repeat(samples[:, :1], self.channels, axis=1)
        return self._place(samples, ring.time_of(read.start) - started_at)

    def _silence_until(self, show_time: float) -> list[tuple[np.ndarray, int]]:
        due = int(show_time * self.sample_rate)
        if due <= self.position:
            return []
        chunk = np.zeros((due - self.position, self.channels), np.float32)
        return [self._take(chunk)]

    def _place(self, samples: np.ndarray, start_time: float) -> list[tuple[np.ndarray, int]]:
        """Place `samples`, stamped as heard at show time `start_time`."""
        stamped = start_time * self.sample_rate
        if stamped + len(samples) <= 0:
            return []                      # all before the show began
        tolerance = TOLERANCE_S * self.sample_rate
        error = stamped - self.position
        first = self._offset is None
        if first or abs(error) > JUMP * tolerance:
            # The first block, or a real jump (lost input, a restarted stream): exactly where
            # it was heard, at once.
            self._offset, tolerance = error, 0.5
        else:
            self._offset += SMOOTHING * (error - self._offset)
        if self.position == 0 and stamped < 0:
            samples = samples[int(-stamped):]  # what was heard before the show began
            self._offset = 0.0
        chunks = []
        if self._offset > tolerance:       # samples are missing: fill the gap with silence
            gap = int(round(self._offset))
            chunks.append(self._take(np.zeros((gap, self.channels), np.float32)))
            self.inserted += 0 if first else gap   # the lead before the first sound is no fix
            self._offset -= gap
        elif self._offset < -tolerance:    # too many samples: leave the surplus out
            surplus = min(len(samples), int(round(-self._offset)))
            samples = samples[surplus:]
            self.dropped += surplus
            self._offset += surplus
        if len(samples):
            chunks.append(self._take(samples))
        return chunks

    def _take(self, samples: np.ndarray) -> tuple[np.ndarray, int]:
        chunk = (samples, self.position)
        self.position += len(samples)
        return chunk
