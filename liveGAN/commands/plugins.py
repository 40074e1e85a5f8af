"""`livegan plugins`: the input and output kinds installed, built-in and third-party."""
from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="as JSON")


def run(args: argparse.Namespace) -> int:
    import json

    from liveGAN.plugins import SINK_GROUP, SOURCE_GROUP, installed

    groups = {"inputs": installed(SOURCE_GROUP), "outputs": installed(SINK_GROUP)}
    if args.json:
        print(json.dumps({title: [{"kind": i.name, "class": i.target, "package": i.distribution,
                                   "summary": i.summary} for i in infos]
                          for title, infos in groups.items()}, indent=2))
        return 0
    for title, infos in groups.items():
        table = "[[inputs]]" if title == "inputs" else "[[outputs]]"
        print(f"{title} ({table} kind = ...):")
        for info in infos:
            print(f"  {info.name:<12} {info.summary}  [{info.distribution}: {info.target}]")
        if not infos:
            print("  (none installed)")
    return 0
