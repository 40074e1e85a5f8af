"""`livegan shaders`: list the shader effects on the search path and their parameters.

Place in the data flow: a reference for the person writing a patch's `[shaders]` chain; it reads
effect files only (no GL context), the same way the chain does, so what it lists is what plays.
"""
from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--path", action="append", default=[], metavar="DIR",
                        help="also look for effects in DIR (before the shipped ones; repeatable)")
    parser.add_argument("--template", action="store_true",
                        help="print a commented template for a new effect and exit")


def _format_range(spec) -> str:
    if spec.kind == "bool":
        return "0/1"
    if spec.kind == "int":
        return f"{int(spec.min)}..{int(spec.max)}"
    return f"{spec.min:g}..{spec.max:g}"


def _format_default(spec) -> str:
    if spec.kind == "bool":
        return "true" if spec.default else "false"
    return str(int(spec.default)) if spec.kind == "int" else f"{spec.default:g}"


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from liveGAN.render.shaders import (TEMPLATE, ShaderError, list_effects, parse_effect,
                                        search_path)

    if args.template:
        print(TEMPLATE, end="")
        return 0
    for folder in args.path:
        if not Path(folder).is_dir():
            print(f"livegan shaders: --path {folder}: no such folder", file=sys.stderr)
            return 1
    path = search_path(args.path)
    print("search path: " + ", ".join(str(p) for p in path))
    failed = False
    for name, file in list_effects(path).items():
        try:
            effect = parse_effect(file)
        except ShaderError as exc:
            print(f"livegan shaders: {exc}", file=sys.stderr)
            failed = True
            continue
        print()
        print(f"{name}  ({file})")
        if effect.description:
            print(f"  {effect.description}")
        rows = [(s.name, s.kind, _format_range(s), _format_default(s),
                 f"{s.smoothing:g}s" if s.smoothing else "-", s.description) for s in effect.params]
        if not rows:
            print("  (no parameters)")
            continue
        header = ("param", "type", "range", "default", "smooth", "description")
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(5)]
        for row in [header, *rows]:
            cells = [row[i].ljust(widths[i]) for i in range(5)]
            print("  " + "  ".join(cells) + "  " + row[5])
    return 1 if failed else 0
