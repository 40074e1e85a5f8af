"""The light generator: a slim StyleGAN2 that trains on a CPU and plays live at batch 1.

Place in the data flow: `livegan train --arch light` -> native model file -> loaders ->
**light.Generator** -> runtime -> engine. It follows the same contract as the StyleGAN ports
(`z_dim, c_dim, w_dim, num_ws, img_resolution, img_channels`, `mapping(...)` with a tracked
`w_avg`, `synthesis(ws, noise_mode=...)` in [-1, 1]) so everything downstream (latent walks,
truncation, style mixing, per-layer noise gains) works unchanged.

What makes it light, and why:
- channels shrink fast with resolution (`channel_base // res`, capped at `channel_max`), so the
  128² layers are ~16 channels wide: most of the cost of a StyleGAN2 is the high-res convs;
- modulation scales the activations instead of the weights ("non-fused" modulated conv), which
  is one ordinary conv for any batch size, the fastest path on CPU;
- upsampling is bilinear interpolation (no FIR filter conv), and the mapping net is short
  (2 layers by default): the styles only have to span a small data set.
- skip-architecture toRGB outputs are summed across resolutions like StyleGAN2, which keeps
  training stable without progressive growing.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

NOISE_MODES = ("const", "random", "none")


def channels_at(res: int, channel_base: int, channel_max: int) -> int:
    """Feature channels of the layers at resolution `res` (never fewer than 8)."""
    return int(max(8, min(channel_base // res, channel_max)))


class EqualLinear(nn.Module):
    """Fully connected layer with equalised learning rate (weights scaled at run time)."""

    def __init__(self, in_features: int, out_features: int, bias_init: float = 0.0,
                 lr_multiplier: float = 1.0, activation: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init)))
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.linear(x, self.weight * self.weight_gain, self.bias * self.bias_gain)
        # sqrt(2) keeps the activations' variance at 1 through leaky ReLUs.
        return F.leaky_relu(x, 0.2) * math.sqrt(2) if self.activation else x


class MappingNetwork(nn.Module):
    """z (and optional class c) -> w, broadcast to `num_ws` rows; tracks `w_avg` for truncation."""

    def __init__(self, z_dim: int, c_dim: int, w_dim: int, num_ws: int, num_layers: int = 2,
                 lr_multiplier: float = 0.01, w_avg_beta: float = 0.995) -> None:
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim, self.num_ws = z_dim, c_dim, w_dim, num_ws
        self.w_avg_beta = w_avg_beta
        self.embed = EqualLinear(c_dim, w_dim) if c_dim > 0 else None
        features = [z_dim + (w_dim if c_dim > 0 else 0)] + [w_dim] * num_layers
        self.layers = nn.ModuleList(
            EqualLinear(features[i], features[i + 1], lr_multiplier=lr_multiplier,
                        activation=True) for i in range(num_layers))
        self.register_buffer("w_avg", torch.zeros([w_dim]))

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, truncation_psi: float = 1,
                truncation_cutoff: int | None = None, update_emas: bool = False) -> torch.Tensor:
        # Normalise z onto the sphere so its scale never matters (as StyleGAN2 does).
        x = z * (z.square().mean(dim=1, keepdim=True) + 1e-8).rsqrt()
        if self.embed is not None:
            if c is None:
                raise ValueError(f"this generator is conditional (c_dim={self.c_dim}): pass c")
            y = self.embed(c.to(x.dtype))
            y = y * (y.square().mean(dim=1, keepdim=True) + 1e-8).rsqrt()
            x = torch.cat([x, y], dim=1)
        for layer in self.layers:
            x = layer(x)
        if update_emas:
            with torch.no_grad():
                self.w_avg.copy_(x.detach().float().mean(dim=0).lerp(self.w_avg,
                                                                     self.w_avg_beta))
        x = x.unsqueeze(1).repeat(1, self.num_ws, 1)
        if truncation_psi != 1:
            cutoff = self.num_ws if truncation_cutoff is None else int(truncation_cutoff)
            head = self.w_avg.to(x.dtype).lerp(x[:, :cutoff], truncation_psi)
            x = torch.cat([head, x[:, cutoff:]], dim=1)
        return x


class ModulatedConv(nn.Module):
    """Style-modulated 3x3 conv + per-pixel noise + bias + leaky ReLU (one StyleGAN2 layer).

    Modulation/demodulation are applied to the activations around a plain conv: for a conv
    without groups this is exactly StyleGAN2's weight modulation, and it is one conv call
    whatever the batch, which is what a CPU runs fastest.
    """

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int,
                 use_noise: bool = True) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.resolution = in_channels, out_channels, resolution
        self.affine = EqualLinear(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 3, 3))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.use_noise = use_noise
        if use_noise:
            self.register_buffer("noise_const", torch.randn(resolution, resolution))
            self.noise_strength = nn.Parameter(torch.zeros([]))
            # Live control, not a weight: kept out of the state_dict.
            self.register_buffer("noise_gain", torch.ones([]), persistent=False)

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        styles = self.affine(w)                                      # [N, in]
        weight = self.weight / math.sqrt(self.in_channels * 9)
        # Demodulation: the expected output std of each output channel given these styles.
        demod = (torch.einsum("oikl,ni->no", weight.square(), styles.square()) + 1e-8).rsqrt()
        x = F.conv2d(x * styles[:, :, None, None], weight, padding=1)
        x = x * demod[:, :, None, None]
        if self.use_noise and noise_mode != "none":
            strength = self.noise_strength * self.noise_gain
            if noise_mode == "random":
                noise = torch.randn(x.shape[0], 1, self.resolution, self.resolution,
                                    device=x.device, dtype=x.dtype)
            else:
                noise = self.noise_const.to(x.dtype)
            x = x + noise * strength.to(x.dtype)
        x = x + self.bias.to(x.dtype)[None, :, None, None]
        return F.leaky_relu(x, 0.2) * math.sqrt(2)


class ToRGB(nn.Module):
    """Modulated 1x1 conv to image channels, no demodulation (the skip-architecture output)."""

    def __init__(self, in_channels: int, img_channels: int, w_dim: int) -> None:
        super().__init__()
        self.affine = EqualLinear(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(img_channels, in_channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(img_channels))
        self.weight_gain = 1 / math.sqrt(in_channels)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain
        x = F.conv2d(x * styles[:, :, None, None], self.weight)
        return x + self.bias.to(x.dtype)[None, :, None, None]


class SynthesisBlock(nn.Module):
    """One resolution: (learned constant, or 2x bilinear upsampling + conv) + conv + toRGB."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int,
                 img_channels: int, use_noise: bool) -> None:
        super().__init__()
        self.resolution = resolution
        if resolution == 4:
            self.const = nn.Parameter(torch.randn(out_channels, 4, 4))
            self.conv0 = None
        else:
            self.conv0 = ModulatedConv(in_channels, out_channels, w_dim, resolution, use_noise)
        self.conv1 = ModulatedConv(out_channels, out_channels, w_dim, resolution, use_noise)
        self.torgb = ToRGB(out_channels, img_channels, w_dim)
        self.num_conv = 1 if self.conv0 is None else 2

    def forward(self, x, img, ws: torch.Tensor, noise_mode: str):
        """ws holds this block's rows: [conv0], conv1, torgb (the toRGB row is shared with the
        next block's first conv, as in StyleGAN2)."""
        if self.conv0 is None:
            x = self.const.to(ws.dtype).unsqueeze(0).expand(ws.shape[0], -1, -1, -1)
            x = self.conv1(x, ws[:, 0], noise_mode)
        else:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
            x = self.conv0(x, ws[:, 0], noise_mode)
            x = self.conv1(x, ws[:, 1], noise_mode)
        y = self.torgb(x, ws[:, self.num_conv])
        if img is not None:
            img = F.interpolate(img, scale_factor=2, mode="bilinear", align_corners=False)
            y = y + img
        return x, y


class SynthesisNetwork(nn.Module):
    """W+ [N, num_ws, w_dim] -> image [N, img_channels, R, R]."""

    def __init__(self, w_dim: int, img_resolution: int, img_channels: int,
                 channel_base: int, channel_max: int, use_noise: bool) -> None:
        super().__init__()
        log2 = int(round(math.log2(img_resolution)))
        if img_resolution < 8 or 2 ** log2 != img_resolution:
            raise ValueError(f"img_resolution must be a power of two >= 8, got {img_resolution}")
        self.w_dim, self.img_resolution, self.img_channels = w_dim, img_resolution, img_channels
        self.resolutions = [2 ** i for i in range(2, log2 + 1)]
        self.blocks = nn.ModuleList()
        in_ch = 0
        for res in self.resolutions:
            out_ch = channels_at(res, channel_base, channel_max)
            self.blocks.append(SynthesisBlock(in_ch, out_ch, w_dim, res, img_channels, use_noise))
            in_ch = out_ch
        # Same count as StyleGAN2: 2 rows per resolution, minus 2 (the 4x4 block has one conv,
        # and the last toRGB row is its own).
        self.num_ws = 2 * len(self.resolutions)

    def forward(self, ws: torch.Tensor, noise_mode: str = "const", force_fp32: bool = False,
                fused_modconv: bool | None = None, update_emas: bool = False) -> torch.Tensor:
        """Render `ws`; noise_mode 'const' (fixed per-layer noise), 'random' or 'none'.

        `force_fp32`, `fused_modconv` and `update_emas` are the official synthesis keywords,
        accepted so callers written for StyleGAN work unchanged; this network has no fp16
        layers, one modulation path and no EMAs in synthesis, so they change nothing.
        """
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")
        if ws.ndim != 3 or ws.shape[1] != self.num_ws or ws.shape[2] != self.w_dim:
            raise ValueError(f"ws must be [N, {self.num_ws}, {self.w_dim}], got {tuple(ws.shape)}")
        x = img = None
        row = 0
        for block in self.blocks:
            x, img = block(x, img, ws[:, row: row + block.num_conv + 1], noise_mode)
            row += block.num_conv
        return img


class Generator(nn.Module):
    """The light generator; every constructor argument is JSON-able (the native format stores them).

    Default widths at 128²: 256 channels at 4-8², 128 at 16², 64 at 32², 32 at 64², 16 at 128²
    (the default model uses channel_base=1024: half of that from 8² up).
    """

    def __init__(self, z_dim: int = 256, c_dim: int = 0, w_dim: int = 256,
                 img_resolution: int = 128, img_channels: int = 3, channel_base: int = 2048,
                 channel_max: int = 256, mapping_layers: int = 2, use_noise: bool = True) -> None:
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim = int(z_dim), int(c_dim), int(w_dim)
        self.img_resolution, self.img_channels = int(img_resolution), int(img_channels)
        self.synthesis = SynthesisNetwork(self.w_dim, self.img_resolution, self.img_channels,
                                          int(channel_base), int(channel_max), bool(use_noise))
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(self.z_dim, self.c_dim, self.w_dim, self.num_ws,
                                      num_layers=int(mapping_layers))
        self.init_kwargs = dict(z_dim=self.z_dim, c_dim=self.c_dim, w_dim=self.w_dim,
                                img_resolution=self.img_resolution,
                                img_channels=self.img_channels, channel_base=int(channel_base),
                                channel_max=int(channel_max), mapping_layers=int(mapping_layers),
                                use_noise=bool(use_noise))

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, truncation_psi: float = 1,
                truncation_cutoff: int | None = None, noise_mode: str = "const",
                update_emas: bool = False, **synthesis_kwargs) -> torch.Tensor:
        """z -> image in [-1, 1] (mapping then synthesis)."""
        ws = self.mapping(z, c, truncation_psi=truncation_psi,
                          truncation_cutoff=truncation_cutoff, update_emas=update_emas)
        return self.synthesis(ws, noise_mode=noise_mode, **synthesis_kwargs)


def noise_layers(G: nn.Module) -> list[tuple[str, ModulatedConv]]:
    """The noise-adding layers of `G`, coarse to fine (set `layer.noise_gain` for live control)."""
    return [(name, m) for name, m in G.named_modules()
            if isinstance(m, ModulatedConv) and m.use_noise]


def parameter_count(G: nn.Module) -> int:
    """Number of trainable numbers in `G`."""
    return int(sum(np.prod(p.shape) for p in G.parameters()))
