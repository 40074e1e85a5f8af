"""Augmentations: shapes, differentiability, and ADA's p following D's overfitting signal."""
from __future__ import annotations

import pytest
import torch

from liveGAN.train.augment import ADA, DiffAugment, NoAugment, build_augment


@pytest.fixture
def images():
    torch.manual_seed(0)
    return torch.rand(8, 3, 16, 16) * 2 - 1


@pytest.mark.parametrize("make", [DiffAugment, lambda: ADA(p=0.8), NoAugment])
def test_shape_and_gradient_flow(make, images):
    aug = make()
    x = images.clone().requires_grad_(True)
    y = aug(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    (y * torch.randn_like(y)).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


@pytest.mark.parametrize("policy", [("colour",), ("translation",), ("cutout",)])
def test_each_diffaugment_op_changes_images_and_passes_gradients(policy, images):
    torch.manual_seed(1)
    x = images.clone().requires_grad_(True)
    y = DiffAugment(policy)(x)
    assert not torch.allclose(y, x)
    y.sum().backward()
    assert x.grad.abs().sum() > 0


def test_translation_moves_content_without_resampling():
    torch.manual_seed(3)
    x = torch.zeros(16, 1, 16, 16)
    x[:, :, 8, 8] = 1.0
    y = DiffAugment(("translation",))(x)
    # Integer shifts: the single bright pixel stays exactly 1 (or leaves the frame).
    assert set(torch.unique(y).tolist()) <= {0.0, 1.0}
    assert (y.flatten(1).argmax(1) != 8 * 16 + 8).any()


def test_cutout_blacks_out_about_a_quarter(images):
    torch.manual_seed(2)
    y = DiffAugment(("cutout",))(images + 2)   # +2: no pixel is zero before cutout
    zero = (y == 0).float().mean()
    assert 0.1 < zero < 0.3


def test_ada_p_zero_is_identity_and_p_one_changes_everything(images):
    assert torch.equal(ADA(p=0.0)(images), images)
    torch.manual_seed(0)
    y = ADA(p=1.0)(images)
    assert (y - images).flatten(1).abs().mean(1).min() > 1e-3


def test_ada_p_rises_when_d_overfits_and_falls_otherwise():
    ada = ADA(target=0.6, adjust_kimg=1.0)
    p = [ada.p]
    for _ in range(10):   # D confident on reals: all logits positive, r_t = 1
        ada.accumulate(torch.ones(16))
        rt = ada.update(batch_images=16)
        p.append(ada.p)
    assert rt == 1.0
    assert all(b > a for a, b in zip(p, p[1:]))
    high = ada.p
    for _ in range(5):   # D unsure: r_t = 0 < 0.6
        ada.accumulate(torch.tensor([1.0, -1.0] * 8))
        ada.update(batch_images=16)
    assert ada.p < high
    assert ada.update(16) is None   # nothing collected since: p unchanged
    state = ada.state()
    other = ADA()
    other.load_state(state)
    assert other.p == ada.p


def test_ada_p_stays_in_unit_interval():
    ada = ADA(adjust_kimg=0.001)
    for _ in range(5):
        ada.accumulate(torch.ones(4))
        ada.update(64)
    assert ada.p == 1.0
    for _ in range(5):
        ada.accumulate(-torch.ones(4))
        ada.update(64)
    assert ada.p == 0.0


def test_build_augment_names():
    assert isinstance(build_augment("ada"), ADA)
    assert isinstance(build_augment("diffaugment"), DiffAugment)
    assert isinstance(build_augment("none"), NoAugment)
    with pytest.raises(ValueError):
        build_augment("lots")


def test_ada_transforms_the_intensity_of_grey_images_without_negating_them():
    """One-channel batches get brightness and contrast (geometry alone would leave a flat grey
    image flat): values move, all stay grey. The luma flip, which on one channel is negation,
    is left out: at p = 1 an RGB batch comes out with about half its images flipped, a grey
    one with none beyond what a brightness shift of 2.5 sigma can do."""
    torch.manual_seed(4)
    flat = torch.full((64, 1, 16, 16), 0.5, requires_grad=True)
    y = ADA(p=1.0)(flat)
    assert y.shape == (64, 1, 16, 16) and torch.isfinite(y).all()
    kept = y.detach().flatten(1)
    level = torch.stack([row[row != 0].median() for row in kept])   # cutout leaves zeros
    assert ((level - 0.5).abs() > 0.05).float().mean() > 0.8
    assert (level < 0).float().mean() < 0.05                        # no flip
    y.sum().backward()
    assert flat.grad.abs().sum() > 0
    rgb = ADA(p=1.0)(torch.full((64, 3, 16, 16), 0.5)).flatten(2)
    level = torch.stack([img[:, img.abs().sum(0) != 0].median(1).values.mean() for img in rgb])
    assert 0.2 < (level < 0).float().mean() < 0.8                   # the flip, about half
