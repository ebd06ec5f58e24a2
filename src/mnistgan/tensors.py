"""The conversions and loops every part of mnistgan shares, one helper each.

Images are stored and written as uint8 [N, 28, 28] (0 = black background, as in MNIST),
or [N, C, 28, 28] with C > 1 channels (stacked-mnist, colour imports); models take and
give float [N, C, 28, 28] in [-1, 1], the range of G's tanh (C = 1 for grey images).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from mnistgan.data.datasets import to_uint8, to_unit_range


def as_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 [N, 28, 28] -> float32 [N, 1, 28, 28] in [-1, 1]; [N, C, 28, 28] keeps its C."""
    x = to_unit_range(images)
    return x.unsqueeze(1) if images.dim() == 3 else x


def as_images(x: torch.Tensor) -> torch.Tensor:
    """float [N, 1, 28, 28] in [-1, 1] -> uint8 [N, 28, 28] (rounded, clamped); with C > 1
    channels, uint8 [N, C, 28, 28]."""
    pixels = to_uint8(x)
    return pixels[:, 0] if pixels.shape[1] == 1 else pixels


@torch.no_grad()
def batched(fn: Callable[[slice], torch.Tensor], n: int, batch_size: int = 1000) -> torch.Tensor:
    """fn over rows [0, n) in slices of batch_size, without autograd, concatenated along
    dim 0: bounded memory for any n. fn takes the slice, so it can index several tensors."""
    return torch.cat([fn(slice(i, min(i + batch_size, n))) for i in range(0, n, batch_size)])
