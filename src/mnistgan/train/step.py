"""The GAN maths of one training step: D first, then G. Nothing else lives here.

Both losses are binary cross-entropy. D returns logits, so BCE-with-logits computes
exactly the spec's sigmoid + BCE without float32 saturation.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class StepStats:
    """Detached scalar tensors (no GPU sync until someone calls .item())."""

    d_loss: torch.Tensor
    g_loss: torch.Tensor
    d_real: torch.Tensor  # mean D(x): D's probability that real images are real
    d_fake: torch.Tensor  # mean D(G(z)) before D's update, on the same fakes


def d_step(D: nn.Module, opt_d: torch.optim.Optimizer, real: torch.Tensor, fake: torch.Tensor,
           real_target: float = 1.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Update D to call `real` [B, 1, 28, 28] real (target 1, or 1 - label smoothing) and
    `fake` [B, 1, 28, 28] fake (target 0). `fake` is detached: this step must not move G.
    Returns (loss, mean D(x), mean D(G(z)))."""
    B = real.shape[0]
    # One forward pass over [real; fake] (2B rows) instead of two: the same maths for a
    # per-sample D (no batch norm), and bigger matrix products run faster on the CPU.
    logits = D(torch.cat([real, fake.detach()]))  # [2B]
    targets = torch.cat([torch.full((B,), real_target, device=logits.device), torch.zeros(B, device=logits.device)])
    # mean over 2B rows, times 2 = BCE(D(x), 1) + BCE(D(G(z)), 0), each a mean over B
    loss = 2 * F.binary_cross_entropy_with_logits(logits, targets)
    opt_d.zero_grad(set_to_none=True)
    loss.backward()
    opt_d.step()
    probs = torch.sigmoid(logits.detach())
    return loss.detach(), probs[:B].mean(), probs[B:].mean()


def g_step(D: nn.Module, opt_g: torch.optim.Optimizer, fake: torch.Tensor) -> torch.Tensor:
    """Update G so that the freshly updated D calls `fake` real (target 1): the
    non-saturating loss -log D(G(z)). `fake` must still carry G's graph.
    D's parameters are frozen for the backward pass: their gradients would be discarded."""
    D.requires_grad_(False)
    logit = D(fake)  # [B]
    loss = F.binary_cross_entropy_with_logits(logit, torch.ones_like(logit))
    opt_g.zero_grad(set_to_none=True)
    loss.backward()
    opt_g.step()
    D.requires_grad_(True)
    return loss.detach()


def train_step(G: nn.Module, D: nn.Module, opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer,
               real: torch.Tensor, z: torch.Tensor, real_target: float = 1.0) -> StepStats:
    """One step of the spec: generate a batch, update D on real + fake, then update G.
    real: [B, 1, 28, 28] in [-1, 1]; z: [B, z_dim]."""
    fake = G(z)  # [B, 1, 28, 28]; one forward pass serves both updates
    d_loss, d_real, d_fake = d_step(D, opt_d, real, fake, real_target)
    g_loss = g_step(D, opt_g, fake)
    return StepStats(d_loss, g_loss, d_real, d_fake)
