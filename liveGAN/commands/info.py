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
    """The options that describe a custom PyTorch generator (shared with `livegan convert`);
    they mirror the patch's [model] keys custom, z_dim, z_shape, output_range, weights_key and
    python_path."""
    parser.add_argument("--custom", metavar="MODULE:CALLABLE",
                        help="build a custom PyTorch generator with this factory")
    parser.add_argument("--z-dim", type=int, help="z size of the custom generator")
    parser.add_argument("--z-shape", type=int, nargs="+", metavar="SIZE",
                        help="shape of one z as the network takes it, e.g. 100 1 1 (default: "
                             "read from its first layer)")
    parser.add_argument("--output-range", type=float, nargs=2, metavar=("LOW", "HIGH"),
                        default=None, help="output range of the custom generator "
                                           "(default: -1 1, or what a converted file records)")
    parser.add_argument("--weights-key", metavar="KEY",
                        help="the generator's state dict inside a checkpoint (default: the one "
                             "dict of tensors that fits the network)")
    parser.add_argument("--python-path", action="append", default=[], metavar="DIR",
                        help="folder to import the factory's module from (repeatable; the "
                             "current folder and the model's folder are searched too)")


def custom_spec(args: argparse.Namespace) -> dict | None:
    """The `custom=` argument of load_generator from parsed options, or None."""
    if not getattr(args, "custom", None):
        return None
    from pathlib import Path

    folders = [*args.python_path, str(Path(args.model).resolve().parent), "."]
    return {"factory": args.custom, "z_dim": args.z_dim, "z_shape": args.z_shape,
            "output_range": tuple(args.output_range) if args.output_range else None,
            "weights_key": args.weights_key, "python_path": folders}


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
    options = getattr(G, "custom_options", None)
    if options:
        lines.append(f"z_shape:       {options['z_shape']}")
        lines.append(f"output_range:  {options['output_range']}")
    meta = getattr(G, "native_metadata", None) or {}
    extra = {k: v for k, v in meta.items()
             if k not in ("format", "architecture", "num_ws", "notes")}
    for key, value in sorted(extra.items()):
        lines.append(f"{key + ':':<15}{value}")
    return lines


def describe_recorded_custom(path, record: dict) -> list[str]:
    """Lines describing a converted custom model from its record alone (no code imported)."""
    return ["format:        native (custom generator)",
            f"architecture:  custom:{record['factory']}",
            f"z_dim:         {record.get('z_dim')}",
            f"z_shape:       {record.get('z_shape')}",
            f"output_range:  {record.get('output_range')}",
            f"to play it:    [model] custom = \"{record['factory']}\" (its code is not in the "
            f"file; `livegan info {path} --custom {record['factory']}` loads it)"]


def run(args: argparse.Namespace) -> int:
    """Load the model on the CPU and print its description; 1 with one line on failure."""
    try:
        from liveGAN.models import load_generator

        if not args.custom:
            from liveGAN.models.formats.custom import read_custom_header

            record = read_custom_header(args.model) if _is_file(args.model) else None
            if record is not None:
                print(f"model:         {args.model}")
                for line in describe_recorded_custom(args.model, record):
                    print(line)
                return 0
        G = load_generator(args.model, "cpu", custom=custom_spec(args))
        print(f"model:         {args.model}")
        for line in describe(G):
            print(line)
        return 0
    except Exception as err:  # every failure is reported as one line, not a traceback
        return report_error(err)


def _is_file(path) -> bool:
    import os

    return os.path.isfile(path)
