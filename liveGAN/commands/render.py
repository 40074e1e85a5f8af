"""`livegan render PATCH --out FILE`: render a patch offline, deterministically, to a video."""
from __future__ import annotations

import argparse
from pathlib import Path

from liveGAN.commands.common import add_patch_argument, parse_size, resolve_patch


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_patch_argument(parser)
    parser.add_argument("--out", type=Path, required=True, help="video file (.mp4 or .mkv)")
    length = parser.add_mutually_exclusive_group(required=True)
    length.add_argument("--frames", type=int, help="number of frames")
    length.add_argument("--duration", type=float, help="length in seconds")
    parser.add_argument("--size", type=parse_size, help="output size WxH")
    parser.add_argument("--fps", type=float, help="frame rate (patch: output.fps)")
    parser.add_argument("--seed", type=int, help="seed of the latent walk")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"))


def run(args: argparse.Namespace) -> int:
    from liveGAN.commands.run import play
    from liveGAN.show.options import RunOptions

    options = RunOptions(headless=True, offline=True, frames=args.frames,
                         duration=args.duration, size=args.size, fps=args.fps,
                         record=args.out, no_osc=True, seed=args.seed, device=args.device,
                         watch=False, progress=True)
    return play(resolve_patch(args.patch), options)
