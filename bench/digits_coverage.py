"""Does training keep the variety of a small labelled set? Class coverage of sklearn's digits.

The set: scikit-learn's `load_digits` (1797 grey 8x8 digits, 10 classes, BSD licence; install
scikit-learn for this benchmark only), upscaled to 32x32 and written as PNGs in one folder per
class. A judge (`liveGAN.train.judge.SmallClassifier`) is trained on the real images; then
`livegan train` runs with its defaults (light, ADA, batch 2 on a CPU) and `--judge`, and every
metrics tick reports how many classes the samples reach, the confident fraction and the
largest class's share, next to coverage/diversity. The small-data variant trains on 64 images
with ADA and with no augmentation.

    python bench/digits_coverage.py prepare runs/digits            # data + judge
    python bench/digits_coverage.py train runs/digits full --kimg 30
    python bench/digits_coverage.py train runs/digits small64 --kimg 30 --aug none
    python bench/digits_coverage.py report runs/digits             # the curves as a table

    python bench/digits_coverage.py judge-check runs/digits        # how the judge treats reals
    python bench/digits_coverage.py rejudge runs/digits full --judge other.safetensors
    python bench/digits_coverage.py copies runs/digits small64     # near copies of the 64
    python bench/digits_coverage.py heldout runs/digits small64    # new digits or the 64?
    python bench/digits_coverage.py turned runs/digits small64     # augmentations leaking?
    python bench/digits_coverage.py overfit runs/digits small64    # D memorising the 64?

Runs are plain `livegan train` runs (resumable with --resume); this script prepares, keeps a
copy of the model and of D of every tick (RUN/tick-models/, so another judge can score the same
models later: `rejudge`; `overfit` reads D) and reports.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

RES = 32


def write_digits(root: Path) -> None:
    """runs/digits/{all,small64}/<class>/NNNN.png and the judge."""
    from liveGAN.train.judge import save_judge, train_classifier
    from liveGAN.files import write_png

    grey, labels = _digits()
    rgb = np.repeat(grey[..., None], 3, axis=-1)
    order = np.random.default_rng(0).permutation(len(rgb))
    for name, idx in [("all", order), ("small64", order[:64])]:
        for i in idx:
            folder = root / name / str(labels[i])
            folder.mkdir(parents=True, exist_ok=True)
            write_png(folder / f"{i:04d}.png", rgb[i])
    model = train_classifier(rgb, labels, [str(c) for c in range(10)], RES,
                             log=lambda m: print(m, file=sys.stderr))
    save_judge(root / "judge.safetensors", model)
    counts = np.bincount(labels[order[:64]], minlength=10)
    print(f"wrote {len(rgb)} digits (small64 per class: {counts.tolist()}) and the judge "
          f"(held-out accuracy {model.held_out_accuracy:.3f}, confident on "
          f"{model.held_out_confident:.3f} of the held-out images)")


def train(root: Path, name: str, kimg: float, extra: list[str]) -> int:
    """Start the run root/run-NAME, or continue it (--resume) when it has checkpoints; `extra`
    goes to `livegan train` either way (on a resume, options such as --tick change the run)."""
    data = root / ("small64" if name.startswith("small64") else "all")
    run = root / f"run-{name}"
    common = ["--out", str(run), "--kimg", f"{kimg:g}", "--judge", str(root / "judge.safetensors"),
              "--threads", "1", "--no-progress"]
    if (run / "checkpoints").is_dir():
        args = ["--resume", *common, *extra]
    else:
        args = [str(data), "--res", str(RES), *common, *extra]
    cmd = [sys.executable, "-m", "liveGAN.cli", "train", *args]
    print(" ".join(cmd), file=sys.stderr)
    proc = subprocess.Popen(cmd, env=dict(os.environ, OMP_NUM_THREADS="1"))
    while True:
        done = proc.poll() is not None
        _keep_tick_model(run)
        if done:
            return proc.returncode
        time.sleep(2.0)


def _keep_tick_model(run: Path) -> None:
    """Copy RUN/model.safetensors to RUN/tick-models/kimg-K.safetensors for the last metrics
    row's kimg K (the loop writes the model before the row, so the pair always matches)."""
    try:
        last = (run / "metrics.jsonl").read_text().splitlines()[-1]
        kimg = float(json.loads(last)["kimg"])
    except (OSError, IndexError, ValueError, KeyError):
        return
    keep = run / "tick-models" / f"kimg-{kimg:07.3f}.safetensors"
    if not keep.exists():
        keep.parent.mkdir(exist_ok=True)
        shutil.copyfile(run / "model.safetensors", keep.with_suffix(".tmp"))
        os.replace(keep.with_suffix(".tmp"), keep)
    _keep_tick_discriminator(run, kimg)


def _keep_tick_discriminator(run: Path, kimg: float) -> None:
    """Keep D of the tick at `kimg` (from its checkpoint, written before the metrics row) as
    RUN/tick-models/D-kimg-K.pt, for `overfit`."""
    import torch

    keep = run / "tick-models" / f"D-kimg-{kimg:07.3f}.pt"
    newest = sorted((run / "checkpoints").glob("ckpt-*.pt"))
    if keep.exists() or not newest or int(newest[-1].stem[5:]) != round(kimg * 1000):
        return
    try:
        state = torch.load(newest[-1], map_location="cpu", weights_only=True)
    except (OSError, RuntimeError):
        return  # pruned or being replaced: the next poll tries again
    kept = {"D": state["D"], "arch": state["arch"], "G_kwargs": state["G_kwargs"],
            "config": state["config"]}
    torch.save(kept, keep.with_suffix(".tmp"))
    os.replace(keep.with_suffix(".tmp"), keep)


def _digits():
    """sklearn's digits enlarged to RES x RES: grey uint8 [N, RES, RES] and the labels."""
    import torch
    from sklearn.datasets import load_digits
    from torch.nn import functional as F

    digits = load_digits()
    x = torch.from_numpy(digits.images).float()[:, None] / 16.0
    x = F.interpolate(x, size=(RES, RES), mode="bilinear", align_corners=False)
    return (x.clamp(0, 1) * 255 + 0.5).to(torch.uint8)[:, 0].numpy(), digits.target


def judge_check(judge_file: Path) -> None:
    """The judge's confident share (softmax >= 0.9) and accuracy on all real digits, on
    slightly changed real digits (what a generator's grade differs by) and on images of no
    class (which it should never be sure of)."""
    import torch
    from torch.nn import functional as F

    from liveGAN.train.judge import CONFIDENCE, load_judge

    grey, labels = _digits()
    x = torch.from_numpy(grey)[:, None].float() / 127.5 - 1
    judge = load_judge(judge_file)
    g = torch.Generator().manual_seed(0)
    cases = [
        ("real digits", x),
        ("+ noise 0.1", x + 0.1 * torch.randn(x.shape, generator=g)),
        ("+ brightness 0.1", x + 0.1),
        ("contrast x0.8", (x + 1) * 0.8 - 1),
        ("blurred (5x5 box)", F.avg_pool2d(x, 5, 1, 2)),
        ("no class: pixels shuffled", x.flatten(1)[:, torch.randperm(RES * RES, generator=g)]
         .view_as(x)),
        ("no class: Gaussian noise", torch.randn(x.shape, generator=g).clamp(-1, 1)),
        ("no class: 20 % speckle", (torch.rand(x.shape, generator=g) < 0.2).float() * 2 - 1),
    ]
    print(f"\n{judge_file}\n\n| images | confident | accuracy |\n|---|---:|---:|")
    for name, images in cases:
        with torch.no_grad():
            best, label = judge(images).softmax(dim=1).max(dim=1)
        sure = float((best >= CONFIDENCE).float().mean())
        right = "-" if name.startswith("no class") else f"{(label.numpy() == labels).mean():.3f}"
        print(f"| {name} | {sure:.3f} | {right} |")


def _tick_samples(root: Path, name: str, psi: float = 1.0, since: float = 0.0,
                  samples: int = 512):
    """(kimg, `samples` samples [N, 1, RES, RES] in [-1, 1]) for every kept tick model of RUN
    from kimg `since` on, drawn with the same seed for every model (the first 512 are the same
    whatever `samples` is)."""
    import torch

    from liveGAN.models import load_generator

    for path in sorted((root / f"run-{name}" / "tick-models").glob("kimg-*.safetensors")):
        if float(path.stem[5:]) < since:
            continue
        G = load_generator(path, device="cpu")
        g = torch.Generator().manual_seed(999)
        with torch.no_grad():
            images = torch.cat([G(torch.randn(64, G.z_dim, generator=g), None,
                                  truncation_psi=psi, noise_mode="const").float()
                                for _ in range(samples // 64)])
        yield float(path.stem[5:]), images


def rejudge(root: Path, name: str, judge_file: Path, psi: float, since: float = 0.0,
            samples: int = 512) -> None:
    """Score every kept tick model of RUN with another judge (512 samples by default)."""
    from liveGAN.train.judge import ClassCoverage, load_judge

    coverage = ClassCoverage(load_judge(judge_file))
    print(f"\nrun-{name}, judged by {judge_file.name}, psi {psi:g}, {samples} samples\n\n"
          f"| kimg | classes | confident | top class |\n|---:|---:|---:|---:|")
    for kimg, images in _tick_samples(root, name, psi, since, samples):
        m = coverage.measure(images)
        print(f"| {kimg:g} | {m['classes']} | {m['confident']:.3f} | {m['top_class']:.2f} |")


def _split_64():
    """The digits as [N, 1, RES, RES] in [-1, 1], split as write_digits splits them: the 64 of
    small64, 512 new digits after them, and 512 more after those."""
    import torch

    grey, _ = _digits()
    x = torch.from_numpy(grey)[:, None].float() / 127.5 - 1
    order = np.random.default_rng(0).permutation(len(x))
    return x[order[:64]], x[order[64:576]], x[order[576:1088]]


def copies(root: Path, name: str, since: float = 0.0) -> None:
    """How close each tick's samples come to copying the 64 training images of a small64 run:
    the distance from each sample to its nearest training image (mean absolute difference per
    pixel, [-1, 1] scale), against the same for 512 real digits that are not in the set. A
    'near copy' is a sample closer to a training image than 95 % of those new digits are."""
    import torch

    train_set, new, _ = _split_64()
    train_set, new = train_set.flatten(1), new.flatten(1)

    def nearest(images):
        return torch.cdist(images.flatten(1), train_set, p=1).min(dim=1).values / (RES * RES)

    base = nearest(new)
    line = float(base.quantile(0.05))
    print(f"\nrun-{name}: new digits' nearest distance median {float(base.median()):.3f}, "
          f"5th percentile {line:.3f}\n\n| kimg | samples' median | near copies |\n"
          f"|---:|---:|---:|")
    for kimg, images in _tick_samples(root, name, since=since):
        d = nearest(images.clamp(-1, 1))
        print(f"| {kimg:g} | {float(d.median()):.3f} | {float((d < line).float().mean()):.2f} |")


def heldout(root: Path, name: str, since: float = 0.0) -> None:
    """Does a small64 run learn digits or its 64 images? Each tick's 512 samples against 512
    real digits that are NOT in the set (coverage and density in the loop's random features),
    beside the same against the 64 training images. Two references: 512 other new digits (a
    generator that has learned the digits) and the 64 training images themselves (one that
    copies its set perfectly)."""
    from liveGAN.train.diversity import Diversity

    train_set, new, other = _split_64()
    on_new, on_train = Diversity(new), Diversity(train_set)

    def row(label, images):
        a, b = on_new.measure(images), on_train.measure(images)
        print(f"| {label} | {a['coverage']:.2f} | {a['density']:.2f} | {b['coverage']:.2f} | "
              f"{b['density']:.2f} |")

    print(f"\nrun-{name}: coverage / density against 512 new digits and against the 64 "
          f"training images\n\n| kimg | new: coverage | new: density | set: coverage | "
          f"set: density |\n|---|---:|---:|---:|---:|")
    row("512 other new digits", other)
    row("the 64 training images", train_set)
    for kimg, images in _tick_samples(root, name, since=since):
        row(f"{kimg:g}", images.clamp(-1, 1))


def overfit(root: Path, name: str, since: float = 0.0) -> None:
    """Is D memorising the 64 images of a small64 run? StyleGAN2-ADA's own test (its Fig. 1b):
    D's mean logit on the 64 training images, on 512 real digits it has never seen, and on 512
    of the tick's samples, for every tick whose D was kept (by `train`, or in the run's
    checkpoints). 'new at' places the new digits on the line from the samples (0) to the
    training images (1): near 1, D tells real digits from generated ones; falling toward 0, it
    has learnt the 64 images rather than the digits, and calls new real digits fake: the
    overfitting that ADA exists to stop. 'negated at' is the same for the new digits negated
    (light ground, dark strokes: what ADA's luma flip made of a grey image; under it D saw
    them among reals and samples at the same rate). 'neg. samples' is D's logit on the tick's
    samples negated: above 'samples', a generator that turns its samples negative gains by
    it."""
    import torch

    from liveGAN.train.loop import TrainConfig, build_discriminator

    train_set, new, _ = _split_64()

    def mean_logit(D, images, batch):
        # In batches of the run's size, as D saw them: its minibatch-std feature depends on it.
        with torch.no_grad():
            return float(torch.cat([D(part) for part in images.split(batch)]).mean())

    print(f"\nrun-{name}: D's mean logit on the 64, on 512 new digits and on 512 samples\n\n"
          f"| kimg | the 64 | new digits | samples | new at | negated | negated at | "
          f"neg. samples |\n|---:|---:|---:|---:|---:|---:|---:|---:|")
    run = root / f"run-{name}"
    # D of every tick: the ones `train` kept, and those still in the run's last checkpoints.
    found = {int(path.stem[5:]) / 1000: path for path in run.glob("checkpoints/ckpt-*.pt")}
    found.update({float(path.stem[7:]): path for path in run.glob("tick-models/D-kimg-*.pt")})
    for kimg, samples in _tick_samples(root, name, since=since):
        if kimg not in found:
            continue
        kept = torch.load(found[kimg], map_location="cpu", weights_only=True)
        g, cfg = kept["G_kwargs"], TrainConfig(**{"d_recon": 0.0, **kept["config"]})
        D = build_discriminator(cfg, kept["arch"], g["img_channels"], g["c_dim"])
        D.load_state_dict(kept["D"])
        D.eval()
        batch = int(cfg.batch)
        a, b = mean_logit(D, train_set, batch), mean_logit(D, new, batch)
        samples = samples.clamp(-1, 1)
        f, nf = mean_logit(D, samples, batch), mean_logit(D, -samples, batch)
        n = mean_logit(D, -new, batch)
        print(f"| {kimg:g} | {a:.2f} | {b:.2f} | {f:.2f} | {(b - f) / (a - f):.2f} | {n:.2f} "
              f"| {(n - f) / (a - f):.2f} | {nf:.2f} |", flush=True)


def turned(root: Path, name: str, judge_file: Path, since: float = 0.0) -> None:
    """Do the augmentations leak? The share of each tick's 512 samples that the judge reads
    confidently (>= 0.9) only when rotated by a quarter turn or more or mirrored, while the
    sample as drawn is a guess (< 0.5). Real digits give about 0 (0.002 of 512); a leak of the
    augmentations into the samples would raise it. Beside it, the colour transforms: the share
    of samples whose frame (the outer 4 pixels) is lighter than mid-grey, as after a luma flip
    or a strong brightness shift; real digits have a black frame. And a grey ground: the share
    whose darkest quarter of pixels is not black (25th percentile above -0.5, on [-1, 1]), as
    when a generator is on its way between dark and light grounds; every real digit's is
    below -0.9."""
    import torch

    from liveGAN.train.judge import ClassCoverage, load_judge

    coverage = ClassCoverage(load_judge(judge_file))

    def share(images):
        with torch.no_grad():
            sure = [coverage.probabilities(torch.rot90(x, k, dims=(-2, -1))).max(1).values
                    for x in (images, images.flip(-1)) for k in range(4)]
        drawn, other = sure[0], torch.stack(sure[1:], 1).max(1).values
        return float(((other >= 0.9) & (drawn < 0.5)).float().mean())

    def light(images):
        frame = torch.ones(images.shape[-2:], dtype=torch.bool)
        frame[4:-4, 4:-4] = False
        return float((images[..., frame].mean(-1).flatten() > 0).float().mean())

    def grey(images):
        return float((images.flatten(1).quantile(0.25, dim=1) > -0.5).float().mean())

    real = torch.from_numpy(_digits()[0][:512]).float()[:, None] / 127.5 - 1
    print(f"\nrun-{name}: read only when turned or mirrored, a light frame and a grey ground (real "
          f"digits: {share(real):.3f}, {light(real):.3f} and {grey(real):.3f})\n\n"
          f"| kimg | turned | light frame | grey ground |\n|---:|---:|---:|---:|")
    for kimg, images in _tick_samples(root, name, since=since):
        images = images.clamp(-1, 1)
        print(f"| {kimg:g} | {share(images):.3f} | {light(images):.3f} | {grey(images):.3f} |",
              flush=True)


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


def _samples(text: str) -> int:
    """--samples: a multiple of 64 from 64 to 65 536."""
    try:
        n = int(text)
    except ValueError:
        n = 0
    if not 64 <= n <= 65536 or n % 64:
        raise argparse.ArgumentTypeError(f"{text!r} is not a multiple of 64 from 64 to 65536")
    return n


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("prepare").add_argument("root", type=Path)
    t = sub.add_parser("train")
    t.add_argument("root", type=Path)
    t.add_argument("name", help="full, small64 or small64-<anything> (the run folder's name)")
    t.add_argument("--kimg", type=float, default=30.0, help="length of the run")
    sub.add_parser("report").add_argument("root", type=Path)
    c = sub.add_parser("judge-check")
    c.add_argument("root", type=Path)
    c.add_argument("--judge", type=Path, help="judge file (default: ROOT/judge.safetensors)")

    def scoring(command: str, runs: str):
        """A subcommand that scores the kept tick models of one run."""
        p = sub.add_parser(command)
        p.add_argument("root", type=Path)
        p.add_argument("name", help=f"{runs} (ROOT/run-NAME)")
        p.add_argument("--since", type=float, default=0.0, metavar="KIMG",
                       help="score only the tick models from this kimg on")
        return p

    r = scoring("rejudge", "the run")
    r.add_argument("--psi", type=float, default=1.0, help="truncation of the samples")
    r.add_argument("--samples", type=_samples, default=512, metavar="N",
                   help="samples per tick model, a multiple of 64 (default 512)")
    for judged in (r, scoring("turned", "the run")):
        judged.add_argument("--judge", type=Path,
                            help="judge file (default: ROOT/judge.safetensors)")
    for command in ("copies", "heldout", "overfit"):
        scoring(command, "a small64 run")
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "train":  # only `train` passes options on (to livegan train)
        parser.error(f"{args.command}: unknown option(s): {' '.join(extra)}")
    if args.command in ("judge-check", "rejudge", "turned") and args.judge is None:
        args.judge = args.root / "judge.safetensors"
    if args.command == "judge-check":
        judge_check(args.judge)
        return 0
    if args.command == "rejudge":
        rejudge(args.root, args.name, args.judge, args.psi, args.since, args.samples)
        return 0
    if args.command == "copies":
        copies(args.root, args.name, args.since)
        return 0
    if args.command == "turned":
        turned(args.root, args.name, args.judge, args.since)
        return 0
    if args.command == "heldout":
        heldout(args.root, args.name, args.since)
        return 0
    if args.command == "overfit":
        overfit(args.root, args.name, args.since)
        return 0
    if args.command == "prepare":
        write_digits(args.root)
        return 0
    if args.command == "train":
        return train(args.root, args.name, args.kimg, extra)
    report(args.root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
