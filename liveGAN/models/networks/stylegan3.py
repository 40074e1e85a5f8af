"""Our StyleGAN3 (alias-free, configs T and R) generator in plain PyTorch.

Place in the data flow: latent (z or W+) -> **generator** -> image tensor [N, C, H, W] in about
[-1, 1]. `Generator(**init_kwargs)` takes the official constructor arguments and loads an
official `state_dict` strictly (names such as `synthesis.input.transform`,
`synthesis.L0_36_512.up_filter`).

Live camera control: the input layer's `transform` buffer (3x3) pans and rotates the Fourier
features the image is built from, as in the official visualizer. `set_input_transform` writes
it in place so a captured CUDA graph keeps reading the same memory.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from liveGAN.models.networks.ops import (design_lowpass_filter, filtered_lrelu, modulated_conv2d_sg3,
                                normalize_2nd_moment)
from liveGAN.models.networks import stylegan2
from liveGAN.models.networks.stylegan2 import NOISE_MODES, FullyConnectedLayer, uses_truncation, check_ws


class MappingNetwork(nn.Module):
    """z (+ class label c) -> w broadcast to `num_ws` rows, with truncation toward `w_avg`."""

    def __init__(self, z_dim: int, c_dim: int, w_dim: int, num_ws: int, num_layers: int = 2,
                 lr_multiplier: float = 0.01, w_avg_beta: float = 0.998) -> None:
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim, self.num_ws = z_dim, c_dim, w_dim, num_ws
        self.num_layers, self.w_avg_beta = num_layers, w_avg_beta
        if c_dim > 0:
            self.embed = FullyConnectedLayer(c_dim, w_dim)
        features = [z_dim + (w_dim if c_dim > 0 else 0)] + [w_dim] * num_layers
        for idx in range(num_layers):
            self.add_module(f"fc{idx}", FullyConnectedLayer(
                features[idx], features[idx + 1], activation="lrelu",
                lr_multiplier=lr_multiplier))
        self.register_buffer("w_avg", torch.zeros([w_dim]))

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None,
                truncation_psi: float = 1, truncation_cutoff: int | None = None,
                update_emas: bool = False) -> torch.Tensor:
        """ws [N, num_ws, w_dim].

        Runs in float32 even under autocast: it is cheap, and every layer downstream
        inherits its rounding.
        """
        with torch.autocast(device_type=self.fc0.weight.device.type, enabled=False):
            return self._forward(z, c, truncation_psi, truncation_cutoff, update_emas)

    def _forward(self, z, c, truncation_psi, truncation_cutoff, update_emas):
        x = normalize_2nd_moment(z.to(torch.float32))
        if self.c_dim > 0:
            if c is None or c.numel() == 0:
                raise ValueError(f"this generator is conditional: pass c with {self.c_dim} "
                                 "class values per sample")
            y = normalize_2nd_moment(self.embed(c.to(torch.float32)))
            x = torch.cat([x, y], dim=1)
        for idx in range(self.num_layers):
            x = getattr(self, f"fc{idx}")(x)
        x = x.to(torch.float32)  # autocast may hand back bf16; W space stays float32
        if update_emas:
            with torch.no_grad():
                self.w_avg.copy_(x.detach().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))
        x = x.unsqueeze(1).repeat([1, self.num_ws, 1])
        if uses_truncation(truncation_psi):
            cut = self.num_ws if truncation_cutoff is None else truncation_cutoff
            head = self.w_avg.lerp(x[:, :cut], truncation_psi)
            x = torch.cat([head, x[:, cut:]], dim=1)
        return x


class SynthesisInput(nn.Module):
    """Fourier features: sinusoids of fixed frequencies, rotated/translated per sample by w.

    The `transform` buffer is an extra user transform applied before the w-driven one; it is
    what pans and rotates the output image.
    """

    def __init__(self, w_dim: int, channels: int, size, sampling_rate: float,
                 bandwidth: float) -> None:
        super().__init__()
        self.w_dim, self.channels = w_dim, channels
        self.size = np.broadcast_to(np.asarray(size), [2])
        self.sampling_rate, self.bandwidth = sampling_rate, bandwidth
        # Random frequencies inside a disc of radius `bandwidth`, random phases.
        freqs = torch.randn([channels, 2])
        radii = freqs.square().sum(dim=1, keepdim=True).sqrt()
        freqs = freqs / (radii * radii.square().exp().pow(0.25)) * bandwidth
        phases = torch.rand([channels]) - 0.5
        self.weight = nn.Parameter(torch.randn([channels, channels]))
        self.affine = FullyConnectedLayer(w_dim, 4, weight_init=0, bias_init=[1, 0, 0, 0])
        self.register_buffer("transform", torch.eye(3, 3))
        self.register_buffer("freqs", freqs)
        self.register_buffer("phases", phases)
        # The sampling grid depends only on the size: build it once (runtime-only).
        theta = torch.eye(2, 3)
        theta[0, 0] = 0.5 * self.size[0] / sampling_rate
        theta[1, 1] = 0.5 * self.size[1] / sampling_rate
        grid = F.affine_grid(theta.unsqueeze(0), [1, 1, int(self.size[1]), int(self.size[0])],
                             align_corners=False)
        self.register_buffer("grid", grid, persistent=False)

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        # Phases reach several periods: in bf16/fp16 their rounding would visibly distort the
        # sinusoids, and this layer is cheap, so it always runs in float32.
        with torch.autocast(device_type=w.device.type, enabled=False):
            return self._features(w.to(torch.float32))

    def _features(self, w: torch.Tensor) -> torch.Tensor:
        batch = w.shape[0]
        t = self.affine(w)  # (cos, sin, tx, ty) before normalising
        t = t / t[:, :2].norm(dim=1, keepdim=True)
        # Rotation then translation from w, composed with the user transform.
        zero, one = torch.zeros_like(t[:, 0]), torch.ones_like(t[:, 0])
        m_r = torch.stack([t[:, 0], -t[:, 1], zero, t[:, 1], t[:, 0], zero, zero, zero, one],
                          dim=1).reshape(batch, 3, 3)
        m_t = torch.stack([one, zero, -t[:, 2], zero, one, -t[:, 3], zero, zero, one],
                          dim=1).reshape(batch, 3, 3)
        transforms = m_r @ m_t @ self.transform.unsqueeze(0)
        freqs = self.freqs.unsqueeze(0)
        phases = self.phases.unsqueeze(0) + (freqs @ transforms[:, :2, 2:]).squeeze(2)
        freqs = freqs @ transforms[:, :2, :2]
        # Fade out frequencies that the transform pushed close to Nyquist.
        amplitudes = (1 - (freqs.norm(dim=2) - self.bandwidth)
                      / (self.sampling_rate / 2 - self.bandwidth)).clamp(0, 1)
        x = torch.einsum("hwk,nck->nhwc", self.grid[0], freqs)
        x = x + phases.reshape(batch, 1, 1, -1)
        x = torch.sin(x * (2 * math.pi)) * amplitudes.reshape(batch, 1, 1, -1)
        weight = self.weight / math.sqrt(self.channels)
        x = x @ weight.t()
        return x.permute(0, 3, 1, 2)


class SynthesisLayer(nn.Module):
    """Modulated conv + filtered leaky ReLU (alias-free up/down-sampling around the ReLU)."""

    def __init__(self, w_dim: int, is_torgb: bool, is_critically_sampled: bool, use_fp16: bool,
                 in_channels: int, out_channels: int, in_size, out_size,
                 in_sampling_rate: float, out_sampling_rate: float, in_cutoff: float,
                 out_cutoff: float, in_half_width: float, out_half_width: float,
                 conv_kernel: int = 3, filter_size: int = 6, lrelu_upsampling: int = 2,
                 use_radial_filters: bool = False, conv_clamp: float | None = 256,
                 magnitude_ema_beta: float = 0.999) -> None:
        super().__init__()
        self.w_dim, self.is_torgb = w_dim, is_torgb
        self.is_critically_sampled, self.use_fp16 = is_critically_sampled, use_fp16
        self.in_channels, self.out_channels = in_channels, out_channels
        self.in_size = np.broadcast_to(np.asarray(in_size), [2])
        self.out_size = np.broadcast_to(np.asarray(out_size), [2])
        self.in_sampling_rate, self.out_sampling_rate = in_sampling_rate, out_sampling_rate
        self.tmp_sampling_rate = (max(in_sampling_rate, out_sampling_rate)
                                  * (1 if is_torgb else lrelu_upsampling))
        self.conv_kernel = 1 if is_torgb else conv_kernel
        self.conv_clamp = conv_clamp
        self.magnitude_ema_beta = magnitude_ema_beta
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, self.conv_kernel,
                                                self.conv_kernel]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.register_buffer("magnitude_ema", torch.ones([]))

        self.up_factor = int(np.rint(self.tmp_sampling_rate / in_sampling_rate))
        self.up_taps = filter_size * self.up_factor if self.up_factor > 1 and not is_torgb else 1
        self.register_buffer("up_filter", design_lowpass_filter(
            self.up_taps, in_cutoff, in_half_width * 2, self.tmp_sampling_rate))
        self.down_factor = int(np.rint(self.tmp_sampling_rate / out_sampling_rate))
        self.down_taps = (filter_size * self.down_factor
                          if self.down_factor > 1 and not is_torgb else 1)
        self.down_radial = use_radial_filters and not is_critically_sampled
        self.register_buffer("down_filter", design_lowpass_filter(
            self.down_taps, out_cutoff, out_half_width * 2, self.tmp_sampling_rate,
            radial=self.down_radial))

        # Padding so that, after up-filter-down, the output has out_size samples and sample
        # positions stay centred (the paper's symmetric interpretation).
        pad_total = (self.out_size - 1) * self.down_factor + 1
        pad_total -= (self.in_size + self.conv_kernel - 1) * self.up_factor
        pad_total += self.up_taps + self.down_taps - 2
        pad_lo = (pad_total + self.up_factor) // 2
        pad_hi = pad_total - pad_lo
        self.padding = [int(pad_lo[0]), int(pad_hi[0]), int(pad_lo[1]), int(pad_hi[1])]

    def forward(self, x: torch.Tensor, w: torch.Tensor, force_fp32: bool = False,
                update_emas: bool = False) -> torch.Tensor:
        if update_emas:
            with torch.no_grad():
                magnitude = x.detach().to(torch.float32).square().mean()
                self.magnitude_ema.copy_(magnitude.lerp(self.magnitude_ema,
                                                        self.magnitude_ema_beta))
        input_gain = self.magnitude_ema.rsqrt()
        styles = self.affine(w)
        if self.is_torgb:
            styles = styles * (1 / math.sqrt(self.in_channels * self.conv_kernel ** 2))
        dtype = (torch.float16 if self.use_fp16 and not force_fp32 and x.device.type == "cuda"
                 else torch.float32)
        x = modulated_conv2d_sg3(x.to(dtype), self.weight, styles, demodulate=not self.is_torgb,
                                 padding=self.conv_kernel - 1, input_gain=input_gain)
        return filtered_lrelu(x, self.up_filter, self.down_filter, b=self.bias,
                              up=self.up_factor, down=self.down_factor, padding=self.padding,
                              gain=1 if self.is_torgb else math.sqrt(2),
                              slope=1 if self.is_torgb else 0.2, clamp=self.conv_clamp)

    def extra_repr(self) -> str:
        return (f"in={self.in_channels}, out={self.out_channels}, size {self.in_size[0]}->"
                f"{self.out_size[0]}, up={self.up_factor}, down={self.down_factor}, "
                f"radial={self.down_radial}")


class SynthesisNetwork(nn.Module):
    """W+ -> image: Fourier features refined by `num_layers` alias-free layers + toRGB."""

    def __init__(self, w_dim: int, img_resolution: int, img_channels: int,
                 channel_base: int = 32768, channel_max: int = 512, num_layers: int = 14,
                 num_critical: int = 2, first_cutoff: float = 2, first_stopband: float = 2 ** 2.1,
                 last_stopband_rel: float = 2 ** 0.3, margin_size: int = 10,
                 output_scale: float = 0.25, num_fp16_res: int = 4, **layer_kwargs) -> None:
        super().__init__()
        self.w_dim, self.img_resolution, self.img_channels = w_dim, img_resolution, img_channels
        self.num_ws = num_layers + 2
        self.num_layers, self.num_critical = num_layers, num_critical
        self.margin_size, self.output_scale = margin_size, output_scale
        self.num_fp16_res = num_fp16_res

        # Per-layer cutoff, stopband, sampling rate and width: a geometric progression from
        # the first layer to the critically sampled last layers.
        last_cutoff = img_resolution / 2
        last_stopband = last_cutoff * last_stopband_rel
        exponents = np.minimum(np.arange(num_layers + 1) / (num_layers - num_critical), 1)
        cutoffs = first_cutoff * (last_cutoff / first_cutoff) ** exponents
        stopbands = first_stopband * (last_stopband / first_stopband) ** exponents
        sampling_rates = np.exp2(np.ceil(np.log2(np.minimum(stopbands * 2, img_resolution))))
        half_widths = np.maximum(stopbands, sampling_rates / 2) - cutoffs
        sizes = sampling_rates + margin_size * 2
        sizes[-2:] = img_resolution
        channels = np.rint(np.minimum((channel_base / 2) / cutoffs, channel_max))
        channels[-1] = img_channels

        self.input = SynthesisInput(w_dim, channels=int(channels[0]), size=int(sizes[0]),
                                    sampling_rate=sampling_rates[0], bandwidth=cutoffs[0])
        self.layer_names = []
        for idx in range(num_layers + 1):
            prev = max(idx - 1, 0)
            layer = SynthesisLayer(
                w_dim=w_dim, is_torgb=(idx == num_layers),
                is_critically_sampled=(idx >= num_layers - num_critical),
                use_fp16=bool(sampling_rates[idx] * (2 ** num_fp16_res) > img_resolution),
                in_channels=int(channels[prev]), out_channels=int(channels[idx]),
                in_size=int(sizes[prev]), out_size=int(sizes[idx]),
                in_sampling_rate=int(sampling_rates[prev]),
                out_sampling_rate=int(sampling_rates[idx]),
                in_cutoff=cutoffs[prev], out_cutoff=cutoffs[idx],
                in_half_width=half_widths[prev], out_half_width=half_widths[idx],
                **layer_kwargs)
            name = f"L{idx}_{layer.out_size[0]}_{layer.out_channels}"
            setattr(self, name, layer)
            self.layer_names.append(name)

    def forward(self, ws: torch.Tensor, noise_mode: str = "const", force_fp32: bool = False,
                update_emas: bool = False) -> torch.Tensor:
        """img [N, img_channels, H, W] float32 from ws [N, num_ws, w_dim].

        `noise_mode` is accepted for a common interface; StyleGAN3 adds no noise.
        """
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")
        check_ws(ws, self.num_ws, self.w_dim)
        ws = ws.to(torch.float32).unbind(dim=1)
        x = self.input(ws[0])
        for name, w in zip(self.layer_names, ws[1:]):
            x = getattr(self, name)(x, w, force_fp32=force_fp32, update_emas=update_emas)
        if self.output_scale != 1:
            x = x * self.output_scale
        return x.to(torch.float32).contiguous()


class Generator(stylegan2.Generator):
    """StyleGAN3 generator: `mapping` (z, c -> ws) then `synthesis` (ws -> image); the official
    constructor arguments, built like StyleGAN2's with StyleGAN3's networks."""

    mapping_network = MappingNetwork
    synthesis_network = SynthesisNetwork

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, truncation_psi: float = 1,
                truncation_cutoff: int | None = None, update_emas: bool = False,
                noise_mode: str = "const", **synthesis_kwargs) -> torch.Tensor:
        ws = self.mapping(z, c, truncation_psi=truncation_psi,
                          truncation_cutoff=truncation_cutoff, update_emas=update_emas)
        return self.synthesis(ws, noise_mode=noise_mode, update_emas=update_emas,
                              **synthesis_kwargs)


def make_transform(translate=(0.0, 0.0), angle_deg: float = 0.0) -> torch.Tensor:
    """3x3 matrix rotating by `angle_deg` then translating by `translate` (image units)."""
    a = math.radians(angle_deg)
    return torch.tensor([[math.cos(a), math.sin(a), float(translate[0])],
                         [-math.sin(a), math.cos(a), float(translate[1])],
                         [0.0, 0.0, 1.0]])


def set_input_transform(G: nn.Module, matrix) -> None:
    """Pan/rotate the image: write the inverse of `matrix` (3x3) into the input's transform.

    Written in place (`copy_`), so CUDA graphs that read the buffer stay valid. The identity
    matrix restores the untransformed image.
    """
    m = torch.as_tensor(matrix, dtype=torch.float64)
    if m.shape != (3, 3) or not torch.isfinite(m).all():
        raise ValueError(f"input transform must be a finite 3x3 matrix, got shape "
                         f"{list(m.shape)}")
    inverse, info = torch.linalg.inv_ex(m)
    if info != 0:
        raise ValueError("input transform matrix is not invertible")
    inverse = inverse.to(torch.float32)
    with torch.no_grad():
        G.synthesis.input.transform.copy_(inverse)
