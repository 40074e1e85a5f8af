"""Procedural images for liveGAN's default model: glowing, organic, colourful shapes on black.

Place in the data flow: **procedural generator** -> folder of PNGs -> `livegan train` -> the
default model in `patches/models/`. Usage:

    python -m liveGAN.train.procedural OUT_DIR --count 2000 --res 128 --seed 0

Every image mixes a few motifs of one family, so the set is varied but reads as one style a GAN
can learn: domain-warped noise "nebulae", glowing rings, Lissajous glow curves and flow lines,
all optionally folded by kaleidoscopic symmetry, coloured with cosine palettes and kept high
contrast on black because that is what looks good on a projector. Deterministic from the seed
(image i uses its own generator seeded by (seed, i), so any subset can be regenerated).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

TAU = 2 * np.pi


def _palette(t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Cosine palette a + b*cos(2π(c*t + d)): smooth saturated colour ramps, [..., 3] in [0, 1]."""
    a = rng.uniform(0.45, 0.6, 3)
    b = rng.uniform(0.4, 0.55, 3)
    c = rng.uniform(0.5, 1.5, 3) * rng.choice([1.0, 2.0])
    d = rng.uniform(0, 1, 3)
    return np.clip(a + b * np.cos(TAU * (c * t[..., None] + d)), 0, 1)


def _fourier_noise(x, y, rng, octaves=4, base=1.5, count=6):
    """Smooth random field (sum of random plane waves over a few octaves), roughly in [-1, 1]."""
    out = np.zeros_like(x)
    amp, freq, total = 1.0, base, 0.0
    for _ in range(octaves):
        angles = rng.uniform(0, TAU, count)
        phases = rng.uniform(0, TAU, count)
        for ang, ph in zip(angles, phases):
            out += amp * np.sin(freq * (np.cos(ang) * x + np.sin(ang) * y) + ph)
        total += amp * np.sqrt(count / 2)
        amp *= 0.5
        freq *= 2.0
    return out / total


def _kaleido(x, y, folds: int, rotation: float):
    """Fold the plane into `folds`-fold mirror symmetry around the centre."""
    r = np.hypot(x, y)
    a = np.arctan2(y, x) + rotation
    sector = TAU / folds
    a = np.abs(np.mod(a, sector) - sector / 2)
    return r * np.cos(a), r * np.sin(a)


def _blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of a [H, W] field through the FFT (periodic edges are fine on black)."""
    h, w = img.shape
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    kernel = np.exp(-2 * (np.pi * sigma) ** 2 * (fx ** 2 + fy ** 2))
    return np.fft.irfft2(np.fft.rfft2(img) * kernel, s=(h, w))


def _splat_glow(px, py, res, rng, widths=(0.6, 2.5, 7.0)):
    """Glow of points (in [-1, 1] coordinates): splat into a grid, blur at a few widths, add."""
    ix = np.clip(((px + 1) * 0.5 * (res - 1)).round().astype(int), 0, res - 1)
    iy = np.clip(((py + 1) * 0.5 * (res - 1)).round().astype(int), 0, res - 1)
    grid = np.zeros((res, res))
    np.add.at(grid, (iy, ix), 1.0)
    scale = res / 128
    glow = sum(_blur(grid, w * scale) * (w * scale) ** 1.2 for w in widths)
    return glow / (np.percentile(glow, 99.7) + 1e-6)


def _nebula(x, y, rng):
    """Domain-warped noise: soft clouds with bright filaments."""
    warp = rng.uniform(0.3, 1.2)
    wx = x + warp * _fourier_noise(x, y, rng, octaves=3, base=rng.uniform(1, 2.5))
    wy = y + warp * _fourier_noise(x, y, rng, octaves=3, base=rng.uniform(1, 2.5))
    f = _fourier_noise(wx, wy, rng, octaves=4, base=rng.uniform(1.5, 3.5))
    # Thin bright ridges where the field crosses a level: "filaments".
    ridge = np.exp(-np.square(f * rng.uniform(4, 9)))
    cloud = np.clip(f * 0.5 + 0.5, 0, 1) ** rng.uniform(2, 4)
    return 0.75 * ridge + 0.6 * cloud, f


def _rings(x, y, rng):
    """Concentric glowing rings, wobbled by noise."""
    r = np.hypot(x - rng.uniform(-0.25, 0.25), y - rng.uniform(-0.25, 0.25))
    r = r + rng.uniform(0.02, 0.12) * _fourier_noise(x, y, rng, octaves=2, base=rng.uniform(2, 5))
    out = np.zeros_like(x)
    for radius in np.sort(rng.uniform(0.1, 0.9, rng.integers(2, 6))):
        width = rng.uniform(0.008, 0.03)
        out += np.exp(-np.square((r - radius) / width)) + 0.25 * np.exp(-np.abs(r - radius) / 0.1)
    return np.clip(out, 0, 1.5), r * 2


def _lissajous(res, rng):
    """A Lissajous figure (or a looping harmonograph) drawn as a glowing line."""
    t = np.linspace(0, TAU, 6000)
    fa, fb = rng.integers(1, 7, 2)
    decay = rng.uniform(0.0, 0.25)
    amp = rng.uniform(0.55, 0.85)
    px = amp * np.sin(fa * t + rng.uniform(0, TAU)) * np.exp(-decay * t)
    py = amp * np.sin(fb * t + rng.uniform(0, TAU)) * np.exp(-decay * t)
    return _splat_glow(px, py, res, rng), (t / TAU)


def _flow_lines(res, rng):
    """Particles traced through a smooth noise flow field: streaks like long exposures."""
    n, steps = 180, 60
    px = rng.uniform(-1, 1, n)
    py = rng.uniform(-1, 1, n)
    freq = rng.uniform(1.0, 3.0)
    angles = rng.uniform(0, TAU, 4)
    phases = rng.uniform(0, TAU, 4)
    xs, ys = [], []
    for _ in range(steps):
        field = sum(np.sin(freq * (np.cos(a) * px + np.sin(a) * py) + p)
                    for a, p in zip(angles, phases))
        px = px + 0.02 * np.cos(field * 2)
        py = py + 0.02 * np.sin(field * 2)
        xs.append(px)
        ys.append(py)
    return _splat_glow(np.concatenate(xs), np.concatenate(ys), res, rng, widths=(0.5, 1.5, 4.0))


def make_image(res: int, rng: np.random.Generator) -> np.ndarray:
    """One procedural image, uint8 [res, res, 3]."""
    lin = np.linspace(-1, 1, res)
    x, y = np.meshgrid(lin, lin)
    zoom = rng.uniform(0.8, 1.3)
    x, y = x * zoom, y * zoom
    if rng.random() < 0.55:
        x, y = _kaleido(x, y, int(rng.choice([3, 4, 5, 6, 8])), rng.uniform(0, TAU))
    image = np.zeros((res, res, 3))
    # A main motif plus, sometimes, a second one: varied, but always the same family.
    motifs = ["nebula", "rings", "lissajous", "flow"]
    main = rng.choice(motifs, p=[0.4, 0.2, 0.2, 0.2])
    layers = [main] + ([rng.choice(motifs)] if rng.random() < 0.5 else [])
    for k, motif in enumerate(layers):
        if motif == "nebula":
            intensity, t = _nebula(x, y, rng)
        elif motif == "rings":
            intensity, t = _rings(x, y, rng)
        elif motif == "lissajous":
            intensity, t = _lissajous(res, rng)
            t = np.hypot(x, y) + rng.uniform(0, 1)
        else:
            intensity = _flow_lines(res, rng)
            t = _fourier_noise(x, y, rng, octaves=2, base=2.0)
        colour = _palette(t * rng.uniform(0.6, 1.4) + rng.uniform(0, 1), rng)
        gain = 1.0 if k == 0 else rng.uniform(0.4, 0.8)
        image += colour * intensity[..., None] * gain
    # Vignette to black and a soft tone curve: bright cores, deep blacks.
    r2 = np.square(np.linspace(-1, 1, res))
    vignette = np.clip(1.25 - 0.6 * (r2[:, None] + r2[None, :]), 0, 1)
    image = image * vignette[..., None]
    image = 1 - np.exp(-1.6 * np.maximum(image, 0))
    image = image / max(image.max(), 1e-6) if image.max() > 1 else image
    return (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)


def image_rng(seed: int, index: int) -> np.random.Generator:
    """The generator of image `index` of the set made with `seed`."""
    return np.random.default_rng([int(seed), int(index)])


def generate(out_dir, count: int, res: int = 128, seed: int = 0, progress: bool = True) -> int:
    """Write `count` images `proc_00000.png`... into `out_dir`; returns how many were written."""
    from liveGAN.train.pngio import write_png

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    for i in range(count):
        write_png(out / f"proc_{i:05d}.png", make_image(res, image_rng(seed, i)))
        if progress and (i + 1) % 50 == 0:
            rate = (i + 1) / (time.monotonic() - start)
            print(f"\r{i + 1}/{count} images, {rate:.1f}/s", end="", file=sys.stderr, flush=True)
    if progress:
        print(file=sys.stderr)
    return count


def main(argv=None) -> int:
    """Command line: python -m liveGAN.train.procedural OUT_DIR --count N --res R --seed S."""
    parser = argparse.ArgumentParser(prog="python -m liveGAN.train.procedural",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("out_dir", help="folder to write the PNGs into (created if missing)")
    parser.add_argument("--count", type=int, default=2000, help="number of images")
    parser.add_argument("--res", type=int, default=128, help="image width and height in pixels")
    parser.add_argument("--seed", type=int, default=0, help="seed of the whole set")
    args = parser.parse_args(argv)
    if args.count < 1 or args.res < 8:
        print("error: --count must be >= 1 and --res >= 8", file=sys.stderr)
        return 1
    generate(args.out_dir, args.count, args.res, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
