"""Any PyTorch generator, wrapped to play like a StyleGAN.

Place in the data flow: patch `[model] custom = "module:callable"` + weights file -> **custom**
-> a generator with the common contract (`z_dim`, `w_dim`, `num_ws`, `c_dim`, `mapping`,
`synthesis`) -> runtime. The user's module is imported because the patch names it (their own
code); the weights file is only read as data (safetensors, or `torch.load(weights_only=True)`).

The wrapper's W space is z itself: `num_ws = 1`, and truncation pulls z toward 0 (the mean of
the normal prior), which is what truncation means for a generator without a mapping network.
"""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from liveGAN.models import ModelLoadError


class IdentityMapping(nn.Module):
    """z -> ws [N, 1, z_dim]; truncation scales z toward `w_avg` (zeros)."""

    def __init__(self, z_dim: int) -> None:
        super().__init__()
        self.z_dim = self.w_dim = z_dim
        self.num_ws, self.c_dim = 1, 0
        # The runtime's CUDA-graph path lerps toward `mapping.w_avg`, as for StyleGAN.
        self.register_buffer("w_avg", torch.zeros([z_dim]))

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, truncation_psi: float = 1,
                truncation_cutoff: int | None = None, update_emas: bool = False) -> torch.Tensor:
        ws = z.to(torch.float32).unsqueeze(1)
        if truncation_psi != 1 and (truncation_cutoff is None or truncation_cutoff > 0):
            ws = self.w_avg.lerp(ws, truncation_psi)
        return ws


class RescaledSynthesis(nn.Module):
    """ws [N, 1, z_dim] -> the user's network on ws[:, 0], output range mapped to [-1, 1]."""

    def __init__(self, net: nn.Module, output_range: Sequence[float]) -> None:
        super().__init__()
        self.net = net
        low, high = float(output_range[0]), float(output_range[1])
        if not high > low:
            raise ValueError(f"output_range must rise (low < high), got {low}, {high}")
        self.low, self.high = low, high

    def forward(self, ws: torch.Tensor, noise_mode: str = "const", **_: Any) -> torch.Tensor:
        img = self.net(ws[:, 0])
        if isinstance(img, (tuple, list)):  # some generators return (image, extras)
            img = img[0]
        return (img.to(torch.float32) - self.low) * (2.0 / (self.high - self.low)) - 1.0


class CustomGenerator(nn.Module):
    """A user's z -> image network with the attributes and methods of our generators."""

    def __init__(self, net: nn.Module, z_dim: int, output_range: Sequence[float]) -> None:
        super().__init__()
        self.z_dim = self.w_dim = int(z_dim)
        self.c_dim, self.num_ws = 0, 1
        self.mapping = IdentityMapping(self.z_dim)
        self.synthesis = RescaledSynthesis(net, output_range)
        with torch.no_grad():
            probe = self.synthesis(torch.zeros([1, 1, self.z_dim]))
        if probe.dim() != 4:
            raise ValueError(f"the network returned shape {tuple(probe.shape)} for a batch of "
                             f"one z, expected [N, channels, height, width]")
        self.img_channels, height, width = (int(s) for s in probe.shape[1:])
        self.img_size = (height, width)
        self.img_resolution = max(height, width)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, truncation_psi: float = 1,
                truncation_cutoff: int | None = None, noise_mode: str = "const",
                **_: Any) -> torch.Tensor:
        return self.synthesis(self.mapping(z, c, truncation_psi, truncation_cutoff))


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
    from liveGAN.models.loaders import sniff_format

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
    from liveGAN.models.loaders import to_device

    return to_device(G, device, path)
