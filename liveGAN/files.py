"""Writing what the user keeps (models, checkpoints, pictures, patches) so it is never half-written.

Everything goes to a temporary file in the same folder, reaches the disk, and is renamed over the
target in one step: a crash or a reader at any moment sees the old file or the new one, whole.
"""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; write it inside the block. On success it is
    synced and renamed onto `path`; on any failure it is removed and `path` is untouched."""
    path = Path(path)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        # mkstemp makes owner-only files; what we write is an ordinary user file.
        os.chmod(tmp, 0o644)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write `text` (UTF-8) to `path` atomically."""
    return write_bytes(path, text.encode("utf-8"))


def write_png(path: str | os.PathLike, image) -> Path:
    """Write a uint8 image [H, W] (grey), [H, W, 3] (RGB) or [H, W, 4] (RGBA) to `path` as PNG
    (Pillow), atomically: a viewer refreshing the file while training runs never reads half a
    picture."""
    import numpy as np
    from PIL import Image

    pixels = np.ascontiguousarray(image)
    if pixels.dtype != np.uint8:
        raise ValueError(f"PNG needs uint8 pixels, got {pixels.dtype}")
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    if not (pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[2] in (3, 4))):
        raise ValueError(f"PNG needs [H, W], [H, W, 3] or [H, W, 4] pixels, got {pixels.shape}")
    with atomic_path(path) as tmp:
        Image.fromarray(pixels).save(tmp, format="PNG")
    return Path(path)
