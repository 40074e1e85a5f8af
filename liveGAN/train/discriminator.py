"""Discriminators: StyleGAN2's residual D, and a slim one to pair with the light generator.

Place in the data flow: augmented real/fake images -> **discriminator** -> logits -> loss.
Only training uses it; it is never exported. One class covers both: the StyleGAN2 preset uses
wide channels and FIR-blurred downsampling ([1, 3, 3, 1], as the official network), the light
preset narrow channels and 2x2 average pooling (cheap on a CPU). Both: residual blocks with
1/sqrt(2) merging, minibatch standard deviation at 4x4, and class conditioning by projection
(the output is the dot product of the features with an embedding of c) when c_dim > 0.
Optionally (`recon=True`, `livegan train --d-recon`) a small decoder redraws the real image
from D's 8x8 features, a self-supervised task in the spirit of FastGAN (Liu et al. 2021): D
must keep what the image looks like, not only a cue that tells it from a fake.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from liveGAN.models.networks.light import EqualLinear, channels_at


class EqualConv(nn.Module):
    """Conv with equalised learning rate, optional leaky ReLU (gain sqrt(2))."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int,
                 activation: bool = True, bias: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size,
                                               kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.gain = 1 / math.sqrt(in_channels * kernel_size ** 2)
        self.padding = kernel_size // 2
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.conv2d(x, self.weight * self.gain, self.bias, padding=self.padding)
        return F.leaky_relu(x, 0.2) * math.sqrt(2) if self.activation else x


class Downsample(nn.Module):
    """2x downsampling: FIR low-pass [1, 3, 3, 1] (StyleGAN2) or 2x2 average pooling (light)."""

    def __init__(self, blur: bool) -> None:
        super().__init__()
        self.blur = blur
        if blur:
            k = torch.tensor([1.0, 3.0, 3.0, 1.0])
            k = torch.outer(k, k)
            self.register_buffer("kernel", (k / k.sum())[None, None])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.blur:
            return F.avg_pool2d(x, 2)
        c = x.shape[1]
        x = F.pad(x, [1, 1, 1, 1], mode="reflect")
        return F.conv2d(x, self.kernel.to(x.dtype).expand(c, 1, 4, 4), stride=2, groups=c)


class DiscriminatorBlock(nn.Module):
    """conv (at res) -> downsample -> conv (at res/2), plus a 1x1 skip path; merged / sqrt(2)."""

    def __init__(self, in_channels: int, out_channels: int, blur: bool) -> None:
        super().__init__()
        self.conv0 = EqualConv(in_channels, in_channels, 3)
        self.down = Downsample(blur)
        self.conv1 = EqualConv(in_channels, out_channels, 3)
        self.skip = EqualConv(in_channels, out_channels, 1, activation=False, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.skip(self.down(x))
        x = self.conv1(self.down(self.conv0(x)))
        return (x + y) * (1 / math.sqrt(2))


class Discriminator(nn.Module):
    """image [N, C, R, R] (+ c [N, c_dim]) -> logits [N, 1]."""

    def __init__(self, c_dim: int = 0, img_resolution: int = 128, img_channels: int = 3,
                 channel_base: int = 2048, channel_max: int = 256, blur: bool = False,
                 mbstd_group_size: int = 4, cmap_dim: int | None = None,
                 recon: bool = False) -> None:
        super().__init__()
        log2 = int(round(math.log2(img_resolution)))
        if img_resolution < 8 or 2 ** log2 != img_resolution:
            raise ValueError(f"img_resolution must be a power of two >= 8, got {img_resolution}")
        self.c_dim, self.img_resolution, self.img_channels = c_dim, img_resolution, img_channels
        self.init_kwargs = dict(c_dim=c_dim, img_resolution=img_resolution,
                                img_channels=img_channels, channel_base=channel_base,
                                channel_max=channel_max, blur=blur,
                                mbstd_group_size=mbstd_group_size, cmap_dim=cmap_dim,
                                recon=recon)
        ch = lambda res: channels_at(res, channel_base, channel_max)  # noqa: E731
        self.fromrgb = EqualConv(img_channels, ch(img_resolution), 1)
        self.blocks = nn.Sequential(*[
            DiscriminatorBlock(ch(2 ** i), ch(2 ** (i - 1)), blur) for i in range(log2, 2, -1)])
        self.mbstd_group_size = mbstd_group_size
        c4 = ch(4)
        self.conv = EqualConv(c4 + 1, c4, 3)
        self.fc = EqualLinear(c4 * 16, c4, activation=True)
        self.cmap_dim = (cmap_dim or c4) if c_dim > 0 else 1
        self.out = EqualLinear(c4, self.cmap_dim)
        self.embed = EqualLinear(c_dim, self.cmap_dim) if c_dim > 0 else None
        # The index of the block whose input is 8x8 (the decoder reads there).
        self.to_8x8 = log2 - 3
        self.decoder = (ReconDecoder(ch(8), img_channels, min(img_resolution, RECON_RES))
                        if recon else None)

    def _minibatch_std(self, x: torch.Tensor) -> torch.Tensor:
        # One extra feature map: the std of features across a small group of images. A collapsed
        # G produces groups with no variety, which D can then see.
        n, c, h, w = x.shape
        g = min(self.mbstd_group_size, n)
        while n % g:
            g -= 1
        y = x.float().reshape(g, -1, c, h, w)
        y = (y - y.mean(dim=0)).square().mean(dim=0).add(1e-8).sqrt()
        y = y.mean(dim=[1, 2, 3]).reshape(-1, 1, 1, 1).repeat(g, 1, h, w)
        return torch.cat([x, y.to(x.dtype)], dim=1)

    def forward(self, img: torch.Tensor, c: torch.Tensor | None = None,
                recon: bool = False):
        """Logits [N, 1]; with `recon`, also the decoder's redrawing of `img` [N, C, r, r] (r =
        the resolution, at most RECON_RES: compare it with `recon_target(img)`)."""
        if recon and self.decoder is None:
            raise ValueError("this discriminator has no decoder: build it with recon=True")
        x, drawn = self.fromrgb(img), None
        for i, block in enumerate(self.blocks):
            if recon and i == self.to_8x8:
                drawn = self.decoder(x)
            x = block(x)
        x = self.conv(self._minibatch_std(x))
        x = self.out(self.fc(x.flatten(1)))
        if self.embed is not None:
            if c is None:
                raise ValueError(f"this discriminator is conditional (c_dim={self.c_dim}): pass c")
            cmap = self.embed(c.to(x.dtype))
            x = (x * cmap).sum(dim=1, keepdim=True) / math.sqrt(self.cmap_dim)
        return (x, drawn) if recon else x


# The decoder redraws images at most this large: above it, the target is the image averaged down
# to it (the layout, which is what the 8x8 features can hold), so its cost does not grow with
# the training resolution.
RECON_RES = 32


class ReconDecoder(nn.Module):
    """D's 8x8 features -> the image at `res` (8 <= res <= RECON_RES): a 3x3 conv to 64
    channels, then per doubling nearest 2x upsampling and a 3x3 conv halving the channels, then
    a 3x3 conv to the image's channels (leaky ReLU 0.2 between). Plain convolutions at
    PyTorch's default initialisation: only D's features need the equalised rate."""

    def __init__(self, in_channels: int, img_channels: int, res: int) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_channels, 64, 3, padding=1), nn.LeakyReLU(0.2)]
        ch = 64
        for _ in range(int(round(math.log2(res))) - 3):
            layers += [nn.Upsample(scale_factor=2), nn.Conv2d(ch, ch // 2, 3, padding=1),
                       nn.LeakyReLU(0.2)]
            ch //= 2
        layers.append(nn.Conv2d(ch, img_channels, 3, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features)


def recon_target(img: torch.Tensor) -> torch.Tensor:
    """What the decoder should draw for `img`: the image itself, averaged down to RECON_RES
    when larger."""
    img = img.float()
    if img.shape[-1] > RECON_RES:
        img = F.adaptive_avg_pool2d(img, RECON_RES)
    return img


def discriminator_kwargs(arch: str, img_resolution: int, img_channels: int = 3,
                         c_dim: int = 0) -> dict:
    """Constructor kwargs of the discriminator that pairs with generator `arch`."""
    if arch == "light":
        return dict(c_dim=c_dim, img_resolution=img_resolution, img_channels=img_channels,
                    channel_base=2048, channel_max=256, blur=False)
    if arch == "stylegan2":
        return dict(c_dim=c_dim, img_resolution=img_resolution, img_channels=img_channels,
                    channel_base=32768, channel_max=512, blur=True)
    raise ValueError(f"no discriminator for architecture {arch!r} (light, stylegan2)")
