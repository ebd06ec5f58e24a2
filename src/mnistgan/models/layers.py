"""Small pieces the architectures share."""

from __future__ import annotations

from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


def maybe_sn(module: nn.Module, on: bool) -> nn.Module:
    """The module with spectral normalisation of its weight (largest singular value 1,
    estimated by one power iteration per training forward), or unchanged."""
    return spectral_norm(module) if on else module
