"""Reading audio files: any format FFmpeg knows (WAV, FLAC, MP3, OGG...), mixed to mono.

Place in the data flow: audio file -> **decode** -> the analyser (`offline.py`), the same one
that serves live input; and audio file -> **decode** (`FileSound`, mono or stereo) -> the sound
track of `livegan render --audio`. Decoding streams in chunks, so a long file is never held
twice.

Every failure - a missing, empty, corrupt or truncated file, a file without an audio stream, a
format FFmpeg cannot read - raises one `AudioFileError` that names the file and what was wrong.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import av
import numpy as np


class AudioFileError(ValueError):
    """A file that cannot be read as audio; the message names the file and the reason."""


def _fail(path: Path, what: str) -> AudioFileError:
    return AudioFileError(f"audio file {str(path)!r}: {what}")


def _open(path: Path):
    if not path.exists():
        raise _fail(path, "no such file")
    if path.is_dir():
        raise _fail(path, "is a folder, not a file")
    if path.stat().st_size == 0:
        raise _fail(path, "the file is empty (0 bytes)")
    try:
        return av.open(str(path))
    except av.error.FFmpegError as err:
        raise _fail(path, f"not a readable audio format ({err.strerror or type(err).__name__})") from err
    except OSError as err:
        raise _fail(path, f"cannot be opened ({err})") from err


def probe_rate(path: str | Path) -> int:
    """The sample rate of the file's first audio stream."""
    path = Path(path)
    with _open(path) as container:
        if not container.streams.audio:
            raise _fail(path, "has no audio stream")
        return int(container.streams.audio[0].codec_context.sample_rate or 0)


def iter_mono(path: str | Path, sample_rate: int | None = 48000) -> Iterator[np.ndarray]:
    """Decoded audio as float32 mono chunks at `sample_rate` (None: the file's own rate).

    Channels are mixed by their mean (as `AudioAnalyzer.process` mixes live input); a 5.1 file
    counts all six. Raises AudioFileError before the first chunk or at the chunk that fails.
    """
    for planes in _planes(Path(path), sample_rate, None):
        yield _to_mono(planes)


def iter_frames(path: str | Path, sample_rate: int, channels: int) -> Iterator[np.ndarray]:
    """Decoded audio as float32 [n, channels] chunks (channels 1 or 2) at `sample_rate`, the
    file's channels mixed down (or up) by FFmpeg: the sound `livegan render --audio` muxes.
    Raises AudioFileError as `iter_mono` does."""
    layout = {1: "mono", 2: "stereo"}[channels]
    for planes in _planes(Path(path), sample_rate, layout):
        yield np.ascontiguousarray(planes.T, dtype=np.float32)


def _planes(path: Path, sample_rate: int | None, layout: str | None) -> Iterator[np.ndarray]:
    """[channels, n] float planes at `sample_rate`, in `layout` (None: the file's own)."""
    container = _open(path)
    with container:
        if not container.streams.audio:
            kinds = sorted({s.type for s in container.streams}) or ["nothing"]
            raise _fail(path, f"has no audio stream (it holds {', '.join(kinds)})")
        stream = container.streams.audio[0]
        resampler = None
        produced = 0
        try:
            for frame in container.decode(stream):
                if resampler is None:
                    rate = sample_rate or frame.sample_rate
                    resampler = av.AudioResampler(format="fltp", layout=layout or frame.layout,
                                                  rate=rate)
                for out in resampler.resample(frame):
                    planes = out.to_ndarray()
                    produced += planes.shape[1]
                    yield planes
            if resampler is not None:
                for out in resampler.resample(None):
                    planes = out.to_ndarray()
                    produced += planes.shape[1]
                    yield planes
        except av.error.FFmpegError as err:
            where = f" after {produced} samples" if produced else ""
            raise _fail(path, f"decoding failed{where} ({err.strerror or type(err).__name__})") from err
        if produced == 0:
            raise _fail(path, "contains no decodable audio (zero length, or corrupt)")


def _to_mono(planes: np.ndarray) -> np.ndarray:
    """[channels, n] planar samples -> float32 [n], the mean of the channels."""
    planes = planes.astype(np.float32, copy=False)
    if planes.shape[0] == 1:
        return planes[0].copy()
    return planes.mean(axis=0, dtype=np.float32)


def decode_mono(path: str | Path, sample_rate: int | None = 48000) -> tuple[np.ndarray, int]:
    """The whole file as one float32 mono array, and its rate (see `iter_mono`)."""
    rate = sample_rate or probe_rate(path)
    chunks = list(iter_mono(path, rate))
    return np.concatenate(chunks), rate


class FileSound:
    """A file's sound for a video's track, decoded as the video is written: `until(n)` returns
    the chunks up to sample `n` as (samples [k, channels] float32, position) from position 0,
    back to back. Past the end of the file there is nothing more (the track ends there)."""

    def __init__(self, path: str | Path, sample_rate: int, channels: int) -> None:
        self.path = Path(path)
        self.position = 0
        self._chunks = iter_frames(self.path, sample_rate, channels)
        self._held: np.ndarray | None = None

    def until(self, end: int) -> list[tuple[np.ndarray, int]]:
        out = []
        while self.position < end:
            chunk = self._held if self._held is not None else next(self._chunks, None)
            self._held = None
            if chunk is None:
                break
            take = min(len(chunk), end - self.position)
            if take < len(chunk):
                self._held = chunk[take:]
            out.append((chunk[:take], self.position))
            self.position += take
        return out
