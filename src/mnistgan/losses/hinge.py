"""The hinge loss (Lim & Ye 2017; SAGAN, BigGAN), on D's raw scores.

D: mean(relu(1 - D(x))) + mean(relu(1 + D(G(z)))): a margin of 1 on each side.
G: -mean(D(G(z))).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mnistgan.losses.base import Loss, Stats, critic_g_loss, joint_scores


class HingeLoss(Loss):
    def d_loss(self, D: nn.Module, real: torch.Tensor, fake: torch.Tensor,
               y: torch.Tensor | None) -> tuple[torch.Tensor, Stats]:
        s_real, s_fake = joint_scores(D, real, fake, y).chunk(2)  # [B], [B]
        loss = F.relu(1 - s_real).mean() + F.relu(1 + s_fake).mean()
        return loss, {"d_loss": loss.detach(), "d_real": s_real.detach().mean(), "d_fake": s_fake.detach().mean(),
                      "sign_real": s_real.detach().sign().mean()}

    g_loss = staticmethod(critic_g_loss)

    def d_won(self, means: dict[str, float]) -> bool:
        # Every real and every fake is past its margin over the epoch: D's loss is ~0.
        return means["d_loss"] < 0.01
