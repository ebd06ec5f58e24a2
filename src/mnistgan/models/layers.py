"""Small pieces the architectures share."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


def maybe_sn(module: nn.Module, on: bool) -> nn.Module:
    """The module with spectral normalisation of its weight (largest singular value 1,
    estimated by one power iteration per training forward), or unchanged."""
    return spectral_norm(module) if on else module


BATCH_NORM = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d}  # dims 1: x [B, F]; dims 2: x [B, F, H, W]


class ClassBatchNorm(nn.Module):
    """Class-conditional batch norm (de Vries et al. 2017; the G of Miyato & Koyama 2018):
    batch statistics shared by every class, then a gain and a bias of the label's own.
    x [B, F] or [B, F, H, W], y [B] -> the same shape. Starts as plain batch norm (gain 1,
    bias 0)."""

    def __init__(self, features: int, num_classes: int, dims: int) -> None:
        super().__init__()
        self.norm = BATCH_NORM[dims](features, affine=False)
        self.gain = nn.Embedding(num_classes, features)
        self.bias = nn.Embedding(num_classes, features)
        nn.init.ones_(self.gain.weight)
        nn.init.zeros_(self.bias.weight)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        shape = (x.shape[0], -1) + (1,) * (x.dim() - 2)  # [B, F] or [B, F, 1, 1]
        return self.norm(x) * self.gain(y).view(shape) + self.bias(y).view(shape)


def batch_norm(features: int, num_classes: int, dims: int) -> nn.Module:
    """Plain batch norm, or ClassBatchNorm when there are classes to condition on."""
    if num_classes:
        return ClassBatchNorm(features, num_classes, dims)
    return BATCH_NORM[dims](features)


def run_labelled(layers: nn.Sequential, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    """x through the layers in turn, the label going to the ClassBatchNorms among them."""
    for layer in layers:
        x = layer(x, y) if isinstance(layer, ClassBatchNorm) else layer(x)
    return x
