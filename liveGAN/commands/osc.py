"""`livegan osc list [PATCH]` prints the OSC address space; `livegan osc send ADDRESS VALUE`."""
from __future__ import annotations

import argparse
import sys

from liveGAN.commands.common import resolve_patch


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="osc_command", metavar="ACTION", required=True)
    listing = sub.add_parser("list", help="print the address space of a patch",
                             description="print the OSC address space of a patch")
    listing.add_argument("patch", nargs="?", default=None, help="patch (default: the default)")
    listing.add_argument("--markdown", action="store_true", help="as a Markdown table")
    send = sub.add_parser("send", help="send one OSC message (for testing a running show)",
                          description="send one OSC message (for testing a running show)")
    send.add_argument("address")
    send.add_argument("values", nargs="*", type=float)
    send.add_argument("--port", type=int, default=9000)
    send.add_argument("--host", default="127.0.0.1")


def run(args: argparse.Namespace) -> int:
    if args.osc_command == "send":
        from liveGAN.signals.osc import send

        send(args.address, *args.values, port=args.port, host=args.host)
        return 0
    from liveGAN.commands.scene_params import patch_registry
    from liveGAN.params import format_table
    from liveGAN.patch import PatchError, load_patch

    try:
        patch = load_patch(resolve_patch(args.patch))
    except PatchError as err:
        print(f"patch has errors:\n{err}", file=sys.stderr)
        return 1
    registry, problems = patch_registry(patch)
    for problem in problems:
        print(problem, file=sys.stderr)
    if args.markdown:
        print(format_table(registry))
        return 0
    for p in registry:
        print(f"{p.address:<36} {p.kind:<8} {p.range_text:<15} {p.default_text:<6} "
              f"{p.description}")
    for spec in patch.mappings:
        print(f"{spec.source:<36} {'mapped':<8} {'':<15} {'':<6} -> {spec.target} "
              f"({spec.curve})")
    return 1 if problems else 0
