"""SWD behaves like a distance between image distributions; FID/KID maths with a stand-in net."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from liveGAN.train.metrics import (SWD, InceptionMetrics, frechet_distance,
                                   kernel_inception_distance, laplacian_pyramid)


def _blobs(n, seed, shift=0.0):
    """Random soft coloured blobs on black, [-1, 1]: a small but structured distribution."""
    g = torch.Generator().manual_seed(seed)
    lin = torch.linspace(-1, 1, 32)
    yy, xx = torch.meshgrid(lin, lin, indexing="ij")
    cx, cy = torch.rand(2, n, 1, 1, generator=g) * 1.2 - 0.6
    r = torch.rand(n, 1, 1, generator=g) * 0.3 + 0.1
    colour = torch.rand(n, 3, 1, 1, generator=g)
    blob = torch.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r ** 2))
    return (colour * blob[:, None] * 2 - 1 + shift).clamp(-1, 1.5)


@pytest.fixture(scope="module")
def swd():
    return SWD(_blobs(128, seed=0), per_image=32, directions=64, repeats=2)


def test_pyramid_levels_reconstruct_shapes():
    x = torch.rand(2, 3, 32, 32)
    levels = laplacian_pyramid(x, min_res=8)
    assert [lvl.shape[-1] for lvl in levels] == [32, 16, 8]


def test_same_distribution_is_near_zero(swd):
    same = swd.distance(_blobs(128, seed=1))
    blurred = swd.distance(F.avg_pool2d(_blobs(128, seed=1), 5, 1, 2))
    assert same["swd"] < 0.5 * blurred["swd"]
    assert set(same) == {"swd", "swd_32", "swd_16"}


def test_monotone_in_the_shift(swd):
    values = [swd.distance(_blobs(128, seed=1, shift=s))["swd"] for s in (0.0, 0.2, 0.5, 1.0)]
    assert all(b > a for a, b in zip(values, values[1:])), values


def test_blur_is_seen_at_the_finest_level(swd):
    fake = _blobs(128, seed=1)
    sharp = swd.distance(fake)["swd_32"]
    blurred = swd.distance(F.avg_pool2d(fake, 5, 1, 2))["swd_32"]
    assert blurred > 2 * sharp


def test_deterministic(swd):
    fake = _blobs(128, seed=2)
    assert swd.distance(fake) == swd.distance(fake)


def test_frechet_distance_matches_closed_form():
    rng = np.random.default_rng(0)
    a = rng.normal(0, 1, (4000, 3))
    b = rng.normal(0, 2, (4000, 3)) + np.array([1.0, 0, 0])
    # Closed form for diagonal covariances: |mu|² + sum (s_a - s_b)².
    expected = 1.0 + 3 * (1 - 2) ** 2
    assert abs(frechet_distance(a, b) - expected) < 0.3
    assert abs(frechet_distance(a, a)) < 1e-6


def test_kid_near_zero_for_same_and_positive_for_different():
    rng = np.random.default_rng(1)
    a, a2 = rng.normal(0, 1, (300, 8)), rng.normal(0, 1, (300, 8))
    b = rng.normal(0.5, 1, (300, 8))
    same = kernel_inception_distance(a, a2)
    diff = kernel_inception_distance(a, b)
    assert abs(same) < 0.05 < diff


class _StandIn(torch.nn.Module):
    """A tiny stand-in for Inception: mean colour and contrast as features."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x / 255
        return torch.cat([x.mean(dim=[2, 3]), x.std(dim=[2, 3])], dim=1)


@pytest.mark.filterwarnings("ignore:.*torch.jit.*:DeprecationWarning")
def test_inception_metrics_with_a_torchscript_stand_in(tmp_path):
    path = tmp_path / "standin.pt"
    torch.jit.script(_StandIn()).save(str(path))
    metrics = InceptionMetrics(path, _blobs(64, seed=0), batch=16)
    near = metrics.distance(_blobs(64, seed=1))
    far = metrics.distance(_blobs(64, seed=1, shift=0.5))
    assert far["fid"] > near["fid"] and far["kid"] > near["kid"]
    (tmp_path / "bad.pt").write_text("no")
    with pytest.raises(ValueError, match="TorchScript"):
        InceptionMetrics(tmp_path / "bad.pt", _blobs(4, seed=0))
