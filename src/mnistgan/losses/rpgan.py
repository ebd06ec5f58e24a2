"""The relativistic pairing loss (RpGAN; Jolicoeur-Martineau 2018, as R3GAN uses it with
R1 and R2: Huang et al. 2024), on D's raw scores. Each generated image is paired with the
real image at its place in the batch (and its label):

D: mean(softplus(-(D(x) - D(G(z))))): D must score each real above its fake partner.
G: mean(softplus(-(D(G(z)) - D(x)))): G must lift each fake above its real partner.

Relative scores leave D no way to saturate on the fakes alone, and R3GAN found that with
R1 and R2 together (loss.r1_gamma, loss.r2_gamma, every step) it converges without the
usual tricks; with R1 alone it diverged.

With cls_weight = w > 0 (loss.cls_weight; a conditional projection D), both losses add w times
a cross-entropy on the class logits D's projection holds (models/base.py,
ProjectionDiscriminator): D's on the real images and their labels, G's on its images and the
labels it was asked for. The logits come from the features of the pass that scores the batch:
no extra pass through D.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mnistgan.losses.base import Loss, Stats, joint_scores


def _scored_features(D: nn.Module, real: torch.Tensor, fake: torch.Tensor,
                     y: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """A projection D's scores on real and fake [B] each, and their features [B, F] each: one
    pass through D's layers, as joint_scores."""
    h_real, h_fake = D.features(torch.cat([real, fake])).chunk(2)
    return D.score(h_real, y), D.score(h_fake, y), h_real, h_fake


class RpGANLoss(Loss):
    def __init__(self, cls_weight: float = 0.0) -> None:
        self.cls_weight = cls_weight
        if cls_weight:
            self.STATS = Loss.STATS + ("d_cls", "g_cls")

    def d_loss(self, D: nn.Module, real: torch.Tensor, fake: torch.Tensor,
               y: torch.Tensor | None) -> tuple[torch.Tensor, Stats]:
        if self.cls_weight:
            s_real, s_fake, h_real, _ = _scored_features(D, real, fake.detach(), y)
            cls = F.cross_entropy(D.class_logits(h_real), y)
        else:
            s_real, s_fake = joint_scores(D, real, fake, y).chunk(2)  # [B], [B]
        loss = F.softplus(s_fake - s_real).mean()
        stats = {"d_loss": loss.detach(), "d_real": s_real.detach().mean(), "d_fake": s_fake.detach().mean(),
                 # ADA's signal: only differences of scores mean anything, so a real is "called
                 # real" when it outscores its fake partner (shift-invariant, as the loss is)
                 "sign_real": (s_real - s_fake).detach().sign().mean()}
        if self.cls_weight:
            loss, stats["d_cls"] = loss + self.cls_weight * cls, cls.detach()
        return loss, stats

    def g_loss(self, D: nn.Module, real: torch.Tensor, fake: torch.Tensor,
               y: torch.Tensor | None) -> tuple[torch.Tensor, Stats]:
        if self.cls_weight:
            s_real, s_fake, _, h_fake = _scored_features(D, real, fake, y)
        else:
            yy = None if y is None else torch.cat([y, y])
            s_real, s_fake = D(torch.cat([real, fake]), yy).chunk(2)  # one pass; only the fakes carry G's graph
        loss = F.softplus(s_real - s_fake).mean()
        stats = {"g_loss": loss.detach()}
        if self.cls_weight:
            cls = F.cross_entropy(D.class_logits(h_fake), y)
            loss, stats["g_cls"] = loss + self.cls_weight * cls, cls.detach()
        return loss, stats

    def d_won(self, means: dict[str, float]) -> bool:
        # Every real outscores its fake partner by a wide margin over the epoch (softplus < 0.01
        # needs a gap above 4.6): G's gradients have vanished.
        return means["d_loss"] < 0.01
