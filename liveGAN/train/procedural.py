"""Procedural images for liveGAN's default model: bold, colourful, organic shapes.

Place in the data flow: **procedural generator** -> folder of PNGs -> `livegan train` -> the
default model in `patches/models/`. Usage:

    python -m liveGAN.train.procedural OUT_DIR --count 3000 --res 128 --seed 0 [--style vivid]

Two styles, each mixing a few motifs of one family, so a set is varied but reads as one style a
GAN can learn:
- vivid (the default model's): a full-frame colour field (a domain-warped gradient through a
  cosine palette) under one or two bold motifs (metaballs, marble bands, thick rings, petals,
  sunbursts, Voronoi cells), blended by "screen", often folded by kaleidoscopic symmetry; bright
  from edge to edge (mean brightness 0.25-0.65), no detail finer than a few pixels;
- classic (the first default model's): domain-warped noise "nebulae", glowing rings, Lissajous
  glow curves and flow lines on black.
Deterministic from the seed (image i uses its own generator seeded by (seed, i), so any subset
can be regenerated).
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


def make_classic(res: int, rng: np.random.Generator) -> np.ndarray:
    """One image of the first default model's set (glow on black), uint8 [res, res, 3]."""
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


# ---- the vivid style: bold colour fields and shapes, bright from edge to edge ---------------

def _warped(x, y, rng, warp: float, base: float, octaves: int = 3):
    """A domain-warped smooth field, roughly in [-1, 1]: marbled, organic variation."""
    wx = x + warp * _fourier_noise(x, y, rng, octaves=2, base=base * 0.7)
    wy = y + warp * _fourier_noise(x, y, rng, octaves=2, base=base * 0.7)
    return _fourier_noise(wx, wy, rng, octaves=octaves, base=base)


def _smoothstep(edge0: float, edge1: float, v: np.ndarray) -> np.ndarray:
    t = np.clip((v - edge0) / (edge1 - edge0), 0, 1)
    return t * t * (3 - 2 * t)


def _blobs(x, y, rng):
    """Metaballs: a few soft bodies that merge where they meet, with a glowing rim."""
    field = np.zeros_like(x)
    for _ in range(rng.integers(3, 8)):
        cx, cy = rng.uniform(-0.7, 0.7, 2)
        field += rng.uniform(0.02, 0.09) / (np.square(x - cx) + np.square(y - cy) + 0.01)
    level = rng.uniform(0.8, 1.6)
    body = _smoothstep(level * 0.85, level * 1.15, field)
    rim = np.exp(-np.square((field - level) / (0.25 * level)))
    return np.clip(body * 0.85 + rim * 0.6, 0, 1.2), field / (field.max() + 1e-6)


def _marble(x, y, rng):
    """Bands bent by a warped field, like marble or agate."""
    angle = rng.uniform(0, TAU)
    freq = rng.uniform(3, 9)
    f = _warped(x, y, rng, rng.uniform(0.3, 1.0), rng.uniform(1.0, 2.5))
    phase = freq * (np.cos(angle) * x + np.sin(angle) * y) + rng.uniform(2, 6) * f
    bands = 0.5 + 0.5 * np.sin(phase)
    return bands ** rng.uniform(0.7, 2.5), phase / TAU


def _bold_rings(x, y, rng):
    """Thick concentric rings, wobbled, with soft glow between them."""
    r = np.hypot(x - rng.uniform(-0.3, 0.3), y - rng.uniform(-0.3, 0.3))
    r = r + rng.uniform(0.03, 0.15) * _fourier_noise(x, y, rng, octaves=2, base=rng.uniform(2, 4))
    spacing = rng.uniform(0.12, 0.3)
    wave = 0.5 + 0.5 * np.cos(TAU * r / spacing + rng.uniform(0, TAU))
    return wave ** rng.uniform(1.0, 4.0) * np.exp(-r * rng.uniform(0.0, 1.2)), r * 1.5


def _petals(x, y, rng):
    """A filled polar rose: petals around a centre, glowing at the edges."""
    r = np.hypot(x, y)
    theta = np.arctan2(y, x) + rng.uniform(0, TAU)
    k = int(rng.integers(3, 9))
    twist = rng.uniform(-2, 2)
    size = rng.uniform(0.5, 0.95)
    edge = size * np.abs(np.cos(0.5 * k * (theta + twist * r))) ** rng.uniform(0.4, 1.5)
    inside = _smoothstep(0.04, -0.04, r - edge)
    glow = np.exp(-np.abs(r - edge) / 0.08)
    return np.clip(inside * 0.8 + glow * 0.5, 0, 1.2), r / size + theta / TAU


def _rays(x, y, rng):
    """A sunburst: soft rays from a centre, twisted into a spiral."""
    cx, cy = rng.uniform(-0.3, 0.3, 2)
    r = np.hypot(x - cx, y - cy)
    theta = np.arctan2(y - cy, x - cx)
    k = int(rng.integers(5, 17))
    twist = rng.uniform(-4, 4)
    rays = 0.5 + 0.5 * np.cos(k * theta + twist * r)
    core = np.exp(-r / rng.uniform(0.15, 0.4))
    return np.clip(rays ** rng.uniform(1, 3) * 0.8 + core, 0, 1.2), r + rays * 0.2


def _cells(x, y, rng):
    """Voronoi cells: each cell its own colour, lit edges between them."""
    n = int(rng.integers(6, 20))
    points = rng.uniform(-1.1, 1.1, (n, 2))
    d = np.hypot(x[None] - points[:, 0, None, None], y[None] - points[:, 1, None, None])
    order = np.sort(d, axis=0)
    nearest = np.argmin(d, axis=0)
    edge = np.exp(-np.square((order[1] - order[0]) / rng.uniform(0.05, 0.12)))
    shade = 1 - 0.6 * _smoothstep(0, 0.6, order[0])
    tone = rng.uniform(0, 1, n)[nearest]
    return np.clip(shade * 0.7 + edge * 0.8, 0, 1.2), tone


VIVID_MOTIFS = {"blobs": _blobs, "marble": _marble, "rings": _bold_rings, "petals": _petals,
                "rays": _rays, "cells": _cells}


def make_vivid(res: int, rng: np.random.Generator) -> np.ndarray:
    """One vivid image: a full-frame colour field and one or two bold motifs, uint8 [res, res, 3].

    Made for a projector and for a small GAN: no pure-black frames (mean brightness about 0.4),
    saturated colours, shapes a few pixels wide at the least, so a 128² generator can learn
    them in a few hundred kimg.
    """
    lin = np.linspace(-1, 1, res)
    x, y = np.meshgrid(lin, lin)
    zoom = rng.uniform(0.8, 1.3)
    x, y = x * zoom, y * zoom
    if rng.random() < 0.4:
        x, y = _kaleido(x, y, int(rng.choice([3, 4, 5, 6, 8])), rng.uniform(0, TAU))
    # The colour field under everything: a warped gradient through a cosine palette.
    field = _warped(x, y, rng, rng.uniform(0.2, 1.0), rng.uniform(0.8, 2.0))
    image = _palette(field * rng.uniform(0.3, 0.8) + rng.uniform(0, 1), rng)
    image = image * rng.uniform(0.2, 0.6)
    names = list(VIVID_MOTIFS)
    for k in range(1 if rng.random() < 0.5 else 2):
        intensity, t = VIVID_MOTIFS[names[rng.integers(len(names))]](x, y, rng)
        colour = _palette(t * rng.uniform(0.5, 1.5) + rng.uniform(0, 1), rng)
        layer = np.clip(colour * intensity[..., None] * (1.0 if k == 0 else 0.7), 0, 1)
        image = 1 - (1 - image) * (1 - layer)    # "screen": light adds, never turns to grey
    # A mild vignette keeps the centre the subject without blacking out the edges.
    r2 = np.square(lin)
    image = image * np.clip(1.15 - 0.35 * (r2[:, None] + r2[None, :]), 0.5, 1)[..., None]
    # Keep every image in a comfortable exposure band (mean 0.25..0.65).
    mean = image.mean()
    target = np.clip(mean, 0.25, 0.65)
    image = image * (target / max(mean, 1e-6))
    return (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)


STYLES = {"vivid": make_vivid, "classic": make_classic}


def make_image(res: int, rng: np.random.Generator, style: str = "vivid") -> np.ndarray:
    """One procedural image of `style` (vivid: the default model's set; classic: the first
    default model's, glow on black), uint8 [res, res, 3]."""
    if style not in STYLES:
        raise ValueError(f"style must be one of {', '.join(STYLES)}, got {style!r}")
    return STYLES[style](res, rng)


def image_rng(seed: int, index: int) -> np.random.Generator:
    """The generator of image `index` of the set made with `seed`."""
    return np.random.default_rng([int(seed), int(index)])


def generate(out_dir, count: int, res: int = 128, seed: int = 0, progress: bool = True,
             style: str = "vivid") -> int:
    """Write `count` images `proc_00000.png`... into `out_dir`; returns how many were written."""
    from liveGAN.files import write_png

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    for i in range(count):
        write_png(out / f"proc_{i:05d}.png", make_image(res, image_rng(seed, i), style))
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
    parser.add_argument("--style", choices=list(STYLES), default="vivid",
                        help="vivid: bold colour fields (the default model); classic: glow on "
                             "black (the first default model)")
    args = parser.parse_args(argv)
    if args.count < 1 or args.res < 8:
        print("error: --count must be >= 1 and --res >= 8", file=sys.stderr)
        return 1
    generate(args.out_dir, args.count, args.res, args.seed, style=args.style)
    return 0


if __name__ == "__main__":
    sys.exit(main())
