"""`livegan render PATCH --out FILE`: render a patch offline, deterministically, to a video.

`livegan render --replay LOG --out FILE` renders a recorded performance again (the log a live
show writes beside its recording, `show.livegan.jsonl.gz`): the same events, edits, seeds and
frame times, at any size (`--size`) and, with `--fps`, on a regular frame grid.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from liveGAN.commands.common import add_patch_argument, parse_size, resolve_patch


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_patch_argument(parser)
    parser.add_argument("--out", type=Path, required=True, help="video file (.mp4 or .mkv)")
    parser.add_argument("--replay", type=Path, metavar="LOG",
                        help="render the performance log of a recorded live show "
                             "(PATCH, --frames and --duration come from the log)")
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--frames", type=int, help="number of frames")
    length.add_argument("--duration", type=float, help="length in seconds")
    parser.add_argument("--size", type=parse_size, help="output size WxH")
    parser.add_argument("--fps", type=float,
                        help="frame rate (patch: output.fps; a replay: the recorded frame times)")
    parser.add_argument("--seed", type=int, help="seed of the latent walk")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"))


def run(args: argparse.Namespace) -> int:
    from liveGAN.commands.run import play
    from liveGAN.show.options import RunOptions

    if args.replay is not None:
        return replay(args)
    if args.frames is None and args.duration is None:
        print("render: give the length with --frames N or --duration SECONDS "
              "(or --replay LOG)", file=sys.stderr)
        return 2
    options = RunOptions(headless=True, offline=True, frames=args.frames,
                         duration=args.duration, size=args.size, fps=args.fps,
                         record=args.out, no_osc=True, seed=args.seed, device=args.device,
                         watch=False, progress=True)
    return play(resolve_patch(args.patch), options)


def replay(args: argparse.Namespace) -> int:
    """Render the performance log `args.replay`; says whether every frame matched."""
    from liveGAN.commands.run import play
    from liveGAN.patch import PatchError
    from liveGAN.show.performance import LogError, Replay

    if args.patch is not None or args.frames is not None or args.duration is not None \
            or args.seed is not None:
        print("render --replay: the patch, length and seed come from the log; leave out "
              "PATCH, --frames, --duration and --seed", file=sys.stderr)
        return 2
    if args.fps is not None and not 0 < args.fps <= 1000:
        print(f"render --replay: --fps must be in 0..1000, not {args.fps:g}", file=sys.stderr)
        return 2
    try:
        performance = Replay(args.replay, fps=args.fps)
        patch = performance.patch()
    except (LogError, PatchError) as err:
        print(f"cannot replay {args.replay}:\n{err}", file=sys.stderr)
        return 1
    try:
        if not performance.performance.complete:
            print(f"{args.replay}: the log was cut off (the show did not end cleanly); "
                  f"replaying its {performance.frames} frames", flush=True)
        options = performance.options(size=args.size, record=args.out, device=args.device,
                                      progress=True)
        code = play(patch, options)
        if code == 0:
            print(performance.summary(), flush=True)
        return code
    finally:
        performance.close()
