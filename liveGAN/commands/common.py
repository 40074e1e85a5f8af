"""Shared pieces of the performance commands (run, render, check, osc)."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from liveGAN.resources import default_patch, patches_dir


def add_patch_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("patch", nargs="?", default=None,
                        help="patch file (.toml); a name like 'default' finds a shipped patch; "
                             "omitted: the default patch")


def resolve_patch(name: str | None) -> Path:
    """A patch path from what the user typed: a file, or the name of a shipped patch."""
    if name is None:
        return default_patch()
    path = Path(name)
    if path.is_file():
        return path
    shipped = patches_dir() / (name if name.endswith(".toml") else name + ".toml")
    return shipped if shipped.is_file() else path


def parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
        if width <= 0 or height <= 0:
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 1280x720, not {text!r}") from None
    return width, height


def display_available() -> bool:
    """Whether a window can open: a display server, or SDL told to draw offscreen."""
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
                or os.environ.get("SDL_VIDEODRIVER") in ("offscreen", "kmsdrm", "windows",
                                                          "cocoa")
                or os.name == "nt")
