"""Model families by name. Each maps a ModelConfig to G and D, and a weights file's saved
constructor arguments back to the same module."""

from __future__ import annotations

from typing import Any

from mnistgan.config import ModelConfig, model_config
from mnistgan.errors import ConfigError
from mnistgan.models.base import Conditional, Discriminator, Generator
from mnistgan.models.dcgan import DCGANDiscriminator, DCGANGenerator
from mnistgan.models.mlp import MLPDiscriminator, MLPGenerator
from mnistgan.models.resnet import ResNetDiscriminator, ResNetGenerator

ARCHS: dict[str, tuple[type[Generator], type[Discriminator]]] = {
    "mlp": (MLPGenerator, MLPDiscriminator),
    "dcgan": (DCGANGenerator, DCGANDiscriminator),
    "resnet": (ResNetGenerator, ResNetDiscriminator),
}


def check_arch(cfg: ModelConfig) -> None:
    """Raise ConfigError for an unknown model.arch, or an option it does not take, without
    building anything."""
    if cfg.arch not in ARCHS:
        raise ConfigError(f"model.arch: unknown {cfg.arch!r} (choose from {', '.join(sorted(ARCHS))})")
    if cfg.spectral_norm and not ARCHS[cfg.arch][1].spectral_norm_ok:
        raise ConfigError(f"model.spectral_norm does not apply to model.arch={cfg.arch!r} (set it to false)")
    if cfg.g_cond != "scale" and cfg.arch != "dcgan":
        raise ConfigError(f"model.g_cond={cfg.g_cond!r} applies to model.arch='dcgan' only (set it to 'scale')")
    if cfg.d_head and cfg.arch != "dcgan":
        raise ConfigError("model.d_head applies to model.arch='dcgan' only (set it to 0)")


def build_generator(cfg: ModelConfig) -> Generator:
    check_arch(cfg)
    return ARCHS[cfg.arch][0].from_config(cfg)


def build_discriminator(cfg: ModelConfig) -> Discriminator:
    check_arch(cfg)
    return ARCHS[cfg.arch][1].from_config(cfg)


def rebuild_generator(arch: str, args: dict[str, Any]) -> Generator:
    """G from its saved arch name and constructor arguments (a weights file's metadata).
    The arguments go through ModelConfig, so a tampered file meets the same bounds as a
    config."""
    if not isinstance(args, dict):
        raise ConfigError(f"model arguments must be a table, got {args!r:.60}")
    return build_generator(model_config({"arch": arch, **args}))


def rebuild_discriminator(arch: str, args: dict[str, Any]) -> Discriminator:
    """D from its saved arch name and constructor arguments, as rebuild_generator."""
    if not isinstance(args, dict):
        raise ConfigError(f"model arguments must be a table, got {args!r:.60}")
    return build_discriminator(model_config({"arch": arch, **args}))


__all__ = ["ARCHS", "Conditional", "Generator", "Discriminator", "check_arch", "build_generator", "build_discriminator",
           "rebuild_generator", "rebuild_discriminator", "MLPGenerator", "MLPDiscriminator", "DCGANGenerator",
           "DCGANDiscriminator", "ResNetGenerator", "ResNetDiscriminator"]
