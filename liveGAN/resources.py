"""Where the shipped patches, shaders and models are found, installed or in a checkout.

In a wheel, the repository's `patches/` and `shaders/` are installed inside the package
(`liveGAN/patches`, `liveGAN/shaders`, see pyproject.toml); in a checkout or an editable install
they sit beside the package.
"""
from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _shipped(name: str) -> Path:
    inside = _PACKAGE / name
    return inside if inside.is_dir() else _PACKAGE.parent / name


def patches_dir() -> Path:
    """The folder of patches that ship with liveGAN."""
    return _shipped("patches")


def shaders_dir() -> Path:
    """The folder of shader effects that ship with liveGAN."""
    return _shipped("shaders")


def default_patch() -> Path:
    return patches_dir() / "default.toml"
