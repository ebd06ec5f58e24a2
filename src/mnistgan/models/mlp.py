"""The spec's fully connected GAN, and its conditional variant.

G: z [B, 64] -> Linear 256 -> ReLU -> Linear 256 -> ReLU -> Linear 784 -> tanh -> [B, 1, 28, 28]
D: x [B, 1, 28, 28] -> flatten 784 -> Linear 256 -> LeakyReLU(0.2) -> Linear 256
   -> LeakyReLU(0.2) -> Linear 1 -> score [B]

(the tutorial's sizes; the widths, the number of hidden layers (depth) and dropout after
each of D's hidden layers are constructor arguments). With img_channels C, G's last layer
gives C x 784 values and D's first takes them: [B, C, 28, 28]; with pack m, D's first
layer takes m images' m x C x 784 values and scores them together.

D returns a raw score (a logit for the BCE loss): the loss owns what it means. With
num_classes > 0, a learned embedding of the label [B, C] is joined to z (G) and to the
flattened image (D).
"""

from __future__ import annotations

import torch
from torch import nn

from mnistgan.config import ModelConfig
from mnistgan.models.base import Discriminator, Generator
from mnistgan.models.layers import maybe_sn

IMAGE_SIDE = 28
IMAGE_PIXELS = IMAGE_SIDE * IMAGE_SIDE  # per channel


class MLPGenerator(Generator):
    arch = "mlp"

    def __init__(self, z_dim: int = 64, hidden: int = 256, num_classes: int = 0, depth: int = 2,
                 img_channels: int = 1) -> None:
        super().__init__(z_dim=z_dim, hidden=hidden, num_classes=num_classes, depth=depth, img_channels=img_channels)
        self.z_dim = z_dim
        layers: list[nn.Module] = [nn.Linear(z_dim + num_classes, hidden), nn.ReLU()]
        for _ in range(depth - 1):
            layers += [nn.Linear(hidden, hidden), nn.ReLU()]
        self.net = nn.Sequential(*layers, nn.Linear(hidden, img_channels * IMAGE_PIXELS), nn.Tanh())
        self.embed = nn.Embedding(num_classes, num_classes) if num_classes else None  # label -> [C]

    @classmethod
    def from_config(cls, c: ModelConfig) -> MLPGenerator:
        return cls(c.z_dim, c.hidden, c.num_classes, c.depth, c.img_channels)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        self.check_labels(y, z.shape[0])
        if self.embed is not None:
            z = torch.cat([z, self.embed(y)], dim=1)  # [B, z_dim + C]
        return self.net(z).view(-1, self.img_channels, IMAGE_SIDE, IMAGE_SIDE)  # -> [B, C, 28, 28] in [-1, 1]


class MLPDiscriminator(Discriminator):
    arch = "mlp"

    def __init__(self, hidden: int = 256, leaky_slope: float = 0.2, num_classes: int = 0,
                 spectral_norm: bool = False, depth: int = 2, dropout_d: float = 0.0, img_channels: int = 1,
                 pack: int = 1) -> None:
        super().__init__(hidden=hidden, leaky_slope=leaky_slope, num_classes=num_classes, spectral_norm=spectral_norm,
                         depth=depth, dropout_d=dropout_d, img_channels=img_channels, pack=pack)
        layers: list[nn.Module] = []
        width = pack * img_channels * IMAGE_PIXELS + num_classes
        for _ in range(depth):
            layers += [maybe_sn(nn.Linear(width, hidden), spectral_norm), nn.LeakyReLU(leaky_slope)]
            layers += [nn.Dropout(dropout_d)] if dropout_d else []
            width = hidden
        self.net = nn.Sequential(*layers, maybe_sn(nn.Linear(hidden, 1), spectral_norm))
        self.embed = nn.Embedding(num_classes, num_classes) if num_classes else None

    @classmethod
    def from_config(cls, c: ModelConfig) -> MLPDiscriminator:
        return cls(c.hidden_d or c.hidden, c.leaky_slope, c.num_classes, c.spectral_norm, c.depth, c.dropout_d,
                   c.img_channels, c.pack)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        self.check_labels(y, x.shape[0])
        h = self.packed(x).flatten(1)  # [B, C * 784]; [B / pack, pack * C * 784]
        if self.embed is not None:
            h = torch.cat([h, self.embed(y)], dim=1)  # [B, C * 784 + classes]
        return self.net(h).squeeze(1)  # -> score [B]
