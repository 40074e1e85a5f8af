"""Loading any PyTorch generator: the user's own class, weights read as data.

Place in the data flow: patch `[model] custom = "module:callable"` + weights file -> **custom**
-> `networks/custom.py`'s wrapper -> runtime. The user's module is imported because the patch
names it (their own code); the weights file is only read as data (safetensors, or
`torch.load(weights_only=True)`).
"""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from liveGAN.models import ModelLoadError
from liveGAN.models.networks.custom import CustomGenerator


def _factory(spec: str, path: Path):
    module_name, _, attr = (spec or "").partition(":")
    if not module_name or not attr:
        raise ModelLoadError(f"{path}: custom factory {spec!r} must be 'module:callable'")
    try:
        target = importlib.import_module(module_name)
        for part in attr.split("."):
            target = getattr(target, part)
    except ImportError as err:
        raise ModelLoadError(f"{path}: cannot import custom factory module {module_name!r} "
                             f"({err})") from None
    except AttributeError:
        raise ModelLoadError(f"{path}: module {module_name!r} has no {attr!r}") from None
    if not callable(target):
        raise ModelLoadError(f"{path}: custom factory {spec!r} is not callable")
    return target


def _read_weights(path: Path) -> dict[str, torch.Tensor]:
    from liveGAN.models.formats.common import sniff_format

    kind = sniff_format(path)
    if kind == "native":
        from safetensors.torch import load_file

        try:
            return load_file(str(path), device="cpu")
        except Exception as err:
            raise ModelLoadError(f"{path}: cannot read the tensors ({err})") from None
    try:
        data = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ModelLoadError(f"{path}: not a weights-only PyTorch state dict ({first})") from None
    # Training scripts often nest the weights one level down.
    for key in ("state_dict", "model", "generator", "g_ema", "G_ema"):
        if isinstance(data, dict) and isinstance(data.get(key), dict):
            data = data[key]
            break
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise ModelLoadError(f"{path}: expected a state dict (names -> tensors)")
    return data


def load_custom(path, device: Any = "cpu", *, factory: str | None, z_dim: int | None,
                output_range: Sequence[float] = (-1.0, 1.0)) -> CustomGenerator:
    """Build `factory()`, load the weights at `path` into it, and wrap it (eval, no grads)."""
    path = Path(path)
    if z_dim is None or int(z_dim) < 1:
        raise ModelLoadError(f"{path}: a custom generator needs its z size (model.z_dim)")
    if not path.is_file():
        raise ModelLoadError(f"{path}: no such weights file")
    make = _factory(factory or "", path)
    try:
        net = make()
    except Exception as err:
        raise ModelLoadError(f"{path}: custom factory {factory} failed: "
                             f"{type(err).__name__}: {err}") from None
    if not isinstance(net, nn.Module):
        raise ModelLoadError(f"{path}: custom factory {factory} returned a "
                             f"{type(net).__name__}, not a torch.nn.Module")
    state = _read_weights(path)
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as err:
        first = str(err).strip().splitlines()
        raise ModelLoadError(f"{path}: weights do not fit {factory} "
                             f"({' '.join(s.strip() for s in first[:3])})") from None
    net.eval()
    try:
        G = CustomGenerator(net, int(z_dim), output_range)
    except (ValueError, RuntimeError, TypeError) as err:
        raise ModelLoadError(f"{path}: {factory} with z_dim {z_dim}: {err}") from None
    G.source_format = "custom"
    G.architecture = f"custom:{factory}"
    from liveGAN.models.formats.common import to_device

    return to_device(G, device, path)
