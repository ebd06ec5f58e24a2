"""A DCGAN for 28x28 images, optionally class-conditional (w = model.channels; D's w is
model.channels_d when set).

G: z [B, z_dim] -> Linear -> BN -> ReLU -> [B, 2w, 7, 7]
   -> ConvT 4x4/2 -> BN -> ReLU -> [B, w, 14, 14] -> ConvT 4x4/2 -> tanh -> [B, C, 28, 28]
D: x [B, C, 28, 28] -> Conv 4x4/2 -> LeakyReLU -> [B, w, 14, 14]
   -> Conv 4x4/2 -> LeakyReLU -> [B, 2w, 7, 7] -> flatten -> Linear -> score [B]
   (with model.d_head = k: flatten -> Linear -> LeakyReLU -> [B, k] -> Linear -> score [B])

C = img_channels (1: grey); with pack m, D's first conv takes m images' m x C channels
(PacGAN). D has no batch norm (per-sample scores; spectral norm optional). Conditional: the
label enters G as model.g_cond says: `scale` multiplies z by a learned embedding of it, `concat`
joins its one-hot to z (Mirza & Osindero 2014), `cbn` gives each of G's batch norms a gain and
bias per class (layers.ClassBatchNorm). D is a projection discriminator (Miyato & Koyama 2018):
score = Linear(h) + <embed(y), h>, h the features (the head's, with one).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mnistgan.config import ModelConfig
from mnistgan.models.base import Generator, ProjectionDiscriminator
from mnistgan.models.layers import batch_norm, maybe_sn, run_labelled


class DCGANGenerator(Generator):
    arch = "dcgan"

    def __init__(self, z_dim: int = 64, channels: int = 64, num_classes: int = 0, img_channels: int = 1,
                 g_cond: str = "scale") -> None:
        super().__init__(z_dim=z_dim, channels=channels, num_classes=num_classes, img_channels=img_channels,
                         g_cond=g_cond)
        self.z_dim, w = z_dim, channels
        self.g_cond = g_cond if num_classes else ""
        self.embed = nn.Embedding(num_classes, z_dim) if self.g_cond == "scale" else None  # label -> [z_dim]
        z_in = z_dim + (num_classes if self.g_cond == "concat" else 0)
        bn_classes = num_classes if self.g_cond == "cbn" else 0
        self.fc = nn.Sequential(nn.Linear(z_in, 2 * w * 7 * 7, bias=False), batch_norm(2 * w * 7 * 7, bn_classes, 1),
                                nn.ReLU())
        self.up = nn.Sequential(
            nn.ConvTranspose2d(2 * w, w, 4, 2, 1, bias=False), batch_norm(w, bn_classes, 2), nn.ReLU(),  # -> 14x14
            nn.ConvTranspose2d(w, img_channels, 4, 2, 1), nn.Tanh(),  # -> 28x28
        )

    @classmethod
    def from_config(cls, c: ModelConfig) -> DCGANGenerator:
        return cls(c.z_dim, c.channels, c.num_classes, c.img_channels, c.g_cond)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        self.check_labels(y, z.shape[0])
        if self.g_cond == "scale":
            z = z * self.embed(y)  # [B, z_dim]
        elif self.g_cond == "concat":
            z = torch.cat([z, F.one_hot(y, self.num_classes).to(z.dtype)], dim=1)  # [B, z_dim + classes]
        h = run_labelled(self.fc, z, y).view(z.shape[0], -1, 7, 7)  # [B, 2w, 7, 7]
        return run_labelled(self.up, h, y)  # [B, C, 28, 28] in [-1, 1]


class DCGANDiscriminator(ProjectionDiscriminator):
    arch = "dcgan"

    def __init__(self, channels: int = 64, leaky_slope: float = 0.2, num_classes: int = 0,
                 spectral_norm: bool = False, img_channels: int = 1, pack: int = 1, d_head: int = 0) -> None:
        super().__init__(channels=channels, leaky_slope=leaky_slope, num_classes=num_classes,
                         spectral_norm=spectral_norm, img_channels=img_channels, pack=pack, d_head=d_head)
        w, sn = channels, spectral_norm
        self.net = nn.Sequential(
            maybe_sn(nn.Conv2d(pack * img_channels, w, 4, 2, 1), sn), nn.LeakyReLU(leaky_slope),  # -> [B, w, 14, 14]
            maybe_sn(nn.Conv2d(w, 2 * w, 4, 2, 1), sn), nn.LeakyReLU(leaky_slope),  # -> [B, 2w, 7, 7]
            nn.Flatten(),
        )
        if d_head:  # -> [B, d_head]
            self.net.extend([maybe_sn(nn.Linear(2 * w * 7 * 7, d_head), sn), nn.LeakyReLU(leaky_slope)])
        features = d_head or 2 * w * 7 * 7
        self.out = maybe_sn(nn.Linear(features, 1), sn)
        self.embed = maybe_sn(nn.Embedding(num_classes, features), sn) if num_classes else None

    @classmethod
    def from_config(cls, c: ModelConfig) -> DCGANDiscriminator:
        return cls(c.channels_d or c.channels, c.leaky_slope, c.num_classes, c.spectral_norm, c.img_channels, c.pack,
                   c.d_head)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.packed(x))  # [B, 2w * 49], or [B, d_head] (B / pack rows with pack > 1)
