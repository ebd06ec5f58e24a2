"""The spec's fully connected GAN.

G: z [B, 64] -> Linear 256 -> ReLU -> Linear 256 -> ReLU -> Linear 784 -> tanh -> [B, 1, 28, 28]
D: x [B, 1, 28, 28] -> flatten 784 -> Linear 256 -> LeakyReLU(0.2) -> Linear 256
   -> LeakyReLU(0.2) -> Linear 1 -> logit [B]

D returns a logit rather than a probability: sigmoid + BCE equals BCE-with-logits
mathematically, and the latter does not saturate in float32. `D.prob(x)` gives the
spec's "probability real".
"""

from __future__ import annotations

import torch
from torch import nn

from mnistgan.models.base import Generator

IMAGE_SHAPE = (1, 28, 28)
IMAGE_PIXELS = 28 * 28


class MLPGenerator(Generator):
    def __init__(self, z_dim: int = 64, hidden: int = 256) -> None:
        super().__init__()
        self.z_dim = z_dim
        self.net = nn.Sequential(
            nn.Linear(z_dim, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, IMAGE_PIXELS),
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(-1, *IMAGE_SHAPE)  # [B, z_dim] -> [B, 1, 28, 28] in [-1, 1]


class MLPDiscriminator(nn.Module):
    def __init__(self, hidden: int = 256, leaky_slope: float = 0.2) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(IMAGE_PIXELS, hidden),
            nn.LeakyReLU(leaky_slope),
            nn.Linear(hidden, hidden),
            nn.LeakyReLU(leaky_slope),
            nn.Linear(hidden, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(1)).squeeze(1)  # [B, 1, 28, 28] -> logit [B]

    @torch.no_grad()
    def prob(self, x: torch.Tensor) -> torch.Tensor:
        """The probability that each image is real, [B]."""
        return torch.sigmoid(self(x))
