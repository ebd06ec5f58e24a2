"""GAN losses by name (loss.name), the gradient penalties R1 (loss.r1_gamma > 0, on
real images) and R2 (loss.r2_gamma > 0, on generated ones), and G's mode-seeking term
(loss.ms_weight > 0)."""

from __future__ import annotations

from mnistgan.config import LossConfig
from mnistgan.errors import ConfigError
from mnistgan.losses.base import Loss, Stats
from mnistgan.losses.bce import BCELoss
from mnistgan.losses.hinge import HingeLoss
from mnistgan.losses.mode_seeking import ModeSeeking
from mnistgan.losses.r1 import R1
from mnistgan.losses.r2 import R2
from mnistgan.losses.rpgan import RpGANLoss
from mnistgan.losses.wgan_gp import WGANGPLoss

LOSSES = {
    "bce": lambda c: BCELoss(c.label_smoothing),
    "hinge": lambda c: HingeLoss(),
    "wgan-gp": lambda c: WGANGPLoss(c.gp_weight),
    "rpgan": lambda c: RpGANLoss(c.cls_weight),
}


def check_loss(cfg: LossConfig) -> None:
    if cfg.name not in LOSSES:
        raise ConfigError(f"loss.name: unknown {cfg.name!r} (choose from {', '.join(sorted(LOSSES))})")


def build_loss(cfg: LossConfig) -> Loss:
    check_loss(cfg)
    return LOSSES[cfg.name](cfg)


def build_penalties(cfg: LossConfig) -> tuple[R1, ...]:
    """R1 and R2 where their gamma is on, in that order."""
    return tuple(p(gamma, every) for p, gamma, every in ((R1, cfg.r1_gamma, cfg.r1_every),
                                                         (R2, cfg.r2_gamma, cfg.r2_every)) if gamma > 0)


def build_mode_seeking(cfg: LossConfig) -> ModeSeeking | None:
    return ModeSeeking(cfg.ms_weight) if cfg.ms_weight > 0 else None


__all__ = ["LOSSES", "Loss", "Stats", "BCELoss", "HingeLoss", "WGANGPLoss", "RpGANLoss", "R1", "R2", "ModeSeeking",
           "build_loss", "build_penalties", "build_mode_seeking", "check_loss"]
