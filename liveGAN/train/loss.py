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
