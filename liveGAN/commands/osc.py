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
        from liveGAN.sources.osc import send

        send(args.address, *args.values, port=args.port, host=args.host)
        return 0
    from liveGAN.params import format_table
    from liveGAN.patch import PatchError, load_patch
    from liveGAN.show.scene import patch_registry

    try:
        patch = load_patch(resolve_patch(args.patch))
    except PatchError as err:
        print(f"patch has errors:\n{err}", file=sys.stderr)
        return 1
    registry, problems = patch_registry(patch)
    for problem in problems:
        print(problem, file=sys.stderr)
    values = start_values(patch, registry)
    if args.markdown:
        print(format_table(registry, values))
        return 0
    print(f"{'address':<36} {'type':<8} {'range':<15} {'value':<8} description")
    for p in registry:
        kind = "readonly" if p.readonly else p.kind
        print(f"{p.address:<36} {kind:<8} {p.range_text:<15} {values[p.key]:<8} "
              f"{p.description}")
    for spec in patch.mappings:
        print(f"{spec.source:<36} {'mapped':<8} {'':<15} {'':<8} -> {spec.target} "
              f"({spec.curve})")
    return 1 if problems else 0


def start_values(patch, registry) -> dict[str, str]:
    """Each parameter's value when the patch starts (the patch's own, else the default), as
    text; a value the patch sets outside the range shows clamped, as the show would play it."""
    from liveGAN.params import ParamError

    shown = {}
    for param in registry:
        text = param.default_text
        if param.key in patch.values and param.kind != "trigger":
            try:
                value = param.typed(param.coerce(patch.values[param.key]))
                text = f"{value:g}" if isinstance(value, float) else str(int(value))
            except ParamError:
                pass
        shown[param.key] = text
    return shown
