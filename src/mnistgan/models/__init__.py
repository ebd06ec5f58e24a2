"""Model families by name. Each maps a ModelConfig to G and D, and a weights file's saved
constructor arguments back to the same module."""

from __future__ import annotations

from typing import Any

from mnistgan.config import ModelConfig, model_config
from mnistgan.errors import ConfigError
from mnistgan.models.base import Discriminator, Generator
from mnistgan.models.dcgan import DCGANDiscriminator, DCGANGenerator
from mnistgan.models.mlp import MLPDiscriminator, MLPGenerator

ARCHS: dict[str, tuple[type[Generator], type[Discriminator]]] = {
    "mlp": (MLPGenerator, MLPDiscriminator),
    "dcgan": (DCGANGenerator, DCGANDiscriminator),
}


def check_arch(cfg: ModelConfig) -> None:
    """Raise ConfigError for an unknown model.arch, without building anything."""
    if cfg.arch not in ARCHS:
        raise ConfigError(f"model.arch: unknown {cfg.arch!r} (choose from {', '.join(sorted(ARCHS))})")


def generator_args(cfg: ModelConfig) -> dict[str, Any]:
    width = {"hidden": cfg.hidden} if cfg.arch == "mlp" else {"channels": cfg.channels}
    return {"z_dim": cfg.z_dim, **width, "num_classes": cfg.num_classes}


def discriminator_args(cfg: ModelConfig) -> dict[str, Any]:
    width = {"hidden": cfg.hidden} if cfg.arch == "mlp" else {"channels": cfg.channels}
    return {**width, "leaky_slope": cfg.leaky_slope, "num_classes": cfg.num_classes,
            "spectral_norm": cfg.spectral_norm}


def build_generator(cfg: ModelConfig) -> Generator:
    check_arch(cfg)
    return ARCHS[cfg.arch][0](**generator_args(cfg))


def build_discriminator(cfg: ModelConfig) -> Discriminator:
    check_arch(cfg)
    return ARCHS[cfg.arch][1](**discriminator_args(cfg))


def rebuild(kind: str, arch: str, args: dict[str, Any]) -> Generator | Discriminator:
    """A module from its saved arch name and constructor arguments (a weights file's
    metadata). The arguments go through ModelConfig, so a tampered file meets the same
    bounds as a config."""
    if kind not in ("G", "D") or arch not in ARCHS or not isinstance(args, dict):
        raise ConfigError(f"unknown model {kind} {arch!r}")
    cfg = model_config({"arch": arch, **args})
    return build_generator(cfg) if kind == "G" else build_discriminator(cfg)


__all__ = ["ARCHS", "Generator", "Discriminator", "check_arch", "build_generator", "build_discriminator",
           "rebuild", "generator_args", "discriminator_args", "MLPGenerator", "MLPDiscriminator",
           "DCGANGenerator", "DCGANDiscriminator"]
