"""Does training keep the variety of a small labelled set? Class coverage of sklearn's digits.

The set: scikit-learn's `load_digits` (1797 grey 8x8 digits, 10 classes, BSD licence; install
scikit-learn for this benchmark only), upscaled to 32x32 and written as PNGs in one folder per
class. A judge (`liveGAN.train.judge.SmallClassifier`) is trained on the real images; then
`livegan train` runs with its defaults (light, batch 16, ADA) and `--judge`, and every metrics
tick reports how many classes the samples reach, the confident fraction and the largest
class's share, next to coverage/diversity. The small-data variant trains on 64 images with ADA
and with no augmentation.

    python bench/digits_coverage.py prepare runs/digits            # data + judge
    python bench/digits_coverage.py train runs/digits full --kimg 30
    python bench/digits_coverage.py train runs/digits small64 --kimg 30 --aug none
    python bench/digits_coverage.py report runs/digits             # the curves as a table

Runs are plain `livegan train` runs (resumable with --resume); this script only prepares and
reports.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

RES = 32


def write_digits(root: Path) -> None:
    """runs/digits/{all,small64}/<class>/NNNN.png and the judge."""
    import torch
    from sklearn.datasets import load_digits
    from torch.nn import functional as F

    from liveGAN.train.judge import save_judge, train_classifier
    from liveGAN.files import write_png

    digits = load_digits()
    x = torch.from_numpy(digits.images).float()[:, None] / 16.0
    x = F.interpolate(x, size=(RES, RES), mode="bilinear", align_corners=False)
    grey = (x.clamp(0, 1) * 255 + 0.5).to(torch.uint8)[:, 0].numpy()
    rgb = np.repeat(grey[..., None], 3, axis=-1)
    labels = digits.target
    order = np.random.default_rng(0).permutation(len(rgb))
    for name, idx in [("all", order), ("small64", order[:64])]:
        for i in idx:
            folder = root / name / str(labels[i])
            folder.mkdir(parents=True, exist_ok=True)
            write_png(folder / f"{i:04d}.png", rgb[i])
    model = train_classifier(rgb, labels, [str(c) for c in range(10)], RES, epochs=15,
                             log=lambda m: print(m, file=sys.stderr))
    save_judge(root / "judge.safetensors", model)
    counts = np.bincount(labels[order[:64]], minlength=10)
    print(f"wrote {len(rgb)} digits (small64 per class: {counts.tolist()}) and the judge "
          f"(held-out accuracy {model.held_out_accuracy:.3f})")


def train(root: Path, name: str, kimg: float, extra: list[str]) -> int:
    """Start the run root/run-NAME, or continue it (--resume) when it has checkpoints."""
    data = root / ("small64" if name.startswith("small64") else "all")
    run = root / f"run-{name}"
    common = ["--out", str(run), "--kimg", f"{kimg:g}", "--judge", str(root / "judge.safetensors"),
              "--threads", "1", "--no-progress"]
    if (run / "checkpoints").is_dir():
        args = ["--resume", *common]
    else:
        args = [str(data), "--res", str(RES), *common, *extra]
    cmd = [sys.executable, "-m", "liveGAN.cli", "train", *args]
    print(" ".join(cmd), file=sys.stderr)
    return subprocess.call(cmd, env=dict(os.environ, OMP_NUM_THREADS="1"))


def report(root: Path) -> None:
    """Markdown table per run: kimg, classes, confident, top class, coverage, diversity, p."""
    for run in sorted(r for r in root.glob("run-*") if (r / "metrics.jsonl").is_file()):
        rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        print(f"\n{run.name}\n\n| kimg | classes | confident | top class | coverage | "
              f"density | diversity | SWD | ADA p | img/s |\n" + "|---:" * 10 + "|")
        for r in rows:
            print(f"| {r['kimg']:g} | {r.get('classes', '')} | {r.get('confident', 0):.2f} | "
                  f"{r.get('top_class', 0):.2f} | {r.get('coverage', float('nan')):.2f} | "
                  f"{r.get('density', float('nan')):.2f} | "
                  f"{r.get('diversity', float('nan')):.2f} | "
                  f"{r.get('swd', float('nan')):.0f} | {r['aug_p']:.3f} | {r['img_per_s']:.1f} |")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("prepare").add_argument("root", type=Path)
    t = sub.add_parser("train")
    t.add_argument("root", type=Path)
    t.add_argument("name", help="full, small64 or small64-<anything> (the run folder's name)")
    t.add_argument("--kimg", type=float, default=30.0, help="length of the run")
    sub.add_parser("report").add_argument("root", type=Path)
    args, extra = parser.parse_known_args(argv)
    if args.command == "prepare":
        write_digits(args.root)
        return 0
    if args.command == "train":
        return train(args.root, args.name, args.kimg, extra)
    report(args.root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
