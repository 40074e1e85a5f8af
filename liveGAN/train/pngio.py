"""A tiny PNG writer (zlib + struct), so training needs neither Pillow nor a display.

Place in the data flow: training (sample grids, curves) and the procedural data set ->
**PNG files** on disk. Written atomically (temp file + os.replace): a viewer that refreshes the
sample grid while training runs never reads half a file.
"""
from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

from liveGAN.files import write_bytes


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def encode_png(image: np.ndarray, level: int = 6) -> bytes:
    """PNG bytes of a uint8 image [H, W] (grey), [H, W, 3] (RGB) or [H, W, 4] (RGBA)."""
    image = np.ascontiguousarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"PNG writer needs uint8 pixels, got {image.dtype}")
    if image.ndim == 2:
        image = image[:, :, None]
    h, w, c = image.shape
    color_type = {1: 0, 3: 2, 4: 6}.get(c)
    if color_type is None:
        raise ValueError(f"PNG writer needs 1, 3 or 4 channels, got {c}")
    # Filter type 0 (none) on every row: simple, and zlib still compresses well.
    raw = np.concatenate([np.zeros((h, 1), np.uint8), image.reshape(h, w * c)], axis=1)
    header = struct.pack(">IIBBBBB", w, h, 8, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(raw.tobytes(), level)) + _chunk(b"IEND", b""))


def write_png(path, image: np.ndarray, level: int = 6) -> Path:
    """Write `image` (see encode_png) to `path` atomically; returns the path."""
    path = Path(path)
    data = encode_png(image, level)
    return write_bytes(path, data)
