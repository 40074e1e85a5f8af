"""Small data: does a run on ~100 images collapse or memorise? ADA vs DiffAugment vs none.

    python bench/small_data.py [--images 100] [--res 64] [--kimg 20] [--tick 2]
                               [--aug ada diffaugment none] [--threads 1] [--out DIR]

Makes a procedural data set of `--images` pictures (liveGAN.train.procedural), trains the light
architecture on it once per augmentation mode with the real `livegan train` loop (same seed,
same everything else), and prints per mode:
- the SWD curve (x1000, EMA generator vs. the training images, every tick);
- D's overfitting signal: mean sign of D's logits on real images (r_t, ADA's heuristic; 1.0 =
  D is certain about every real image it has memorised), and the real/fake logit gap;
- at the end, on 256 EMA samples: diversity (mean L1 distance between pairs of samples,
  compared with the same measure over the training images) and memorisation (mean L1 distance
  from each sample to its nearest training image; a copying generator drives it to 0).
Pixel distances are on the [-1, 1] scale, mean absolute difference per value.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path


def make_data(folder: Path, count: int, res: int) -> None:
    from liveGAN.train import procedural
    from liveGAN.files import write_png

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        write_png(folder / f"{i:04d}.png", procedural.make_image(res, procedural.image_rng(3, i)))


def load_reals(folder: Path, res: int, cache: Path):
    """The training images as the loop sees them: float [N, 3, res, res] in [-1, 1]."""
    import torch

    from liveGAN.train.data import prepare

    images = prepare(folder, res, cache, "crop", log=lambda m: None).images
    return torch.from_numpy(images.copy()).permute(0, 3, 1, 2).float()[:, :3] / 127.5 - 1


def sample_stats(model: Path, reals, n: int = 256) -> dict:
    """Diversity and nearest-training-image distance of `n` samples of the exported model."""
    import torch

    from liveGAN.models import load_generator

    G = load_generator(model, "cpu")
    with torch.no_grad():
        z = torch.randn(n, G.z_dim, generator=torch.Generator().manual_seed(123))
        fakes = torch.cat([G(z[i:i + 32], None, noise_mode="const").clamp(-1, 1)
                           for i in range(0, n, 32)])
    f = fakes.flatten(1)
    r = reals.flatten(1)
    values = f.shape[1]

    def mean_pair_l1(x):
        d = torch.cdist(x, x, p=1) / values
        k = x.shape[0]
        return float(d.sum() / (k * (k - 1)))

    nearest = (torch.cdist(f, r, p=1) / values).min(dim=1).values
    return {"diversity": mean_pair_l1(f), "diversity_reals": mean_pair_l1(r),
            "nearest_real": float(nearest.mean()),
            "nearest_real_between_reals": float(
                (torch.cdist(r, r, p=1) / values + torch.eye(len(r)) * 1e9)
                .min(dim=1).values.mean())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--res", type=int, default=64)
    parser.add_argument("--kimg", type=float, default=20.0)
    parser.add_argument("--tick", type=float, default=2.0)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--aug", nargs="+", default=["ada", "diffaugment", "none"],
                        choices=["ada", "diffaugment", "none"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--channel-base", type=int, default=1024)
    parser.add_argument("--out", default=None,
                        help="keep the runs here (default: a temp dir); runs already there "
                        "continue to --kimg")
    args = parser.parse_args()

    from liveGAN.train.loop import TrainConfig, train

    work = Path(args.out or tempfile.mkdtemp(prefix="livegan-small-data-"))
    data = work / "data"
    if not data.is_dir():
        make_data(data, args.images, args.res)
    reals = load_reals(data, args.res, work / "cache")
    print(f"# small data: {len(reals)} images at {args.res}x{args.res}, light, batch "
          f"{args.batch}, {args.kimg:g} kimg, runs in {work}\n", flush=True)

    results = {}
    for aug in args.aug:
        run = work / f"run-{aug}"
        start = time.monotonic()
        # A run already in --out continues to --kimg (same recipe: the checkpoint's config).
        resume = (run / "checkpoints").is_dir()
        cfg = TrainConfig(data=str(data), out=str(run), res=args.res, arch="light",
                          batch=args.batch, kimg=args.kimg, tick=args.tick, aug=aug,
                          mirror=True, swd_every=1, swd_images=len(reals),
                          channel_base=args.channel_base, threads=args.threads,
                          progress=False, seed=0, resume=resume)
        train(cfg, log=lambda m: None)
        rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
        stats = sample_stats(run / "model.safetensors", reals)
        results[aug] = (rows, stats, time.monotonic() - start)
        print(f"{aug}: done in {results[aug][2] / 60:.1f} min", flush=True)

    print("\n## SWD x1000 per tick (lower is better)\n")
    print("| kimg | " + " | ".join(args.aug) + " |")
    print("|---:|" + "---:|" * len(args.aug))
    for i, row in enumerate(results[args.aug[0]][0]):
        cells = []
        for aug in args.aug:
            rows = results[aug][0]
            cells.append(f"{rows[i]['swd']:.1f}" if i < len(rows) and "swd" in rows[i] else "-")
        print(f"| {row['kimg']:g} | " + " | ".join(cells) + " |")

    print("\n## Overfitting and collapse at the end\n")
    print("| aug | final SWD | best SWD | D_real - D_fake (last tick) | ADA p | "
          "diversity (reals) | nearest training image (between reals) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for aug in args.aug:
        rows, stats, _ = results[aug]
        swds = [r["swd"] for r in rows if "swd" in r]
        last = rows[-1]
        print(f"| {aug} | {swds[-1]:.1f} | {min(swds):.1f} | "
              f"{last['D_real'] - last['D_fake']:.2f} | {last['aug_p']:.3f} | "
              f"{stats['diversity']:.3f} ({stats['diversity_reals']:.3f}) | "
              f"{stats['nearest_real']:.3f} ({stats['nearest_real_between_reals']:.3f}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
