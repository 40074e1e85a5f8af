"""Quality metrics: sliced Wasserstein distance (needs no download) and optional FID/KID.

Place in the data flow: real cache + EMA generator -> **metrics** -> metrics.jsonl and curves.

SWD follows Karras et al. (ProGAN, 2018): each image is split into a Laplacian pyramid (finest
level = edges and texture, coarsest = 16x16 colour layout); random 7x7 patches of every level
become descriptors, normalised per colour channel; the distance between the real and generated
descriptor sets is the sliced Wasserstein distance (project on random directions, sort, compare).
Lower is better; values are reported x1000 like the paper, per level and averaged.

FID/KID need an Inception network; liveGAN never downloads one. Point `--inception PATH` at a
TorchScript file mapping images [N, 3, H, W] in [0, 255] (float) to features [N, D]; the maths
below works for any such feature extractor.
"""
from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

_GAUSS = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16


def _blur(x: torch.Tensor) -> torch.Tensor:
    c = x.shape[1]
    k = torch.outer(_GAUSS, _GAUSS).to(x)[None, None].expand(c, 1, 5, 5)
    return F.conv2d(F.pad(x, [2, 2, 2, 2], mode="reflect"), k, groups=c)


def laplacian_pyramid(images: torch.Tensor, min_res: int = 16) -> list[torch.Tensor]:
    """Levels finest first: band-pass differences, then the low-pass residual at min_res."""
    levels = []
    x = images.float()
    while x.shape[-1] > min_res:
        down = _blur(x)[:, :, ::2, ::2]
        up = F.interpolate(down, scale_factor=2, mode="bilinear", align_corners=False)
        levels.append(x - _blur(up))
        x = down
    levels.append(x)
    return levels


def patch_descriptors(level: torch.Tensor, per_image: int, generator: torch.Generator,
                      patch: int = 7) -> torch.Tensor:
    """`per_image` random patch x patch descriptors of every image: [N * per_image, C*patch²]."""
    n, c, h, w = level.shape
    patch = min(patch, h)
    ys = torch.randint(0, h - patch + 1, (n, per_image), generator=generator)
    xs = torch.randint(0, w - patch + 1, (n, per_image), generator=generator)
    offsets = torch.arange(patch)
    rows = (ys[..., None] + offsets)[..., :, None].expand(n, per_image, patch, patch)
    cols = (xs[..., None] + offsets)[..., None, :].expand(n, per_image, patch, patch)
    batch = torch.arange(n)[:, None, None, None].expand_as(rows)
    out = level.permute(0, 2, 3, 1)[batch, rows, cols]           # [n, per, p, p, c]
    return out.reshape(n * per_image, -1)


def _channel_stats(desc: torch.Tensor, channels: int) -> tuple[torch.Tensor, torch.Tensor]:
    d = desc.reshape(desc.shape[0], -1, channels)
    return d.mean(dim=(0, 1)), d.std(dim=(0, 1)) + 1e-8


def _normalise(desc: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    # Per colour channel over all patch pixels. Unlike ProGAN (each set by its own statistics)
    # both sets use the reals' statistics, so a colour or brightness shift counts as a difference.
    d = desc.reshape(desc.shape[0], -1, mean.shape[0])
    return ((d - mean) / std).reshape(desc.shape[0], -1)


def sliced_wasserstein(a: torch.Tensor, b: torch.Tensor, generator: torch.Generator,
                       directions: int = 256, repeats: int = 4) -> float:
    """Sliced Wasserstein distance between two equally sized descriptor sets [M, D]."""
    m = min(len(a), len(b))
    a, b = a[:m], b[:m]
    total = 0.0
    for _ in range(repeats):
        dirs = torch.randn(a.shape[1], directions, generator=generator)
        dirs = dirs / dirs.norm(dim=0, keepdim=True)
        # [directions, M], sorted along the last (contiguous) dimension: much faster on CPU.
        pa, _ = (dirs.T @ a.T).sort(dim=1)
        pb, _ = (dirs.T @ b.T).sort(dim=1)
        total += float((pa - pb).abs().mean())
    return total / repeats


class SWD:
    """SWD against a fixed real set; descriptors of the reals are computed once.

    `images` are float tensors [N, C, R, R] in [-1, 1]; call `distance(fake)` with as many
    generated images as reals. Deterministic for a given seed.
    """

    def __init__(self, real: torch.Tensor, per_image: int = 64, directions: int = 256,
                 repeats: int = 4, seed: int = 123, min_res: int = 16) -> None:
        self.per_image, self.directions, self.repeats = per_image, directions, repeats
        self.seed, self.min_res = seed, min(min_res, real.shape[-1])
        self.channels = real.shape[1]
        self.count = real.shape[0]
        raw = self._raw_descriptors(real)
        self.stats = [_channel_stats(d, self.channels) for d in raw]
        self.real_desc = [_normalise(d, *st) for d, st in zip(raw, self.stats)]
        self.resolutions = [real.shape[-1] >> i for i in range(len(self.real_desc))]

    def _raw_descriptors(self, images: torch.Tensor) -> list[torch.Tensor]:
        g = torch.Generator().manual_seed(self.seed)
        return [patch_descriptors(level, self.per_image, g)
                for level in laplacian_pyramid(images.float().cpu(), self.min_res)]

    def distance(self, fake: torch.Tensor) -> dict[str, float]:
        """{'swd': mean, 'swd_<res>': per level}, each x1000."""
        g = torch.Generator().manual_seed(self.seed + 1)
        out = {}
        for res, real, fake_desc, stats in zip(self.resolutions, self.real_desc,
                                               self._raw_descriptors(fake), self.stats):
            out[f"swd_{res}"] = 1e3 * sliced_wasserstein(real, _normalise(fake_desc, *stats), g,
                                                         self.directions, self.repeats)
        out["swd"] = float(np.mean([v for k, v in out.items()]))
        return out


# ---- FID / KID ---------------------------------------------------------------------------

def frechet_distance(feat_a: np.ndarray, feat_b: np.ndarray) -> float:
    """FID between two feature sets [N, D]: |mu_a - mu_b|² + Tr(Ca + Cb - 2 (Ca Cb)^½)."""
    mu_a, mu_b = feat_a.mean(0), feat_b.mean(0)
    ca = np.cov(feat_a, rowvar=False)
    cb = np.cov(feat_b, rowvar=False)
    # Tr((Ca Cb)^½) = sum of sqrt of the eigenvalues of Ca Cb, which are real and >= 0 for
    # covariance matrices (Ca Cb is similar to Ca^½ Cb Ca^½); tiny negatives are round-off.
    eig = np.linalg.eigvals(np.atleast_2d(ca) @ np.atleast_2d(cb))
    tr_sqrt = np.sqrt(np.clip(eig.real, 0, None)).sum()
    return float(np.square(mu_a - mu_b).sum() + np.trace(np.atleast_2d(ca))
                 + np.trace(np.atleast_2d(cb)) - 2 * tr_sqrt)


def kernel_inception_distance(feat_a: np.ndarray, feat_b: np.ndarray, subsets: int = 10,
                              subset_size: int = 100, seed: int = 0) -> float:
    """KID: unbiased MMD² with the cubic polynomial kernel, averaged over random subsets."""
    rng = np.random.default_rng(seed)
    d = feat_a.shape[1]
    m = min(len(feat_a), len(feat_b), subset_size)
    total = 0.0
    for _ in range(subsets):
        x = feat_a[rng.choice(len(feat_a), m, replace=False)]
        y = feat_b[rng.choice(len(feat_b), m, replace=False)]
        kxx = (x @ x.T / d + 1) ** 3
        kyy = (y @ y.T / d + 1) ** 3
        kxy = (x @ y.T / d + 1) ** 3
        total += ((kxx.sum() - np.trace(kxx)) / (m * (m - 1))
                  + (kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.mean())
    return float(total / subsets)


class InceptionMetrics:
    """FID and KID with a user-supplied TorchScript feature extractor (`--inception PATH`)."""

    def __init__(self, path, real: torch.Tensor, device="cpu", batch: int = 32) -> None:
        self.device, self.batch = device, batch
        try:
            self.net = torch.jit.load(str(path), map_location=device).eval()
        except Exception as err:  # TorchScript raises RuntimeError / ValueError variants
            raise ValueError(f"{path}: not a TorchScript feature extractor ({err})") from None
        self.real_features = self.features(real)

    @torch.no_grad()
    def features(self, images: torch.Tensor) -> np.ndarray:
        """Features of images in [-1, 1] (fed to the network as [0, 255])."""
        out = []
        for i in range(0, len(images), self.batch):
            x = (images[i: i + self.batch].to(self.device).float() + 1) * 127.5
            out.append(self.net(x.clamp(0, 255)).reshape(len(x), -1).double().cpu().numpy())
        return np.concatenate(out)

    def distance(self, fake: torch.Tensor) -> dict[str, float]:
        """{'fid': ..., 'kid': ...} of `fake` against the reals."""
        f = self.features(fake)
        return {"fid": frechet_distance(self.real_features, f),
                "kid": kernel_inception_distance(self.real_features, f,
                                                 subset_size=min(100, len(f)))}
