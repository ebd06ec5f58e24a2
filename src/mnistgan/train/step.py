"""One training step: the phases in order, D first, then G. The maths lives in the loss
(mnistgan.losses); this file only sequences it and steps the optimizers.

A step takes n_critic real batches: n_critic D updates (each on its own real batch and
fresh fakes, with the penalties that run every step), an update on the lazy penalties
when they are due, then one G update. With n_critic = 1 (the spec) one forward pass of G
serves all of them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from mnistgan.config import RunConfig
from mnistgan.hardware import hardware, resolve_precision
from mnistgan.losses import R1, Loss, ModeSeeking, Stats, build_loss, build_mode_seeking, build_penalties

Amp = Callable[[], contextlib.AbstractContextManager]  # the autocast context, or a null one


@dataclass(frozen=True)
class Objective:
    """What a step optimises and how: the loss, the gradient penalties (R1 on real images,
    R2 on generated ones), D updates per G update, precision, and G's mode-seeking term."""

    loss: Loss
    penalties: tuple[R1, ...] = ()
    n_critic: int = 1
    amp: Amp = contextlib.nullcontext

    precision: str = "fp32"  # what the forward passes compute in: train.precision, resolved
    mode_seeking: ModeSeeking | None = None

    @classmethod
    def from_config(cls, cfg: RunConfig, device: torch.device) -> Objective:
        """The run's loss, penalties and n_critic; bf16 autocast for the forward passes when
        train.precision resolves to bf16 on `device` (weights and Adam's state stay fp32).
        The autocast cache is off, as CUDA graph capture requires; it would save few casts
        here, as a region mostly runs a network once (WGAN-GP's penalty pass is the exception)."""
        precision = resolve_precision(cfg.train.precision, hardware(device))
        amp: Amp = contextlib.nullcontext
        if precision == "bf16":
            amp = lambda: torch.autocast(device.type, dtype=torch.bfloat16, cache_enabled=False)  # noqa: E731
        return cls(build_loss(cfg.loss), build_penalties(cfg.loss), cfg.loss.n_critic, amp, precision,
                   build_mode_seeking(cfg.loss))

    @property
    def stat_names(self) -> tuple[str, ...]:
        """The step's stats, in their logged order."""
        ms = (self.mode_seeking.name,) if self.mode_seeking else ()
        return self.loss.STATS + tuple(p.name for p in self.penalties) + ms

    def lazy_due(self, step: int) -> tuple[bool, ...]:
        """Which lazy penalties run at `step` (the variants of a step: one CUDA graph each)."""
        return tuple(p.due(step) for p in self.penalties if p.lazy)


def d_step(D: nn.Module, opt_d: torch.optim.Optimizer, loss: Loss, real: torch.Tensor, fake: torch.Tensor,
           y: torch.Tensor | None, amp: Amp = contextlib.nullcontext, penalties: tuple[R1, ...] = ()) -> Stats:
    """Update D to tell `real` [B, 1, 28, 28] from `fake` [B, 1, 28, 28] (labels y [B] or
    None), with `penalties` added to its loss. The loss detaches `fake`: this update must
    not move G."""
    with amp():
        value, stats = loss.d_loss(D, real, fake, y)
        for p in penalties:
            term = p.penalty(D, fake if p.on_fake else real, y)
            value, stats[p.name] = value + term, term.detach()
    opt_d.zero_grad(set_to_none=True)
    value.backward()
    opt_d.step()
    return stats


def penalty_step(D: nn.Module, opt_d: torch.optim.Optimizer, penalties: list[R1], real: torch.Tensor,
                 fake: torch.Tensor, y: torch.Tensor | None, amp: Amp = contextlib.nullcontext) -> Stats:
    """A separate D update on the due lazy penalties alone (lazy regularisation)."""
    with amp():
        terms = {p.name: p.penalty(D, fake if p.on_fake else real, y) for p in penalties}
    opt_d.zero_grad(set_to_none=True)
    sum(terms.values()).backward()
    opt_d.step()
    return {name: term.detach() for name, term in terms.items()}


def g_step(D: nn.Module, opt_g: torch.optim.Optimizer, loss: Loss, real: torch.Tensor, fake: torch.Tensor,
           y: torch.Tensor | None, amp: Amp = contextlib.nullcontext, mode_seeking: ModeSeeking | None = None,
           z: torch.Tensor | None = None) -> Stats:
    """Update G so that the freshly updated D takes `fake` for real (compared with `real`,
    for a relativistic loss), with `mode_seeking`'s term on `fake` and its noise `z` added.
    `fake` must still carry G's graph. D's parameters are frozen for the backward pass:
    their gradients would be discarded."""
    D.requires_grad_(False)
    with amp():
        value, stats = loss.g_loss(D, real, fake, y)
        if mode_seeking:
            term = mode_seeking.penalty(fake, z, y)
            value, stats[mode_seeking.name] = value + term, term.detach()
    opt_g.zero_grad(set_to_none=True)
    value.backward()
    opt_g.step()
    D.requires_grad_(True)
    return stats


def train_step(G: nn.Module, D: nn.Module, opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer,
               obj: Objective, real: torch.Tensor, y: torch.Tensor | None, z: torch.Tensor, step: int = 0) -> Stats:
    """real: [k*B, 1, 28, 28] in [-1, 1], y: [k*B] labels or None, z: [k*B, z_dim], for
    k = obj.n_critic D updates on B images each; fakes take the real batch's labels. The
    last chunk's fakes keep G's graph and serve the G update. Returns the step's stats,
    D's averaged over its k updates; `step` counts the steps done, for the lazy penalties."""
    k, amp = obj.n_critic, obj.amp
    every_step = tuple(p for p in obj.penalties if not p.lazy)
    reals, zs = real.chunk(k), z.chunk(k)  # k x [B, ...]
    ys = y.chunk(k) if y is not None else [None] * k
    d_stats: list[Stats] = []
    for i in range(k):
        with amp(), torch.set_grad_enabled(i == k - 1):  # earlier chunks' fakes are for D only
            fake = G(zs[i], ys[i])  # [B, 1, 28, 28]
        d_stats.append(d_step(D, opt_d, obj.loss, reals[i], fake, ys[i], amp, every_step))
    stats = d_stats[0] if k == 1 else {name: torch.stack([s[name] for s in d_stats]).mean() for name in d_stats[0]}
    lazy = [p for p in obj.penalties if p.lazy]
    due = [p for p in lazy if p.due(step)]
    stats |= {p.name: torch.zeros((), device=real.device) for p in lazy}
    if due:
        stats |= penalty_step(D, opt_d, due, reals[-1], fake, ys[-1], amp)
    return stats | g_step(D, opt_g, obj.loss, reals[-1], fake, ys[-1], amp, obj.mode_seeking, zs[-1])
