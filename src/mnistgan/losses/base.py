"""What every GAN loss provides. The loss owns the maths; train/step.py only sequences
the phases (n_critic D updates, then one G update) and the optimizer steps.

d_loss(D, real, fake, y) -> (loss to minimise for D, named stats)
g_loss(D, real, fake, y) -> (loss to minimise for G, named stats); `real` is the batch D
    just saw, for losses that compare (rpgan); the others ignore it
The stats are detached scalar tensors (no host sync); STATS names them in a fixed order,
the order of the logged means. `d_real`/`d_fake` are D's mean verdicts on the batch,
in the loss's own scale (a probability for BCE, a raw score otherwise). d_loss's stats
also hold `sign_real`, the mean sign of D's raw scores on the real images (for rpgan, of
each real's score minus its fake partner's): ADA's overfitting signal (train/augment.py),
not logged.
"""

from __future__ import annotations

import torch
from torch import nn

Stats = dict[str, torch.Tensor]


class Loss:
    STATS: tuple[str, ...] = ("d_loss", "g_loss", "d_real", "d_fake")

    def d_loss(self, D: nn.Module, real: torch.Tensor, fake: torch.Tensor,
               y: torch.Tensor | None) -> tuple[torch.Tensor, Stats]:
        raise NotImplementedError

    def g_loss(self, D: nn.Module, real: torch.Tensor, fake: torch.Tensor,
               y: torch.Tensor | None) -> tuple[torch.Tensor, Stats]:
        raise NotImplementedError

    # How to read one score of D: what it is called, and the value above which D calls an
    # image real. A critic's raw score (hinge, WGAN) has 0 between its two sides.
    SCORE_NAME = "raw score"
    THRESHOLD = 0.0
    SIGNED = True  # whether sign_real says real or fake (ADA's overfitting signal needs it)

    def verdict(self, scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """D's raw scores [B] -> (scores in this loss's scale [B], called real [B] bool)."""
        return scores, scores > self.THRESHOLD

    def d_won(self, means: dict[str, float]) -> bool:
        """Whether D has saturated (separates the epoch's real and fake perfectly, so G's
        gradients vanish), from the epoch's mean stats. False where a loss has no such state."""
        return False


def joint_scores(D: nn.Module, real: torch.Tensor, fake: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    """D's scores [2B]: on real [B, ...] (first B) and on the detached fake [B, ...] (last B),
    in one forward pass: the same maths for a per-sample D, and bigger matrix products run
    faster. Fakes share the real batch's labels."""
    yy = None if y is None else torch.cat([y, y])
    return D(torch.cat([real, fake.detach()]), yy)


def critic_g_loss(D: nn.Module, real: torch.Tensor, fake: torch.Tensor,
                  y: torch.Tensor | None) -> tuple[torch.Tensor, Stats]:
    """G's loss when D's raw score is the critic's (hinge, WGAN): -mean(D(G(z)))."""
    loss = -D(fake, y).mean()
    return loss, {"g_loss": loss.detach()}
