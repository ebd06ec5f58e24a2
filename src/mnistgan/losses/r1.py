"""R1 (Mescheder et al. 2018): penalise D's gradient on real images, with any loss.

penalty = gamma / 2 * mean(|grad_x D(x)|^2) over real x. Lazy (StyleGAN2): applied as
its own D update every `every` steps, scaled by `every`, so its average weight per step
is unchanged while costing 1/every of the work.
"""

from __future__ import annotations

import torch
from torch import nn


class R1:
    def __init__(self, gamma: float, every: int = 16) -> None:
        self.gamma, self.every = gamma, every

    def due(self, step: int) -> bool:
        return step % self.every == 0

    def penalty(self, D: nn.Module, real: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """The scaled penalty to minimise on this step: gamma / 2 * E|grad|^2 * every."""
        x = real.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(D(x, y).sum(), x, create_graph=True)  # [B, 1, 28, 28]
        return self.gamma / 2 * grad.flatten(1).square().sum(1).mean() * self.every
