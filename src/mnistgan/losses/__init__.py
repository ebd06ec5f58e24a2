"""GAN losses by name (loss.name), and the R1 regulariser (loss.r1_gamma > 0)."""

from __future__ import annotations

from mnistgan.config import LossConfig
from mnistgan.errors import ConfigError
from mnistgan.losses.base import Loss, Stats
from mnistgan.losses.bce import BCELoss
from mnistgan.losses.hinge import HingeLoss
from mnistgan.losses.r1 import R1
from mnistgan.losses.wgan_gp import WGANGPLoss

LOSSES = {
    "bce": lambda c: BCELoss(c.label_smoothing),
    "hinge": lambda c: HingeLoss(),
    "wgan-gp": lambda c: WGANGPLoss(c.gp_weight),
}


def check_loss(cfg: LossConfig) -> None:
    if cfg.name not in LOSSES:
        raise ConfigError(f"loss.name: unknown {cfg.name!r} (choose from {', '.join(sorted(LOSSES))})")


def build_loss(cfg: LossConfig) -> Loss:
    check_loss(cfg)
    return LOSSES[cfg.name](cfg)


def build_r1(cfg: LossConfig) -> R1 | None:
    return R1(cfg.r1_gamma, cfg.r1_every) if cfg.r1_gamma > 0 else None


__all__ = ["LOSSES", "Loss", "Stats", "BCELoss", "HingeLoss", "WGANGPLoss", "R1", "build_loss", "build_r1",
           "check_loss"]
