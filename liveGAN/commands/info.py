"""`livegan info MODEL`: what a model file holds, without playing it.

Place in the data flow: a command-line view onto the loaders; reads a model file and prints its
format, architecture and sizes. Module-level imports stay light: `livegan --help` imports this.
"""
from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare `livegan info` options (the custom ones mirror the patch's [model] keys)."""
    parser.add_argument("model", help="model file: native .safetensors, NVIDIA .pkl, "
                                      "rosinality .pt, or weights for --custom")
    add_custom_arguments(parser)


def add_custom_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that describe a custom PyTorch generator (shared with `livegan convert`)."""
    parser.add_argument("--custom", metavar="MODULE:CALLABLE",
                        help="build a custom PyTorch generator with this factory")
    parser.add_argument("--z-dim", type=int, help="z size of the custom generator")
    parser.add_argument("--output-range", type=float, nargs=2, metavar=("LOW", "HIGH"),
                        default=(-1.0, 1.0), help="output range of the custom generator")


def custom_spec(args: argparse.Namespace) -> dict | None:
    """The `custom=` argument of load_generator from parsed options, or None."""
    if not getattr(args, "custom", None):
        return None
    return {"factory": args.custom, "z_dim": args.z_dim, "output_range": tuple(args.output_range)}


def report_error(err: BaseException) -> int:
    """Print the one-line message for `err` on stderr and return exit status 1."""
    from liveGAN.errors import user_message

    message = user_message(err)
    if message is None:  # LIVEGAN_DEBUG: show the traceback
        raise err
    print(message, file=sys.stderr)
    return 1


def describe(G) -> list[str]:
    """Lines describing a loaded generator."""
    classes = int(getattr(G, "c_dim", 0) or 0)
    size = getattr(G, "img_size", None) or (G.img_resolution, G.img_resolution)
    count = sum(p.numel() for p in G.parameters())
    lines = [
        f"format:        {getattr(G, 'source_format', '?')}",
        f"architecture:  {getattr(G, 'architecture', '?')}",
        f"resolution:    {size[1]}x{size[0]}, {G.img_channels} channels",
        f"z_dim:         {G.z_dim}",
        f"w_dim:         {G.w_dim}",
        f"num_ws:        {G.num_ws}",
        f"classes:       {classes}" + ("" if classes else " (unconditional)"),
        f"parameters:    {count:,}",
    ]
    meta = getattr(G, "native_metadata", None) or {}
    extra = {k: v for k, v in meta.items()
             if k not in ("format", "architecture", "num_ws", "notes")}
    for key, value in sorted(extra.items()):
        lines.append(f"{key + ':':<15}{value}")
    return lines


def run(args: argparse.Namespace) -> int:
    """Load the model on the CPU and print its description; 1 with one line on failure."""
    try:
        from liveGAN.models import load_generator

        G = load_generator(args.model, "cpu", custom=custom_spec(args))
        print(f"model:         {args.model}")
        for line in describe(G):
            print(line)
        return 0
    except Exception as err:  # every failure is reported as one line, not a traceback
        return report_error(err)
