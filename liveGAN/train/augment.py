"""Differentiable augmentations that let a GAN train on ~100 images without D memorising them.

Place in the data flow: real and generated batches -> **augment** -> discriminator. Both real
and fake images go through the same random transforms, and every op is differentiable, so G's
gradients flow back through them and G is not pushed to produce augmented-looking images.

- DiffAugment (Zhao et al. 2020): colour (brightness, saturation, contrast), translation
  (1/8 of the image, zero padding) and cutout (a square of half the image) on every image.
- ADA (Karras et al. 2020): a pipeline of geometric and colour transforms, each applied with
  probability p per image; p is adapted from the overfitting signal r_t = E[sign(D(real))]:
  when D is too sure about reals (r_t above the target 0.6) p goes up, otherwise down.
"""
from __future__ import annotations

import math

import torch
from torch.nn import functional as F


# ---- DiffAugment ---------------------------------------------------------------------------

def _colour(x: torch.Tensor) -> torch.Tensor:
    n = x.shape[0]
    x = x + (torch.rand(n, 1, 1, 1, device=x.device, dtype=x.dtype) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (torch.rand(n, 1, 1, 1, device=x.device, dtype=x.dtype) * 2) + mean
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    return (x - mean) * (torch.rand(n, 1, 1, 1, device=x.device, dtype=x.dtype) + 0.5) + mean


def _translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    n, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sh, sh + 1, (n, 1, 1), device=x.device)
    dx = torch.randint(-sw, sw + 1, (n, 1, 1), device=x.device)
    gy = torch.arange(h, device=x.device)[None, :, None] + dy   # [n, h, 1]
    gx = torch.arange(w, device=x.device)[None, None, :] + dx   # [n, 1, w]
    # Pad by one black pixel and point everything outside the frame at it: an index gather,
    # so gradients flow back to the pixels that were moved.
    padded = F.pad(x, [1, 1, 1, 1])
    gy = (gy + 1).clamp(0, h + 1).expand(n, h, w)
    gx = (gx + 1).clamp(0, w + 1).expand(n, h, w)
    batch = torch.arange(n, device=x.device)[:, None, None].expand(n, h, w)
    return padded.permute(0, 2, 3, 1)[batch, gy, gx].permute(0, 3, 1, 2)


def _cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), device=x.device)
    cx = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), device=x.device)
    ys = torch.arange(h, device=x.device)[None, :, None]
    xs = torch.arange(w, device=x.device)[None, None, :]
    inside = ((ys - cy).abs() < ch / 2) & ((xs - cx).abs() < cw / 2)
    return x * (~inside).unsqueeze(1).to(x.dtype)


DIFFAUGMENT_OPS = {"colour": _colour, "translation": _translation, "cutout": _cutout}


class DiffAugment(torch.nn.Module):
    """DiffAugment with a fixed policy (default all three ops); no state to adapt."""

    def __init__(self, policy=("colour", "translation", "cutout")) -> None:
        super().__init__()
        unknown = [p for p in policy if p not in DIFFAUGMENT_OPS]
        if unknown:
            raise ValueError(f"unknown DiffAugment ops {unknown} (known: {list(DIFFAUGMENT_OPS)})")
        self.policy = tuple(policy)
        self.p = 1.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for name in self.policy:
            x = DIFFAUGMENT_OPS[name](x)
        return x.contiguous()

    def state(self) -> dict:
        """Nothing adapts; kept for a uniform checkpoint layout."""
        return {"kind": "diffaugment", "p": 1.0}

    def load_state(self, state: dict) -> None:
        """Nothing to restore."""


class NoAugment(torch.nn.Module):
    """The identity, for `--aug none`."""

    p = 0.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def state(self) -> dict:
        return {"kind": "none", "p": 0.0}

    def load_state(self, state: dict) -> None:
        """Nothing to restore."""


# ---- ADA -------------------------------------------------------------------------------------

class ADA(torch.nn.Module):
    """Adaptive discriminator augmentation: transforms applied with probability `p` each.

    Geometric: x-flip, 90° rotations, integer translation (1/8), isotropic scale, rotation,
    anisotropic scale, fractional translation, folded into one affine matrix per image and
    applied with one grid_sample (reflection padding, so no black borders leak into D).
    Colour: brightness, contrast, luma flip, hue rotation, saturation, as one 4x4 colour matrix.
    Grey images get brightness and contrast only. On one channel the luma flip is negation, and
    a negated digit is still a clean digit: D learns from the flipped reals that light-ground
    digits are real, and rates the negated copies of its own samples above the samples, so G
    gains by flipping its output (measured on 64 grey digits, two seeds: D's mean logit on the
    negated samples 0.4-2.1 above the samples' at every tick read before the samples went light
    or grey, and 5.6-9.0 below it with no augmentation; bench/RESULTS.md).
    Cutout: as in DiffAugment, with probability p.
    """

    def __init__(self, target: float = 0.6, adjust_kimg: float = 100.0, interval: int = 4,
                 p: float = 0.0) -> None:
        super().__init__()
        self.target, self.adjust_kimg, self.interval = target, adjust_kimg, interval
        self.p = float(p)
        self._signs_sum = 0.0
        self._signs_count = 0
        self.last_rt = float("nan")

    # -- the adaptation -------------------------------------------------------------------------
    def accumulate(self, real_logits: torch.Tensor) -> None:
        """Collect sign(D(real)) of one discriminator step (the overfitting signal)."""
        signs = real_logits.detach().float().sign()
        self._signs_sum += float(signs.sum())
        self._signs_count += int(signs.numel())

    def update(self, batch_images: int) -> float | None:
        """Adjust p from the signs collected since the last update; returns r_t (or None).

        p moves by `batch_images * interval / (adjust_kimg * 1000)` per update, so it can go
        from 0 to 1 in `adjust_kimg` thousand images, as in the paper.
        """
        if self._signs_count == 0:
            return None
        rt = self._signs_sum / self._signs_count
        step = batch_images * self.interval / (self.adjust_kimg * 1000)
        self.p = float(min(max(self.p + math.copysign(step, rt - self.target), 0.0), 1.0))
        self._signs_sum, self._signs_count = 0.0, 0
        self.last_rt = rt
        return rt

    def state(self) -> dict:
        """JSON-able state for checkpoints."""
        return {"kind": "ada", "p": self.p, "signs_sum": self._signs_sum,
                "signs_count": self._signs_count, "target": self.target}

    def load_state(self, state: dict) -> None:
        """Restore from `state()`."""
        self.p = float(state.get("p", 0.0))
        self._signs_sum = float(state.get("signs_sum", 0.0))
        self._signs_count = int(state.get("signs_count", 0))

    # -- the transforms ---------------------------------------------------------------------
    def _chance(self, n: int, device) -> torch.Tensor:
        return (torch.rand(n, device=device) < self.p).float()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p <= 0:
            return x
        n, c, h, w = x.shape
        dev, dt = x.device, torch.float32
        eye = torch.eye(3, device=dev).repeat(n, 1, 1)

        def apply(mat, m):
            return mat @ m

        # Geometric transforms as 3x3 matrices in normalised [-1, 1] coordinates.
        g = eye.clone()
        flip = 1 - 2 * (self._chance(n, dev) * torch.randint(0, 2, (n,), device=dev).float())
        g = apply(g, _scale(flip, torch.ones(n, device=dev)))
        quarter = self._chance(n, dev) * torch.randint(0, 4, (n,), device=dev).float()
        g = apply(g, _rotate(quarter * math.pi / 2))
        t = (torch.rand(n, 2, device=dev) * 2 - 1) * 0.125 * 2
        g = apply(g, _translate(t * self._chance(n, dev)[:, None]))
        iso = torch.exp2(torch.randn(n, device=dev) * 0.2 * self._chance(n, dev))
        g = apply(g, _scale(iso, iso))
        # Rotation is split into two chances like the paper, so p_rot stays near p overall.
        p_rot = 1 - math.sqrt(max(1 - self.p, 0))
        angle = (torch.rand(n, device=dev) * 2 - 1) * math.pi
        g = apply(g, _rotate(angle * (torch.rand(n, device=dev) < p_rot).float()))
        aniso = torch.exp2(torch.randn(n, device=dev) * 0.2 * self._chance(n, dev))
        g = apply(g, _scale(aniso, 1 / aniso))
        angle = (torch.rand(n, device=dev) * 2 - 1) * math.pi
        g = apply(g, _rotate(angle * (torch.rand(n, device=dev) < p_rot).float()))
        t = torch.randn(n, 2, device=dev) * 0.125 * 2
        g = apply(g, _translate(t * self._chance(n, dev)[:, None]))
        grid = F.affine_grid(g[:, :2, :].to(x.dtype), [n, c, h, w], align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection",
                          align_corners=False)

        if c == 3:
            # Colour transforms as 4x4 matrices acting on (r, g, b, 1).
            cm = torch.eye(4, device=dev).repeat(n, 1, 1)
            b = torch.randn(n, device=dev) * 0.2 * self._chance(n, dev)
            cm = _colour_translate(b) @ cm
            ct = torch.exp2(torch.randn(n, device=dev) * 0.5 * self._chance(n, dev))
            cm = _colour_scale(ct) @ cm
            luma = torch.tensor([1, 1, 1, 0], device=dev, dtype=dt) / math.sqrt(3)
            flip = self._chance(n, dev) * torch.randint(0, 2, (n,), device=dev).float()
            outer = torch.outer(luma, luma)
            cm = (torch.eye(4, device=dev) - 2 * outer * flip[:, None, None]) @ cm
            hue = (torch.rand(n, device=dev) * 2 - 1) * math.pi * self._chance(n, dev)
            cm = _hue_rotate(hue, luma) @ cm
            sat = torch.exp2(torch.randn(n, device=dev) * 1.0 * self._chance(n, dev))
            cm = (outer + (torch.eye(4, device=dev) - outer) * sat[:, None, None]) @ cm
            cm = cm.to(x.dtype)
            x = (cm[:, :3, :3] @ x.reshape(n, c, h * w)).reshape(n, c, h, w) \
                + cm[:, :3, 3].reshape(n, 3, 1, 1)
        elif c == 1:
            # Grey images: brightness, then contrast, in the colour path's order. No luma flip
            # (negation): see the class's docstring.
            b = torch.randn(n, device=dev) * 0.2 * self._chance(n, dev)
            ct = torch.exp2(torch.randn(n, device=dev) * 0.5 * self._chance(n, dev))
            x = (x + b.to(x.dtype)[:, None, None, None]) * ct.to(x.dtype)[:, None, None, None]

        keep = self._chance(n, dev).to(x.dtype)[:, None, None, None]
        x = keep * _cutout(x, 0.5) + (1 - keep) * x
        return x.contiguous()


def _scale(sx: torch.Tensor, sy: torch.Tensor) -> torch.Tensor:
    m = torch.eye(3, device=sx.device).repeat(sx.shape[0], 1, 1)
    m[:, 0, 0], m[:, 1, 1] = sx, sy
    return m


def _rotate(theta: torch.Tensor) -> torch.Tensor:
    m = torch.eye(3, device=theta.device).repeat(theta.shape[0], 1, 1)
    m[:, 0, 0], m[:, 0, 1] = theta.cos(), -theta.sin()
    m[:, 1, 0], m[:, 1, 1] = theta.sin(), theta.cos()
    return m


def _translate(t: torch.Tensor) -> torch.Tensor:
    m = torch.eye(3, device=t.device).repeat(t.shape[0], 1, 1)
    m[:, 0, 2], m[:, 1, 2] = t[:, 0], t[:, 1]
    return m


def _colour_translate(b: torch.Tensor) -> torch.Tensor:
    m = torch.eye(4, device=b.device).repeat(b.shape[0], 1, 1)
    m[:, 0, 3] = m[:, 1, 3] = m[:, 2, 3] = b
    return m


def _colour_scale(s: torch.Tensor) -> torch.Tensor:
    m = torch.eye(4, device=s.device).repeat(s.shape[0], 1, 1)
    m[:, 0, 0] = m[:, 1, 1] = m[:, 2, 2] = s
    return m


def _hue_rotate(theta: torch.Tensor, axis: torch.Tensor) -> torch.Tensor:
    """Rotation of (r, g, b) around the grey axis by `theta` (Rodrigues), as 4x4 matrices."""
    a = axis[:3]
    k = torch.tensor([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]],
                     device=theta.device, dtype=torch.float32)
    eye = torch.eye(3, device=theta.device)
    s, c = theta.sin()[:, None, None], theta.cos()[:, None, None]
    r = eye + s * k + (1 - c) * (k @ k)
    m = torch.eye(4, device=theta.device).repeat(theta.shape[0], 1, 1)
    m[:, :3, :3] = r
    return m


def build_augment(kind: str, ada_target: float = 0.6, ada_kimg: float = 100.0) -> torch.nn.Module:
    """The augmentation named on the command line: 'ada', 'diffaugment' or 'none'."""
    if kind == "ada":
        return ADA(target=ada_target, adjust_kimg=ada_kimg)
    if kind == "diffaugment":
        return DiffAugment()
    if kind == "none":
        return NoAugment()
    raise ValueError(f"--aug must be ada, diffaugment or none, got {kind!r}")


# ---- D's early blur ------------------------------------------------------------------------

def blur_for_d(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """`images` seen through a Gaussian of `sigma` pixels (separable, edges repeated), as D sees
    both halves early in a run: while G is still blurry, D cannot win on fine detail alone and
    must judge the shapes first (StyleGAN3 fades such a blur out of D's input over its first
    kimg). sigma 0: the images themselves."""
    if sigma <= 0:
        return images
    radius = max(1, min(int(math.ceil(3 * sigma)), 4 * max(images.shape[-2:])))
    offsets = torch.arange(-radius, radius + 1, device=images.device, dtype=torch.float32)
    taps = torch.exp(-0.5 * (offsets / sigma) ** 2)
    taps = (taps / taps.sum()).to(images.dtype)
    n, c, h, w = images.shape
    x = images.reshape(n * c, 1, h, w)
    x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="replicate"), taps.view(1, 1, 1, -1))
    x = F.conv2d(F.pad(x, (0, 0, radius, radius), mode="replicate"), taps.view(1, 1, -1, 1))
    return x.reshape(n, c, h, w)


def d_blur_sigma(sigma: float, fade_kimg: float, kimg: float) -> float:
    """The blur of D's input at `kimg`: `sigma` at the start, falling linearly to 0 at
    `fade_kimg`."""
    if sigma <= 0 or fade_kimg <= 0:
        return 0.0
    return sigma * max(0.0, 1.0 - kimg / fade_kimg)
