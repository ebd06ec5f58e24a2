"""The relativistic pairing loss (RpGAN; Jolicoeur-Martineau 2018, as R3GAN uses it with
R1 and R2: Huang et al. 2024), on D's raw scores. Each generated image is paired with the
real image at its place in the batch (and its label):

D: mean(softplus(-(D(x) - D(G(z))))): D must score each real above its fake partner.
G: mean(softplus(-(D(G(z)) - D(x)))): G must lift each fake above its real partner.

Relative scores leave D no way to saturate on the fakes alone, and R3GAN found that with
R1 and R2 together (loss.r1_gamma, loss.r2_gamma, every step) it converges without the
usual tricks; with R1 alone it diverged.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mnistgan.losses.base import Loss, Stats, joint_scores


class RpGANLoss(Loss):
    def d_loss(self, D: nn.Module, real: torch.Tensor, fake: torch.Tensor,
               y: torch.Tensor | None) -> tuple[torch.Tensor, Stats]:
        s_real, s_fake = joint_scores(D, real, fake, y).chunk(2)  # [B], [B]
        loss = F.softplus(s_fake - s_real).mean()
        return loss, {"d_loss": loss.detach(), "d_real": s_real.detach().mean(), "d_fake": s_fake.detach().mean(),
                      # ADA's signal: only differences of scores mean anything, so a real is "called
                      # real" when it outscores its fake partner (shift-invariant, as the loss is)
                      "sign_real": (s_real - s_fake).detach().sign().mean()}

    def g_loss(self, D: nn.Module, real: torch.Tensor, fake: torch.Tensor,
               y: torch.Tensor | None) -> tuple[torch.Tensor, Stats]:
        yy = None if y is None else torch.cat([y, y])
        s_real, s_fake = D(torch.cat([real, fake]), yy).chunk(2)  # one pass; only the fakes carry G's graph
        loss = F.softplus(s_real - s_fake).mean()
        return loss, {"g_loss": loss.detach()}

    def d_won(self, means: dict[str, float]) -> bool:
        # Every real outscores its fake partner by a wide margin over the epoch (softplus < 0.01
        # needs a gap above 4.6): G's gradients have vanished.
        return means["d_loss"] < 0.01
