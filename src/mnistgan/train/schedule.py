"""The learning rates' schedule: constant, then, from train.lr_decay_start of the run on,
falling linearly to 0 at its end (as pix2pix and CycleGAN train). A run's share done is
measured by what ends it: train.minutes of training steps when set, else train.epochs
(the larger share when both are set: whichever ends the run first). By epochs the
schedule is a function of the step, so a resumed run is the uninterrupted one; by minutes
it follows the clock, as the budget does."""

from __future__ import annotations

import torch

from mnistgan.config import TrainConfig
from mnistgan.train.state import TrainState


def lr_scale(start: float, done: float) -> float:
    """The factor on both learning rates when `done` of the run is done (1 before `start`)."""
    if start >= 1 or done <= start:
        return 1.0
    return max(0.0, (1 - done) / (1 - start))


def share_done(t: TrainConfig, epochs: float, seconds: float) -> float:
    """The share of the run done after `epochs` (fractional) and `seconds` of training steps."""
    return max(epochs / t.epochs, seconds / (t.minutes * 60) if t.minutes else 0.0)


def set_lrs(state: TrainState, t: TrainConfig, epochs: float, seconds: float) -> float:
    """Set both optimisers' learning rates for a run `epochs` (fractional) and `seconds` of
    training steps in; returns the factor on them."""
    scale = lr_scale(t.lr_decay_start, share_done(t, epochs, seconds))
    for opt, lr in ((state.opt_g, t.lr_g), (state.opt_d, t.lr_d)):
        for group in opt.param_groups:
            if isinstance(group["lr"], torch.Tensor):  # a CUDA graph's (train/fast.py): filled in place
                group["lr"].fill_(lr * scale)
            else:
                group["lr"] = lr * scale
    return scale
