"""GAN losses: non-saturating logistic loss and lazy R1 regularisation (StyleGAN2).

Place in the data flow: discriminator logits -> **loss** -> gradients -> optimisers.
"""
from __future__ import annotations

import torch
from torch.nn import functional as F


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating G loss: -log sigmoid(D(G(z))), strong gradients even when D wins."""
    return F.softplus(-fake_logits).mean()


def fake_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """D's loss on fakes: -log(1 - sigmoid(D(G(z))))."""
    return F.softplus(fake_logits).mean()


def real_loss(real_logits: torch.Tensor) -> torch.Tensor:
    """D's loss on reals: -log sigmoid(D(x))."""
    return F.softplus(-real_logits).mean()


def r1_penalty(real_images: torch.Tensor, real_logits: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of |grad_x D(x)|² at real images (needs real_images.requires_grad).

    Keeps D flat around the data so the game converges instead of oscillating.
    """
    (grad,) = torch.autograd.grad(real_logits.sum(), real_images, create_graph=True)
    return grad.float().square().sum(dim=[1, 2, 3]).mean()


def default_gamma(res: int, batch: int) -> float:
    """R1 weight heuristic of StyleGAN2-ADA's 'auto' config: 0.0002 * res² / batch."""
    return 0.0002 * res * res / batch


STRUCTURE_SIZE = 8   # images are compared as 8x8 averages: their layout, not their grain


def structure(images: torch.Tensor) -> torch.Tensor:
    """Images reduced to at most STRUCTURE_SIZE² by averaging and standardised per image (zero
    mean, unit spread): per-pixel noise and texture average out, and brightness or contrast
    alone do not make two pictures different; what a viewer calls a different picture (shape,
    layout) stays."""
    x = images.float()
    if x.shape[-1] > STRUCTURE_SIZE or x.shape[-2] > STRUCTURE_SIZE:
        x = F.adaptive_avg_pool2d(x, STRUCTURE_SIZE)
    flat = x.flatten(1)
    flat = (flat - flat.mean(dim=1, keepdim=True)) / (flat.std(dim=1, keepdim=True) + 0.05)
    return flat.view_as(x)


def pair_distance(images: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference per value between the first and second half of a batch, as
    8x8 structures (`structure`), one number per pair [N // 2]."""
    half = images.shape[0] // 2
    x = structure(images[: 2 * half])
    return (x[:half] - x[half:]).abs().mean(dim=[1, 2, 3])


def variety_penalty(fakes: torch.Tensor, floor: float) -> torch.Tensor:
    """How far generated images of independent latents fall short, on average over the batch's
    pairs, of differing by `floor`, relative to it: 0 while they differ enough, 1 when all are
    identical.

    Compared as standardised 8x8 structures: a generator that ignores its latent still varies
    its grain (through the per-pixel noise inputs) and its brightness, which must not count as
    variety (on sklearn's digits they did: 16 latents drew the same "8", brighter or dimmer,
    with different speckle, while the pixel-level distance stayed at 0.6-0.9 of the data's).
    A hinge on mode collapse rather than a push toward noise: `floor` is set a little below the
    typical difference between two real images, so a generator as varied as its data hardly
    feels it, and one whose latents converge on a few pictures (on sklearn's digits: to one
    class, at half the data's spread) is pushed apart. In the spirit of mode-seeking GANs
    (Mao et al. 2019), with a floor instead of an unbounded ratio.
    """
    if fakes.shape[0] < 2 or floor <= 0:
        return fakes.new_zeros(())
    return F.relu(floor - pair_distance(fakes).mean()) / floor


def real_pair_distance(images: torch.Tensor, pairs: int = 256, seed: int = 0) -> float:
    """The mean difference per value between two random real images (for the variety floor)."""
    g = torch.Generator().manual_seed(seed)
    a = torch.randint(len(images), (pairs,), generator=g)
    b = torch.randint(len(images), (pairs,), generator=g)
    keep = a != b
    return float(pair_distance(torch.cat([images[a[keep]], images[b[keep]]])).mean())
