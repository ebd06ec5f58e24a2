"""Model families by name: each maps a ModelConfig to a generator and a discriminator."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from mnistgan.config import ModelConfig
from mnistgan.errors import ConfigError
from mnistgan.models.base import Generator
from mnistgan.models.mlp import MLPDiscriminator, MLPGenerator

# arch -> (build G, build D)
ARCHS: dict[str, tuple[Callable[[ModelConfig], Generator], Callable[[ModelConfig], nn.Module]]] = {
    "mlp": (
        lambda c: MLPGenerator(c.z_dim, c.hidden),
        lambda c: MLPDiscriminator(c.hidden, c.leaky_slope),
    ),
}


def _builders(cfg: ModelConfig) -> tuple[Callable[[ModelConfig], Generator], Callable[[ModelConfig], nn.Module]]:
    if cfg.arch not in ARCHS:
        raise ConfigError(f"model.arch: unknown {cfg.arch!r} (choose from {', '.join(sorted(ARCHS))})")
    return ARCHS[cfg.arch]


def check_arch(cfg: ModelConfig) -> None:
    """Raise ConfigError for an unknown model.arch, without building anything."""
    _builders(cfg)


def build_generator(cfg: ModelConfig) -> Generator:
    return _builders(cfg)[0](cfg)


def build_discriminator(cfg: ModelConfig) -> nn.Module:
    return _builders(cfg)[1](cfg)


__all__ = ["Generator", "ARCHS", "check_arch", "build_generator", "build_discriminator", "MLPGenerator", "MLPDiscriminator"]
