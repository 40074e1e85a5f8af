"""Generators and how model files become them.

Place in the data flow: model file -> **models** (loaders, architectures, controls) -> runtime ->
engine. This package's top level stays light (no torch import): `livegan --help` imports the CLI
modules inside it. `load_generator` imports the loaders on first call.
"""
from __future__ import annotations

from typing import Any


class ModelLoadError(Exception):
    """A model file that cannot be loaded; the message names the file and what was wrong."""


def load_generator(path, device: Any = "cpu", *, custom: dict | None = None):
    """Load the generator in the model file at `path` onto `device`, ready to play.

    The format (native .safetensors, NVIDIA .pkl, rosinality .pt, or a custom PyTorch module
    when `custom` gives {"factory": "module:callable", "z_dim": N, "output_range": (lo, hi)})
    is told from the file's content. Returns the module in eval mode, gradients off, with
    `source_format` and `architecture` set. Raises ModelLoadError with one clear message.
    """
    from liveGAN.models.formats import load_generator as _load

    return _load(path, device, custom=custom)


__all__ = ["ModelLoadError", "load_generator"]
