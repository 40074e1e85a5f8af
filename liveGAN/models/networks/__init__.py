"""The table of generator architectures liveGAN can build: name -> class.

Place in the data flow: model file (native, pickle, rosinality) -> formats -> **networks**
-> a generator module with the official parameter names. Every loader and the native format
name architectures by the keys of `ARCHITECTURES`, so this is the one list of them.
"""
from __future__ import annotations

import importlib
from typing import Any, Mapping

# "module:Class", imported only when that architecture is built: loading a StyleGAN2 model
# never pays for importing the StyleGAN3 or training code.
ARCHITECTURES: dict[str, str] = {
    "stylegan2": "liveGAN.models.networks.stylegan2:Generator",
    "stylegan3": "liveGAN.models.networks.stylegan3:Generator",
    "light": "liveGAN.models.networks.light:Generator",
}

# The official class names found in NVIDIA pickles, mapped to our architectures.
OFFICIAL_CLASSES: dict[str, str] = {
    "training.networks_stylegan2.Generator": "stylegan2",
    "training.networks.Generator": "stylegan2",  # StyleGAN2-ADA-PyTorch names its module so
    "training.networks_stylegan3.Generator": "stylegan3",
}


class UnknownArchitecture(ValueError):
    """An architecture name that is not in the table."""


def resolve(architecture: str) -> type:
    """The generator class of `architecture` (imported on first use)."""
    target = ARCHITECTURES.get(architecture)
    if target is None:
        raise UnknownArchitecture(f"unknown architecture {architecture!r} "
                                  f"(known: {', '.join(sorted(ARCHITECTURES))})")
    module_name, _, class_name = target.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, class_name)


def build(architecture: str, init_kwargs: Mapping[str, Any]) -> Any:
    """A freshly initialised generator of `architecture`, built from its constructor kwargs."""
    cls = resolve(architecture)
    G = cls(**dict(init_kwargs))
    # The loaders and `livegan info` read this back; it also names the model in the HUD.
    G.architecture = architecture
    return G
