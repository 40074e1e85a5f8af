"""Does the generator keep the data's variety? Coverage, density and spread on fixed features.

Place in the data flow: real reference images + the EMA generator's samples (each metrics
tick) -> **diversity** -> metrics.jsonl (`coverage`, `density`, `diversity`), the progress line,
and a mode-collapse warning.

Features come from a small convolutional network with fixed random weights (seeded, never
trained, never downloaded). Why not the discriminator's features: they change every step and
are shaped by the game itself (a collapsed G and a D that ignores the difference agree with each
other), so a number measured in them is neither comparable between ticks nor between runs.
Random conv features are stable, cheap on a CPU, and separate images by colour layout, strokes
and texture well enough for nearest-neighbour statistics (Naeem et al. 2020 found randomly
initialised embeddings usable for density/coverage).

- coverage: the fraction of real images whose k-nearest-neighbour ball (among reals) holds at
  least one generated image: 1 when every kind of real image is matched, low when modes are
  dropped. Robust to outliers, unlike recall.
- density: how many real balls a generated image falls in, / k; about 1 for a G that matches
  the reals, below 1 for off-manifold samples (fidelity).
- diversity: how far apart generated images are compared with real ones: the mean pairwise
  distance of the generated set over the real set's, measured both on the features and on the
  pixels (as 8x8 averages, so per-pixel grain does not count), and the smaller of the two
  reported. About 1 when samples of different
  latents differ as much as the data does, near 0 when they converge (mode collapse). Both,
  because each misses a case: blobs far from every real image can be far apart in feature
  space while nearly equal in pixels.
"""
from __future__ import annotations

import math

import torch
from torch.nn import functional as F

# Samples of different latents count as converged when they are this much closer to each other
# than the real images are (diversity below it), or when the generated set covers this few reals.
COLLAPSE_DIVERSITY = 0.5
NEIGHBOURS = 5


class RandomFeatures(torch.nn.Module):
    """A fixed random conv net: images [N, C, H, W] in [-1, 1] -> features [N, dims].

    Four 3x3 conv + ReLU stages at 64, 32, 16 and 8 pixels; each stage contributes the mean and
    standard deviation of its channels (texture and colour statistics), the last one also its
    4x4 layout, and a fixed random projection brings the whole to `dims` numbers.
    """

    def __init__(self, channels=(16, 32, 64, 128), dims: int = 256, seed: int = 0,
                 size: int = 64) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.size = size
        self.weights = torch.nn.ParameterList()
        in_ch = 3
        for out_ch in channels:
            # He-normal: activations keep their scale through the ReLUs.
            w = torch.randn(out_ch, in_ch, 3, 3, generator=g) * math.sqrt(2 / (in_ch * 9))
            self.weights.append(torch.nn.Parameter(w, requires_grad=False))
            in_ch = out_ch
        raw = sum(2 * c for c in channels) + channels[-1] * 16 + 3 * 16
        self.register_buffer("projection", torch.randn(raw, dims, generator=g) / math.sqrt(raw))

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images.float()
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)
        x = x[:, :3]
        if x.shape[-1] != self.size or x.shape[-2] != self.size:
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear",
                              align_corners=False, antialias=x.shape[-1] > self.size)
        parts = [F.adaptive_avg_pool2d(x, 4).flatten(1)]      # the colour layout
        for i, w in enumerate(self.weights):
            x = F.relu(F.conv2d(x, w, padding=1))
            parts += [x.mean(dim=(2, 3)), x.std(dim=(2, 3))]
            if i < len(self.weights) - 1:
                x = F.avg_pool2d(x, 2)
        parts.append(F.adaptive_avg_pool2d(x, 4).flatten(1))  # the coarse layout of features
        return torch.cat(parts, dim=1) @ self.projection

    def embed(self, images: torch.Tensor, batch: int = 64) -> torch.Tensor:
        """Features of many images, a batch at a time."""
        return torch.cat([self(images[i: i + batch]) for i in range(0, len(images), batch)])


class Diversity:
    """Coverage, density and diversity of generated images against a fixed real set.

    The real features, their standardisation and their k-NN radii are computed once.
    """

    def __init__(self, reals: torch.Tensor, k: int = NEIGHBOURS, seed: int = 0) -> None:
        self.net = RandomFeatures(seed=seed)
        real = self.net.embed(reals)
        # Standardise each dimension by the reals, so no feature dominates the distances.
        self.mean, self.std = real.mean(dim=0), real.std(dim=0) + 1e-6
        self.real = (real - self.mean) / self.std
        self.k = min(k, len(self.real) - 1)
        self.count = len(self.real)
        d = torch.cdist(self.real, self.real)
        # The k-th neighbour other than itself (column 0 of the sorted distances is itself).
        self.radii = d.sort(dim=1).values[:, self.k]
        self.real_spread = _mean_pairwise(d)
        self.real_pixel_spread = _pixel_spread(reals)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return (self.net.embed(images) - self.mean) / self.std

    def measure(self, fakes: torch.Tensor) -> dict[str, float]:
        """{'coverage', 'density', 'diversity'} of generated images `fakes` [N, C, H, W]."""
        fake = self.features(fakes)
        d = torch.cdist(self.real, fake)                   # [reals, fakes]
        inside = d < self.radii[:, None]
        coverage = inside.any(dim=1).float().mean()
        density = inside.float().sum() / (self.k * len(fake))
        features = _mean_pairwise(torch.cdist(fake, fake)) / self.real_spread
        pixels = _pixel_spread(fakes) / max(self.real_pixel_spread, 1e-8)
        return {"coverage": float(coverage), "density": float(density),
                "diversity": float(min(features, pixels))}


def _mean_pairwise(d: torch.Tensor) -> float:
    n = d.shape[0]
    return float(d.sum() / max(n * (n - 1), 1))


def _pixel_spread(images: torch.Tensor) -> float:
    """Mean absolute difference between two images of the set, per value, as 8x8 structures
    (the variety floor's measure: grain from noise inputs is not variety)."""
    from liveGAN.train.loss import structure

    flat = structure(images).flatten(1)
    return _mean_pairwise(torch.cdist(flat, flat, p=1)) / flat.shape[1]


def collapse_warning(row: dict, aug: str = "ada") -> str | None:
    """One line when a metrics row shows samples of different latents converging, else None;
    the advice depends on the augmentation in use."""
    diversity = row.get("diversity")
    if diversity is None or not diversity < COLLAPSE_DIVERSITY:
        return None
    advice = {"none": "train with --aug ada or --aug diffaugment",
              "ada": "try --aug diffaugment, or a larger --gamma"}.get(aug, "try a larger --gamma")
    return (f"warning: mode collapse at kimg {row.get('kimg', 0):g}: samples of different "
            f"latents are {diversity:.2f}x as far apart as the real images (coverage "
            f"{row.get('coverage', float('nan')):.2f}); {advice}")
