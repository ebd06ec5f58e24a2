"""The spec's loss: binary cross-entropy on D's "probability real" (sigmoid of its score).

D: BCE(D(x), t) + BCE(D(G(z)), 0) with t = 1 - label_smoothing (one-sided smoothing).
G: the non-saturating BCE(D(G(z)), 1) = -log D(G(z)).
BCE-with-logits computes exactly sigmoid + BCE, without float32 saturation.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from mnistgan.losses.base import Loss, Stats, joint_scores


class BCELoss(Loss):
    SCORE_NAME = "probability real"
    THRESHOLD = 0.5  # sigmoid(score) > 0.5: D says real

    def __init__(self, label_smoothing: float = 0.0) -> None:
        self.real_target = 1.0 - label_smoothing

    def verdict(self, scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        probs = torch.sigmoid(scores)  # D's "probability real"
        return probs, probs > self.THRESHOLD

    def d_loss(self, D: nn.Module, real: torch.Tensor, fake: torch.Tensor,
               y: torch.Tensor | None) -> tuple[torch.Tensor, Stats]:
        logits = joint_scores(D, real, fake, y)  # [2B]: real, then fake (B packs with model.pack)
        B = logits.shape[0] // 2
        targets = torch.cat([torch.full((B,), self.real_target, device=logits.device),
                             torch.zeros(B, device=logits.device)])
        # mean over 2B rows, times 2 = BCE(D(x), t) + BCE(D(G(z)), 0), each a mean over B
        loss = 2 * F.binary_cross_entropy_with_logits(logits, targets)
        probs = torch.sigmoid(logits.detach())
        return loss, {"d_loss": loss.detach(), "d_real": probs[:B].mean(), "d_fake": probs[B:].mean(),
                      "sign_real": logits[:B].detach().sign().mean()}

    def g_loss(self, D: nn.Module, real: torch.Tensor, fake: torch.Tensor,
               y: torch.Tensor | None) -> tuple[torch.Tensor, Stats]:
        logit = D(fake, y)  # [B]
        loss = F.binary_cross_entropy_with_logits(logit, torch.ones_like(logit))
        return loss, {"g_loss": loss.detach()}

    def d_loss_floor(self) -> float:
        """The least D's loss can be: BCE against a soft target t is at least its entropy
        H(t) (0 for the hard target 1; 0.325 for t = 0.9), reached by a D always right."""
        t = self.real_target
        return 0.0 if t >= 1 else -(t * math.log(t) + (1 - t) * math.log(1 - t))

    def d_won(self, means: dict[str, float]) -> bool:
        # D is sure that every fake is fake (mean D(G(z)) < 0.01), and makes no mistakes
        # (its loss within 0.01 of its floor): G's gradients have vanished.
        return means["d_fake"] < 0.01 and means["d_loss"] - self.d_loss_floor() < 0.01
