"""R1 (Mescheder et al. 2018): penalise D's gradient on real images, with any loss.

penalty = gamma / 2 * mean(|grad_x D(x)|^2) over real x. With every = 1 it joins D's
loss in each D update (R3GAN). With every = k > 1 it is lazy (StyleGAN2): its own D
update every k steps, scaled by k, so its average weight per step is unchanged while
costing 1/k of the work.
"""

from __future__ import annotations

import torch
from torch import nn


class R1:
    name = "r1"  # its stat
    on_fake = False  # which images it is taken at: real (R1) or generated (R2)

    def __init__(self, gamma: float, every: int = 16) -> None:
        self.gamma, self.every = gamma, every

    @property
    def lazy(self) -> bool:
        return self.every > 1

    def due(self, step: int) -> bool:
        return step % self.every == 0

    def penalty(self, D: nn.Module, images: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """The scaled penalty to minimise on this step: gamma / 2 * E|grad|^2 * every."""
        x = images.detach().requires_grad_(True)
        scores = D(x, y)  # [B]: one per image, or per pack of images (model.pack: the norm is the pack's)
        (grad,) = torch.autograd.grad(scores.sum(), x, create_graph=True)  # [B, C, 28, 28]
        return self.gamma / 2 * grad.reshape(scores.shape[0], -1).square().sum(1).mean() * self.every
