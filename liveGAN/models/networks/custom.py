"""Any PyTorch generator, wrapped to play like a StyleGAN.

Place in the data flow: the user's own z -> image network (built by `formats/custom.py`) ->
**custom wrapper** -> a generator with the common contract (`z_dim`, `w_dim`, `num_ws`, `c_dim`,
`mapping`, `synthesis`) -> runtime.

The wrapper's W space is z itself, flattened: `num_ws = 1`, `w_dim = z_dim`, and truncation pulls
z toward 0 (the mean of the normal prior), which is what truncation means for a generator without
a mapping network. The network is called with z in the shape it wants (`z_shape`, e.g.
`[100, 1, 1]` for a DCGAN whose first layer is a transposed convolution), so its own class and
weight names stay untouched.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import torch
from torch import nn


# A transposed convolution as first layer takes z as a 1-pixel image: its spatial dimensions.
_TRANSPOSED_DIMS = {nn.ConvTranspose1d: 1, nn.ConvTranspose2d: 2, nn.ConvTranspose3d: 3}


def first_layer_z_shape(net: nn.Module) -> tuple[str, str, tuple[int, ...]] | None:
    """(layer name, layer kind, the z shape it implies) from the first layer that has weights,
    in registration order, or None when that layer says nothing about z.

    A Linear takes z as [N, in]; a transposed convolution (the DCGAN convention) takes it as a
    1x1 (or 1, or 1x1x1) image with `in_channels` channels. Registration order is usually the
    order of the forward pass; the caller checks the guess with one call.
    """
    for name, module in net.named_modules():
        if isinstance(module, nn.Linear):
            return name, "Linear", (int(module.in_features),)
        spatial = _TRANSPOSED_DIMS.get(type(module))
        if spatial is not None:
            return name, type(module).__name__, (int(module.in_channels),) + (1,) * spatial
        if any(p is not None for p in module.parameters(recurse=False)):
            return None   # some other first layer (a conv, an embedding): no safe guess
    return None


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
        ws = z.to(torch.float32).reshape(z.shape[0], 1, -1)
        if truncation_psi != 1 and (truncation_cutoff is None or truncation_cutoff > 0):
            ws = self.w_avg.lerp(ws, truncation_psi)
        return ws


class RescaledSynthesis(nn.Module):
    """ws [N, 1, z_dim] -> the user's network on ws[:, 0] shaped as `z_shape`, output range
    mapped to [-1, 1]."""

    def __init__(self, net: nn.Module, output_range: Sequence[float],
                 z_shape: Sequence[int]) -> None:
        super().__init__()
        self.net = net
        low, high = float(output_range[0]), float(output_range[1])
        if not high > low:
            raise ValueError(f"output_range must rise (low < high), got {low}, {high}")
        self.low, self.high = low, high
        self.z_shape = tuple(int(s) for s in z_shape)

    def forward(self, ws: torch.Tensor, noise_mode: str = "const", **_: Any) -> torch.Tensor:
        img = self.net(ws[:, 0].reshape(ws.shape[0], *self.z_shape))
        if isinstance(img, (tuple, list)):  # some generators return (image, extras)
            img = img[0]
        return (img.to(torch.float32) - self.low) * (2.0 / (self.high - self.low)) - 1.0


class CustomGenerator(nn.Module):
    """A user's z -> image network with the attributes and methods of our generators.

    `z_shape` is the shape of one z as the network takes it (default `[z_dim]`); `z_dim` is
    its size, the length of the flat latent the walks and controls move.
    """

    def __init__(self, net: nn.Module, z_dim: int, output_range: Sequence[float],
                 z_shape: Sequence[int] | None = None) -> None:
        super().__init__()
        z_shape = tuple(int(s) for s in (z_shape or (z_dim,)))
        if math.prod(z_shape) != int(z_dim) or min(z_shape) < 1:
            raise ValueError(f"z_shape {list(z_shape)} holds {math.prod(z_shape)} numbers, "
                             f"not z_dim {z_dim}")
        self.z_dim = self.w_dim = int(z_dim)
        self.z_shape = z_shape
        self.c_dim, self.num_ws = 0, 1
        self.mapping = IdentityMapping(self.z_dim)
        self.synthesis = RescaledSynthesis(net, output_range, z_shape)
        self.output_range = (self.synthesis.low, self.synthesis.high)
        with torch.no_grad():
            probe = self.synthesis(torch.zeros([1, 1, self.z_dim]))
        if probe.dim() != 4:
            raise ValueError(f"the network returned shape {tuple(probe.shape)} for a batch of "
                             f"one z, expected [N, channels, height, width]")
        self.img_channels, height, width = (int(s) for s in probe.shape[1:])
        self.img_size = (height, width)
        self.img_resolution = max(height, width)

    @property
    def net(self) -> nn.Module:
        """The user's own network (its state dict has the user's weight names)."""
        return self.synthesis.net

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, truncation_psi: float = 1,
                truncation_cutoff: int | None = None, noise_mode: str = "const",
                **_: Any) -> torch.Tensor:
        return self.synthesis(self.mapping(z, c, truncation_psi, truncation_cutoff))
