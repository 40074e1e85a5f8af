"""Generated parts of the README: the command list, the patch format, the OSC address space.

Each comes from its source of truth (the CLI table and parsers, `patches/template.toml`, the
registry of the default patch), so the README can't drift: `python -m liveGAN.docs` rewrites the
marked sections and `tests/test_docs.py` fails when they are stale.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

from liveGAN.resources import default_patch, patches_dir

README = Path(__file__).resolve().parent.parent / "README.md"


def cli_section() -> str:
    from liveGAN.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    lines = []
    for name, command in sub.choices.items():
        nested = [a for a in command._actions if a.dest == "osc_command"]
        parsers = list(nested[0].choices.values()) if nested else [command]
        for parser_ in parsers:
            usage = " ".join(parser_.format_usage().split())[len("usage: "):]
            lines.append(f"- `{usage}`  \n  {parser_.description or command.description}")
    return "\n".join(lines)


def template_section() -> str:
    text = (patches_dir() / "template.toml").read_text(encoding="utf-8").rstrip()
    return f"```toml\n{text}\n```"


def osc_section() -> str:
    from liveGAN.show.scene import patch_registry
    from liveGAN.params import format_table
    from liveGAN.patch import load_patch

    registry, problems = patch_registry(load_patch(default_patch()))
    if problems:
        raise RuntimeError("the default patch has problems: " + "; ".join(map(str, problems)))
    return format_table(registry)


SECTIONS = {"cli": cli_section, "patch-format": template_section, "osc": osc_section}


def render(text: str) -> str:
    """`text` with every generated section replaced by its current content."""
    for name, make in SECTIONS.items():
        begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
        pattern = re.compile(re.escape(begin) + r"\n.*?" + re.escape(end), re.S)
        if not pattern.search(text):
            raise RuntimeError(f"README has no '{begin}' section")
        section = f"{begin}\n{make()}\n{end}"
        text = pattern.sub(lambda m: section, text)
    return text


def main() -> int:
    current = README.read_text(encoding="utf-8")
    updated = render(current)
    if updated != current:
        tmp = README.with_suffix(".md.tmp")
        tmp.write_text(updated, encoding="utf-8")
        tmp.replace(README)
        print("README.md updated")
    else:
        print("README.md is current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
