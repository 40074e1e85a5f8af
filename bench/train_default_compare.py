"""Two default-model candidates side by side: picture quality, darkness, artefacts, speed.

    python bench/train_default_compare.py OLD.safetensors:classic NEW.safetensors:vivid \
        [--samples 512] [--frames 100] [--out runs/compare]

Each model is compared with the procedural style it was trained on (`classic` for the first
default model, `vivid` for the second; seed 0, as `python -m liveGAN.train.procedural` writes
them). Per model, on `--samples` EMA samples at psi 1 (and psi 0.8 for SWD):

- SWD x1000 against as many real images (and the floor: reals against other reals);
- coverage / diversity on fixed random-conv features (`liveGAN.train.diversity`);
- nearly black: the fraction of latents whose mean brightness is below 20/255; mean brightness
  and mean saturation (HSV), the colourfulness a projector shows;
- artefacts: the generated images' spectral power in the top frequency band (above 0.35
  cycles/pixel, where checkerboards and speckle live) over the real images' ("hf excess": 1 is
  the data's own fine detail, above 1 is added high-frequency pattern), and the strongest
  isolated peak at periods 2 and 4 relative to its neighbourhood, and "checker p99": the
  strongest 2-pixel pattern (stripes or checkerboard) in 8x8 tiles, 99th percentile, in grey
  levels, against the same figure of the real images;
- ms per frame: batch 1, one thread, mapping + synthesis, frames of the two models interleaved
  so a changing machine load hits both alike (median, p10, p90).
It writes a sample grid of each model (the same 16 latents) to --out.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch


def reals_of(style: str, count: int, res: int) -> torch.Tensor:
    from liveGAN.train import procedural

    images = np.stack([procedural.make_image(res, procedural.image_rng(0, i), style)
                       for i in range(count)])
    return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1


@torch.no_grad()
def samples(G, count: int, seed: int, psi: float = 1.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(0, count, 32):
        z = torch.randn(min(32, count - i), G.z_dim, generator=g)
        out.append(G(z, None, truncation_psi=psi, noise_mode="const").clamp(-1, 1))
    return torch.cat(out)


def radial_power(images: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Mean power spectrum of the grey images (centred), and each bin's radius in cycles/px."""
    grey = images.mean(dim=1)
    grey = grey - grey.mean(dim=(1, 2), keepdim=True)
    power = torch.fft.fftshift(torch.fft.fft2(grey).abs().square().mean(dim=0)).numpy()
    n = power.shape[0]
    f = (np.arange(n) - n // 2) / n
    return power, np.hypot(f[:, None], f[None, :])


def artefacts(fakes: torch.Tensor, reals: torch.Tensor) -> dict[str, float]:
    pf, radius = radial_power(fakes)
    pr, _ = radial_power(reals)
    top = radius > 0.35
    n = pf.shape[0]
    c = n // 2
    peaks = []
    for period in (2, 4):
        k = n // period
        for dy, dx in [(0, k), (k, 0), (k, k)]:
            y, x = (c + dy) % n, (c + dx) % n
            around = pf[max(y - 3, 0): y + 4, max(x - 3, 0): x + 4]
            peaks.append(pf[y, x] / (np.median(around) + 1e-12))
    return {"hf_excess": float(pf[top].sum() / pr[top].sum()), "peak": float(max(peaks)),
            "checker": checker_amplitude(fakes)}


def checker_amplitude(images: torch.Tensor, tile: int = 8) -> float:
    """The 99th percentile, over 8x8 tiles of every image and channel, of the strongest
    2-pixel pattern (alternating columns, rows, or a checkerboard), in grey levels (0..255)."""
    t = images.unfold(2, tile, tile).unfold(3, tile, tile)          # [N, C, h, w, 8, 8]
    alt = (-1.0) ** torch.arange(tile, dtype=images.dtype)
    patterns = [alt[None, :].expand(tile, tile), alt[:, None].expand(tile, tile),
                alt[:, None] * alt[None, :]]
    amp = torch.stack([(t * p).mean(dim=(-1, -2)).abs() for p in patterns]).amax(dim=0)
    return float(amp.flatten().quantile(0.99) * 127.5)


def colour(images: torch.Tensor) -> dict[str, float]:
    x = (images + 1) / 2
    mean = x.mean(dim=(1, 2, 3))
    mx, mn = x.max(dim=1).values, x.min(dim=1).values
    saturation = ((mx - mn) / (mx + 1e-6)).mean()
    return {"nearly_black": float((mean < 20 / 255).float().mean()),
            "brightness": float(mean.mean()), "saturation": float(saturation)}


def frame_times(models: list, frames: int) -> list[list[float]]:
    torch.set_num_threads(1)
    times = [[] for _ in models]
    z = torch.randn(1, models[0].z_dim)
    with torch.no_grad():
        for G in models:
            for _ in range(5):
                G(z, None, noise_mode="const")
        for _ in range(frames):
            for i, G in enumerate(models):
                t = time.perf_counter()
                G(z, None, noise_mode="const")
                times[i].append(1000 * (time.perf_counter() - t))
    return times


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("models", nargs="+", help="MODEL.safetensors:STYLE (classic or vivid)")
    parser.add_argument("--samples", type=int, default=512)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--out", type=Path, default=Path("runs/compare"))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    from liveGAN.models import load_generator
    from liveGAN.train.diversity import Diversity
    from liveGAN.train.metrics import SWD
    from liveGAN.train.plots import save_grid

    args.out.mkdir(parents=True, exist_ok=True)
    loaded = []
    for spec in args.models:
        path, _, style = spec.rpartition(":")
        loaded.append((Path(path), style, load_generator(path)))
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", file=sys.stderr)
    header = ("| model | SWD psi 1 | SWD psi 0.8 | SWD floor | coverage | diversity | "
              "nearly black | brightness | saturation | hf excess | peak | checker p99 |")
    lines = [header, "|---|" + "---:|" * 11]
    grid_z = torch.randn(16, loaded[0][2].z_dim, generator=torch.Generator().manual_seed(12345))
    for path, style, G in loaded:
        res = G.img_resolution
        reals = reals_of(style, 2 * args.samples, res)
        ref, other = reals[: args.samples], reals[args.samples:]
        swd = SWD(ref, per_image=32, directions=128)
        fakes = samples(G, args.samples, seed=1)
        stats = {"swd1": swd.distance(fakes)["swd"],
                 "swd08": swd.distance(samples(G, args.samples, 1, psi=0.8))["swd"],
                 "floor": swd.distance(other)["swd"],
                 **Diversity(ref).measure(fakes), **colour(fakes), **artefacts(fakes, ref)}
        real_colour = colour(ref)
        lines.append(f"| {path.name} ({style}) | {stats['swd1']:.1f} | {stats['swd08']:.1f} | "
                     f"{stats['floor']:.1f} | {stats['coverage']:.2f} | {stats['diversity']:.2f}"
                     f" | {100 * stats['nearly_black']:.1f} % | {stats['brightness']:.3f} | "
                     f"{stats['saturation']:.2f} | {stats['hf_excess']:.2f} | "
                     f"{stats['peak']:.1f} | {stats['checker']:.1f} |")
        lines.append(f"| its real images | | | | | | {100 * real_colour['nearly_black']:.1f} % | "
                     f"{real_colour['brightness']:.3f} | {real_colour['saturation']:.2f} | 1.00 "
                     f"| {artefacts(other, ref)['peak']:.1f} | {checker_amplitude(ref):.1f} |")
        with torch.no_grad():
            save_grid(args.out / f"{path.stem}-grid.png", G(grid_z, None, noise_mode="const"))
    times = frame_times([G for _, _, G in loaded], args.frames)
    lines += ["", "| model | ms/frame median | p10 | p90 |", "|---|---:|---:|---:|"]
    for (path, style, _), t in zip(loaded, times):
        q = np.percentile(t, [10, 90])
        lines.append(f"| {path.name} | {statistics.median(t):.2f} | {q[0]:.2f} | {q[1]:.2f} |")
    lines.append(f"\nload average after: {os.getloadavg()[0]:.2f}")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
