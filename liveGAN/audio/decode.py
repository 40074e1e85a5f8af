"""Reading audio files: any format FFmpeg knows (WAV, FLAC, MP3, OGG...), mixed to mono.

Place in the data flow: audio file -> **decode** -> the analyser (`offline.py`), the same one
that serves live input. Decoding streams in chunks, so a long file is never held twice.

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
    path = Path(path)
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
                    resampler = av.AudioResampler(format="fltp", layout=frame.layout, rate=rate)
                for out in resampler.resample(frame):
                    chunk = _to_mono(out.to_ndarray())
                    produced += len(chunk)
                    yield chunk
            if resampler is not None:
                for out in resampler.resample(None):
                    chunk = _to_mono(out.to_ndarray())
                    produced += len(chunk)
                    yield chunk
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
