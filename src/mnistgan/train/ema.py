"""An exponential moving average of G's weights (Karras et al.; StyleGAN2-ADA's G_ema).

The EMA generator is what sample, evaluate, export and the grid use when it is on: it
averages away the step-to-step jitter of adversarial training. Its half-life is given in
images: after `halflife` more images, an old weight's share has halved. During a ramp-up
the half-life is at most `rampup` x the images seen so far, so early weights (noise) do
not linger.
"""

from __future__ import annotations

import copy

import torch

from mnistgan.models import Generator


def ema_copy(G: Generator) -> Generator:
    """A frozen copy of G to hold the average (eval mode, no gradients)."""
    return copy.deepcopy(G).eval().requires_grad_(False)


def ema_beta(batch: int, images_seen: int, halflife: int, rampup: float) -> float:
    """The share of the old average kept after a batch of `batch` images."""
    h = min(halflife, images_seen * rampup) if rampup > 0 else halflife
    return 0.5 ** (batch / max(h, 1e-8))


@torch.no_grad()
def update_ema(G_ema: Generator, G: Generator, beta: float) -> None:
    """G_ema <- beta * G_ema + (1 - beta) * G for parameters; buffers (batch-norm
    statistics) are copied, as they are running averages already."""
    torch._foreach_lerp_(list(G_ema.parameters()), list(G.parameters()), 1.0 - beta)  # one kernel on a GPU
    for b_ema, b in zip(G_ema.buffers(), G.buffers()):
        b_ema.copy_(b)


@torch.no_grad()
def update_ema_by(G_ema: Generator, G: Generator, weight: torch.Tensor) -> None:
    """update_ema with its 1 - beta held in a float32 tensor on G's device, read when the
    update runs (inside a CUDA graph, each replay reads the value copied in for it); the
    same update as the float's."""
    for p_ema, p in zip(G_ema.parameters(), G.parameters()):
        p_ema.lerp_(p, weight)
    for b_ema, b in zip(G_ema.buffers(), G.buffers()):
        b_ema.copy_(b)
