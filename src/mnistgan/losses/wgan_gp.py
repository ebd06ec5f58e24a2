"""WGAN-GP (Gulrajani et al. 2017): D is a critic whose scores estimate the Wasserstein
distance, kept 1-Lipschitz by a gradient penalty. Use with loss.n_critic = 5.

D: mean(D(G(z))) - mean(D(x)) + gp_weight * mean((|grad D(x_hat)| - 1)^2),
   x_hat = eps * x + (1 - eps) * G(z), eps ~ U(0, 1) per image.
G: -mean(D(G(z))).
"""

from __future__ import annotations

import torch
from torch import nn

from mnistgan.losses.base import Loss, Stats, critic_g_loss, joint_scores


class WGANGPLoss(Loss):
    STATS = Loss.STATS + ("gp",)
    # A Wasserstein critic's scores have no fixed offset (only differences mean anything),
    # so 0 as the real/fake line is a convention, not the model's own threshold.
    SCORE_NAME = "critic score (no fixed threshold; 0 used)"
    SIGNED = False

    def __init__(self, gp_weight: float = 10.0) -> None:
        self.gp_weight = gp_weight

    def d_loss(self, D: nn.Module, real: torch.Tensor, fake: torch.Tensor,
               y: torch.Tensor | None) -> tuple[torch.Tensor, Stats]:
        s_real, s_fake = joint_scores(D, real, fake, y).chunk(2)  # [B], [B]
        eps = torch.rand(real.shape[0], 1, 1, 1, device=real.device)  # [B, 1, 1, 1]
        x_hat = (eps * real + (1 - eps) * fake.detach()).requires_grad_(True)
        (grad,) = torch.autograd.grad(D(x_hat, y).sum(), x_hat, create_graph=True)  # [B, C, 28, 28]
        gp = (grad.reshape(s_real.shape[0], -1).norm(dim=1) - 1).square().mean()  # per score: a pack's norm
        loss = s_fake.mean() - s_real.mean() + self.gp_weight * gp
        return loss, {"d_loss": loss.detach(), "d_real": s_real.detach().mean(), "d_fake": s_fake.detach().mean(),
                      "gp": gp.detach(), "sign_real": s_real.detach().sign().mean()}

    g_loss = staticmethod(critic_g_loss)
