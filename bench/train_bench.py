"""Benchmark of the light architecture: training images/s and live inference ms/frame.

    python bench/train_bench.py [--res 64 128] [--threads 1] [--precision fp32 bf16] [--ticks 5]
                                [--channel-base 1024] [--no-inference]

Training: runs the real `livegan train` loop (light arch, ADA, R1, EMA; SWD off) on a small
procedural data set and reports images/s per tick (median and spread over ticks; the first tick
is dropped as warm-up). Inference: the generator at batch 1 (mapping + synthesis, const noise),
ms/frame over many frames, for the default model's width. On a shared machine the numbers move
with the load: read the spread, and rerun when the machine is quiet.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import percentiles, row  # noqa: E402


def bench_training(res: int, threads: int, ticks: int, channel_base: int, batch: int,
                   precision: str = "fp32") -> list:
    from liveGAN.train import procedural
    from liveGAN.train.loop import TrainConfig, train
    from liveGAN.files import write_png

    work = Path(tempfile.mkdtemp(prefix="livegan-train-bench-"))
    data = work / "data"
    data.mkdir()
    for i in range(64):
        write_png(data / f"{i:03d}.png", procedural.make_image(res, procedural.image_rng(1, i)))
    tick_kimg = batch * 8 / 1000   # 8 steps per tick
    cfg = TrainConfig(data=str(data), out=str(work / "run"), res=res, arch="light", batch=batch,
                      kimg=tick_kimg * (ticks + 1), tick=tick_kimg, aug="ada", swd_every=0,
                      channel_base=channel_base, threads=threads, precision=precision,
                      progress=False)
    train(cfg, log=lambda m: None)
    rows = [json.loads(x) for x in (work / "run" / "metrics.jsonl").read_text().splitlines()]
    return [r["img_per_s"] for r in rows[1:]]


def bench_inference(res: int, threads: int, frames: int, channel_base: int) -> list:
    import torch

    from liveGAN.models.networks.light import Generator

    torch.set_num_threads(threads)
    G = Generator(img_resolution=res, channel_base=channel_base).eval()
    times = []
    with torch.no_grad():
        z = torch.randn(1, G.z_dim)
        for i in range(frames + 5):
            t = time.perf_counter()
            G(z, None, noise_mode="const")
            if i >= 5:
                times.append(time.perf_counter() - t)
            z = z + 0.01 * torch.randn_like(z)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--res", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--threads", type=int, nargs="+", default=[1])
    parser.add_argument("--precision", nargs="+", default=["fp32"], choices=["fp32", "bf16"],
                        help="training precision(s); bf16 = autocast")
    parser.add_argument("--no-inference", action="store_true", help="training figures only")
    parser.add_argument("--ticks", type=int, default=5)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--channel-base", type=int, default=1024,
                        help="light width (1024: the default model's)")
    args = parser.parse_args()

    print(f"## light training (batch {args.batch}, channel_base {args.channel_base})\n")
    print("| res | threads | precision | img/s median | min | max | ticks |")
    print("|---|---|---|---|---|---|---|")
    for res in args.res:
        for threads in args.threads:
            for precision in args.precision:
                rates = bench_training(res, threads, args.ticks, args.channel_base, args.batch,
                                       precision)
                print(f"| {res} | {threads} | {precision} | {statistics.median(rates):.1f} | "
                      f"{min(rates):.1f} | {max(rates):.1f} | {len(rates)} |", flush=True)
    if args.no_inference:
        return 0

    print(f"\n## light inference, batch 1 (ms/frame, {args.frames} frames)\n")
    print("| case | p50 | p10 | p90 | p99 | max | fps at p50 |")
    print("|---|---|---|---|---|---|---|")
    for res in args.res:
        for threads in args.threads:
            stats = percentiles(bench_inference(res, threads, args.frames, args.channel_base))
            print(row(f"{res}² {threads} thread(s)", stats, f"{1000 / stats['p50']:.0f}"),
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
