"""Training data: a folder of images -> one compact uint8 cache -> batches in [-1, 1].

Place in the data flow: **image folder -> data cache** -> training loop. The folder is searched
recursively for jpg/jpeg/png/webp/bmp files of any size, aspect and mode (grey, RGB, RGBA).
Each is centre-cropped (or padded with black) to a square and resized to `res`; the result is
stored once as a `.npy` [N, res, res, 3] uint8 file keyed by the files' names, sizes and
modification times plus `res` and the fit mode, so a second run (or a resumed one) starts at once
and memory-maps it instead of decoding again. Unreadable files are skipped and reported by name.

Decoding uses pygame's image loader (SDL_image: png, jpg, bmp, webp) and falls back to PyAV
for anything pygame refuses; no extra dependency.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
MIN_IMAGES = 2  # fewer cannot fill a batch meaningfully; the user gets a clear error instead


class DataError(Exception):
    """A data folder that cannot be trained on; the message says why and where."""


def find_images(folder) -> list[Path]:
    """Image files under `folder` (recursive, sorted so the order is the same on every run)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder of images")
    return sorted(p for p in folder.rglob("*")
                  if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def _decode_pygame(path: Path) -> np.ndarray:
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    import pygame

    surface = pygame.image.load(str(path))
    rgb = pygame.surfarray.array3d(surface).transpose(1, 0, 2)   # pygame is [x, y]
    if surface.get_flags() & pygame.SRCALPHA:
        alpha = pygame.surfarray.array_alpha(surface).T[..., None].astype(np.float32) / 255
        # Transparent areas become black: on a projector black is "nothing".
        rgb = (rgb.astype(np.float32) * alpha + 0.5).astype(np.uint8)
    return np.ascontiguousarray(rgb)


def _decode_av(path: Path) -> np.ndarray:
    import av

    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if frame.format.name in ("rgba", "argb", "bgra", "abgr", "pal8", "ya8", "yuva420p"):
                rgba = frame.to_ndarray(format="rgba").astype(np.float32)
                return (rgba[..., :3] * (rgba[..., 3:] / 255) + 0.5).astype(np.uint8)
            return frame.to_ndarray(format="rgb24")
    raise ValueError("no image in file")


def decode_image(path) -> np.ndarray:
    """The pixels of the image file at `path`, uint8 [H, W, 3]; ValueError if unreadable."""
    path = Path(path)
    errors = []
    for decoder in (_decode_pygame, _decode_av):
        try:
            image = decoder(path)
            if image.ndim == 3 and image.shape[0] > 0 and image.shape[1] > 0:
                return image
        except Exception as err:  # each decoder has its own error types; try the next one
            errors.append(f"{decoder.__name__[8:]}: {err}")
    raise ValueError("; ".join(errors) or "unreadable")


def fit_square(image: np.ndarray, res: int, fit: str = "crop") -> np.ndarray:
    """Centre-crop (fit='crop') or black-pad (fit='pad') to a square, then resize to res x res."""
    import torch
    from torch.nn import functional as F

    h, w = image.shape[:2]
    if fit == "crop":
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        square = image[top: top + side, left: left + side]
    elif fit == "pad":
        side = max(h, w)
        square = np.zeros((side, side, 3), np.uint8)
        top, left = (side - h) // 2, (side - w) // 2
        square[top: top + h, left: left + w] = image
    else:
        raise ValueError(f"fit must be 'crop' or 'pad', got {fit!r}")
    if side == res:
        return np.ascontiguousarray(square)
    t = torch.from_numpy(np.ascontiguousarray(square)).permute(2, 0, 1)[None].float()
    # Antialiased downscaling: plain bilinear would alias fine detail into moire.
    t = F.interpolate(t, size=(res, res), mode="bilinear", align_corners=False,
                      antialias=side > res)
    return t[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).numpy()


@dataclass
class PreparedData:
    """The cached data set: `images` uint8 [N, res, res, 3] (memory-mapped), and the skipped."""

    images: np.ndarray
    cache_path: Path
    skipped: list[tuple[str, str]] = field(default_factory=list)
    from_cache: bool = False


def _cache_key(files: list[Path], root: Path, res: int, fit: str) -> str:
    h = hashlib.sha1(f"res={res};fit={fit};v=1".encode())
    for p in files:
        st = p.stat()
        h.update(f"{p.relative_to(root)}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def prepare(folder, res: int, cache_dir, fit: str = "crop", log=None) -> PreparedData:
    """Decode `folder` once into `cache_dir/data-<key>-<res>.npy` (or reuse it) and map it.

    Raises DataError for a missing or empty folder, or when fewer than MIN_IMAGES decode.
    `log(str)` receives the report of skipped files (default: stderr).
    """
    log = log or (lambda msg: print(msg, file=sys.stderr))
    root = Path(folder)
    files = find_images(root)
    if not files:
        raise DataError(f"{root}: no images found (looked for {', '.join(IMAGE_SUFFIXES)}, "
                        f"recursively)")
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    key = _cache_key(files, root, res, fit)
    cache_path = cache_dir / f"data-{key}-{res}.npy"
    report_path = cache_path.with_suffix(".json")
    if cache_path.is_file() and report_path.is_file():
        skipped = [tuple(s) for s in json.loads(report_path.read_text())["skipped"]]
        return PreparedData(np.load(cache_path, mmap_mode="r"), cache_path, skipped, True)

    # Decode into a temporary memmap next to the final file, then one rename: a crash while
    # preparing never leaves a cache that looks complete.
    fd, tmp = tempfile.mkstemp(prefix=f".{cache_path.name}.", suffix=".tmp.npy", dir=cache_dir)
    os.close(fd)
    skipped: list[tuple[str, str]] = []
    try:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8,
                                        shape=(len(files), res, res, 3))
        count = 0
        for path in files:
            try:
                out[count] = fit_square(decode_image(path), res, fit)
                count += 1
            except ValueError as err:
                skipped.append((str(path.relative_to(root)), str(err).splitlines()[0][:200]))
        out.flush()
        del out
        if count < MIN_IMAGES:
            raise DataError(f"{root}: only {count} readable image(s) of {len(files)}; "
                            f"need at least {MIN_IMAGES}")
        if count < len(files):
            # Copy without the unused tail so N matches the readable images (into a second
            # file: writing over a file that is memory-mapped would read back zeros).
            trimmed = tmp[:-len(".tmp.npy")] + ".trim.tmp.npy"
            full = np.load(tmp, mmap_mode="r")
            np.save(trimmed, full[:count])
            del full
            os.replace(trimmed, tmp)
        os.replace(tmp, cache_path)
    finally:
        for leftover in (tmp, tmp[:-len(".tmp.npy")] + ".trim.tmp.npy"):
            if os.path.exists(leftover):
                os.unlink(leftover)
    report_path.write_text(json.dumps({"folder": str(root), "res": res, "fit": fit,
                                       "skipped": skipped}))
    if skipped:
        log(f"skipped {len(skipped)} unreadable file(s) in {root}: "
            + ", ".join(name for name, _ in skipped[:20]) + (" ..." if len(skipped) > 20 else ""))
    return PreparedData(np.load(cache_path, mmap_mode="r"), cache_path, skipped, False)


def is_grey(images: np.ndarray, chunk: int = 256) -> bool:
    """Whether every pixel of the cached images [N, H, W, 3] has R == G == B."""
    for i in range(0, len(images), chunk):
        part = np.asarray(images[i: i + chunk])
        if not (np.array_equal(part[..., 0], part[..., 1])
                and np.array_equal(part[..., 0], part[..., 2])):
            return False
    return True


def to_tensor(images: np.ndarray, channels: int = 3):
    """uint8 images [N, H, W, 3] -> float tensor [N, channels, H, W] in [-1, 1]; one channel
    is the mean of the three (exact for grey images)."""
    import torch

    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()
    if channels == 1:
        x = x.mean(dim=1, keepdim=True)
    return x.div_(127.5).sub_(1)


class BatchSampler:
    """Random batches from the cache as float tensors in [-1, 1], optionally x-mirrored.

    Uses its own torch.Generator so that its state goes into checkpoints and a resumed run
    draws the same batches it would have drawn.
    """

    def __init__(self, images: np.ndarray, batch: int, mirror: bool, seed: int,
                 device="cpu", channels: int = 3) -> None:
        import torch

        self.images, self.batch, self.mirror, self.device = images, batch, mirror, device
        self.channels = channels
        self.generator = torch.Generator().manual_seed(int(seed))

    def __len__(self) -> int:
        return len(self.images)

    def next(self):
        """One batch [batch, channels, res, res] float32 on the device."""
        import torch

        idx = torch.randint(len(self.images), (self.batch,), generator=self.generator)
        # Sorted indices read the memmap in file order (cheaper on disk); the order inside a
        # batch does not matter.
        idx_sorted = np.sort(idx.numpy())
        x = to_tensor(self.images[idx_sorted], self.channels)
        if self.mirror:
            flip = torch.rand(self.batch, generator=self.generator) < 0.5
            x[flip] = x[flip].flip(3)
        return x.to(self.device, non_blocking=True)

    def state(self):
        """The sampler's random state (a uint8 tensor) for checkpoints."""
        return self.generator.get_state()

    def set_state(self, state) -> None:
        """Restore a state from `state()`."""
        self.generator.set_state(state)
