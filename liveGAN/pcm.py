"""Live audio shared between the audio input and the outputs that carry sound (the recorder,
NDI): a ring of the newest seconds of PCM, each block stamped with when it was captured.

Place in the data flow: audio input callback -> **PcmRing** -> sinks read it on their own pace.
The input (a source) makes one ring and offers it with `link.share_audio(ring)`; a sink finds
it with `link.audio()` (None while the show has no audio input).

The writer is the audio callback: `write` copies the block into preallocated memory and notes
its capture time, nothing else (no allocation, no logging). Each reader keeps its own cursor, a
sample count since the ring was made, so any number of sinks read the same audio
independently; a reader that falls more than the ring's length behind skips ahead (and is told
how many samples it lost).

Times are `time.perf_counter()` seconds, the clock the show's snapshot uses (`started_at` is
show time 0 on it), so a sink maps a sample to show time as `ring.time_of(i) - started_at`.
The capture time of a block is when its first sample reached the input: with sounddevice,
`time.perf_counter() - (stream.time - time_info.inputBufferAdcTime)` in the callback
(`capture_time` below does it).
"""
from __future__ import annotations

import threading
from typing import NamedTuple

import numpy as np

STAMPS = 4096   # capture times kept: one per block, far more blocks than the ring holds


class PcmRead(NamedTuple):
    """What one `read` returns: the samples (frames x channels float32, a copy), the index of
    the first one, and how many were skipped because the reader fell behind."""

    samples: np.ndarray
    start: int
    skipped: int


class PcmRing:
    """The newest `seconds` of `channels`-channel float32 audio at `sample_rate`."""

    def __init__(self, sample_rate: int, channels: int, seconds: float = 10.0) -> None:
        if sample_rate <= 0 or channels <= 0 or seconds <= 0:
            raise ValueError("a PCM ring needs a positive sample rate, channel count and length")
        self.sample_rate = int(sample_rate)
        self.channels = int(channels)
        self.capacity = int(round(seconds * sample_rate))
        self._data = np.zeros((self.capacity, self.channels), np.float32)
        self._stamp_index = np.zeros(STAMPS, np.int64)
        self._stamp_time = np.zeros(STAMPS, np.float64)
        self._stamps = 0
        self._written = 0
        self._lock = threading.Lock()

    # -- the audio input's side -------------------------------------------------------------

    def write(self, block: np.ndarray, captured_at: float) -> None:
        """Append `block` (frames x channels, or frames for mono), whose first sample was
        captured at `captured_at` (perf_counter seconds). Extra channels are dropped, a mono
        block fills every channel."""
        frames = len(block)
        if frames == 0:
            return
        if block.ndim == 1:
            block = block[:, None]
        if frames > self.capacity:            # only the newest part fits
            captured_at += (frames - self.capacity) / self.sample_rate
            block = block[-self.capacity:]
            frames = self.capacity
        with self._lock:
            start = self._written % self.capacity
            first = min(frames, self.capacity - start)
            width = min(self.channels, block.shape[1])
            self._data[start:start + first, :width] = block[:first, :width]
            self._data[:frames - first, :width] = block[first:, :width]
            if width < self.channels:
                self._data[start:start + first, width:] = block[:first, :1]
                self._data[:frames - first, width:] = block[first:, :1]
            slot = self._stamps % STAMPS
            self._stamp_index[slot] = self._written
            self._stamp_time[slot] = captured_at
            self._stamps += 1
            self._written += frames

    @staticmethod
    def capture_time(now: float, stream_time: float, adc_time: float) -> float:
        """The perf_counter time of a sounddevice block's first sample, from the callback's
        `time.perf_counter()` (`now`), `stream.time` and `time_info.inputBufferAdcTime`.
        A host that reports no ADC time (0) gets `now`."""
        if adc_time <= 0 or stream_time <= 0:
            return now
        return now - (stream_time - adc_time)

    # -- the sinks' side ----------------------------------------------------------------------

    @property
    def written(self) -> int:
        """Samples written since the ring was made (a new reader starts its cursor here)."""
        return self._written

    def read(self, cursor: int, most: int | None = None) -> PcmRead:
        """The samples from `cursor` up to the newest (at most `most` of them)."""
        with self._lock:
            end = self._written
            oldest = max(0, end - self.capacity)
            skipped = max(0, oldest - cursor)
            start = max(cursor, oldest)
            if most is not None:
                end = min(end, start + max(0, most))
            count = max(0, end - start)
            out = np.empty((count, self.channels), np.float32)
            first = start % self.capacity
            head = min(count, self.capacity - first)
            out[:head] = self._data[first:first + head]
            out[head:] = self._data[:count - head]
        return PcmRead(out, start, skipped)

    def time_of(self, index: int) -> float:
        """When sample `index` was captured (perf_counter seconds), from the stamp of the block
        it is in (or the nearest one kept)."""
        with self._lock:
            kept = min(self._stamps, STAMPS)
            if kept == 0:
                raise ValueError("nothing has been written to the ring yet")
            slots = (np.arange(kept) + (self._stamps - kept)) % STAMPS
            indices = self._stamp_index[slots]
            times = self._stamp_time[slots]
        position = int(np.searchsorted(indices, index, side="right")) - 1
        position = min(max(position, 0), kept - 1)
        return float(times[position] + (index - indices[position]) / self.sample_rate)
