"""Any PyTorch generator, wrapped to play like a StyleGAN.

Place in the data flow: the user's own z -> image network (built by `formats/custom.py`) ->
**custom wrapper** -> a generator with the common contract (`z_dim`, `w_dim`, `num_ws`, `c_dim`,
`mapping`, `synthesis`) -> runtime.

The wrapper's W space is z itself: `num_ws = 1`, and truncation pulls z toward 0 (the mean of
the normal prior), which is what truncation means for a generator without a mapping network.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn


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
