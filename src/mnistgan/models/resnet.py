"""A normalisation-free residual G and D for 28x28 images, after R3GAN (Huang et al.,
"The GAN is dead; long live the GAN!", NeurIPS 2024), optionally class-conditional.

w = model.channels, n = model.depth residual blocks per resolution, C = img_channels:
G: z [B, z_dim] -> Linear -> [B, 2w, 7, 7] -> n blocks -> up (bilinear, 1x1 conv)
   -> [B, w, 14, 14] -> n blocks -> ConvT 4x4/2 -> [B, C, 28, 28] (clamped to [-1, 1] in eval mode)
D: x [B, C, 28, 28] -> Conv 4x4/2 -> [B, w, 14, 14] -> n blocks -> down (1x1 conv, average pool)
   -> [B, 2w, 7, 7] -> n blocks -> flatten -> Linear -> score [B]

A block is x + conv1x1(act(grouped conv3x3(act(conv1x1(x))))), 2x wider inside, groups
of 16 channels, leaky ReLU; no normalisation layer anywhere. Fix-up initialisation: the
branch's last conv starts at zero, so every block starts as the identity, and its other
convs are scaled by L^(-1/4) for L blocks in the network (R3GAN's L^(-1/(2m-2)), m = 3
convs per branch), so the variance of the sum stays bounded as the network deepens.
No blocks at 28x28: there, as DCGAN does, one strided (transposed) conv. On a CPU a block
at 28x28 cost more than all the others together (docs/measurements.md). Weights and
activations are channels-last, the layout the CPU's convolutions run fastest.
G's output is linear while it trains, and clamped to [-1, 1] in eval mode (every image it
hands out): with no normalisation, a tanh there saturated (pre-activations near -40 within five
epochs) and G stopped using z, one image per class; D, seeing the linear output, keeps it in range.
Conditional: G scales z by an embedding of the label, as models/dcgan.py does (joined to z
instead, the label alone decided the image: one image per class after five epochs); D is a
projection discriminator (score = Linear(h) + <embed(y), h>), as in models/dcgan.py. No spectral norm: fix-up's
zero-initialised branches have no spectral norm to divide by, and R3GAN needs none.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mnistgan.config import ModelConfig
from mnistgan.models.base import Generator, ProjectionDiscriminator

GROUP_WIDTH = 16  # channels per group of the 3x3 convolution
EXPANSION = 2  # the branch's width over the block's
CHANNELS_LAST = torch.channels_last


class Block(nn.Module):
    def __init__(self, channels: int, blocks_in_net: int, slope: float) -> None:
        super().__init__()
        inner = channels * EXPANSION
        self.conv1 = nn.Conv2d(channels, inner, 1)
        self.conv2 = nn.Conv2d(inner, inner, 3, padding=1, groups=max(1, inner // GROUP_WIDTH))
        self.conv3 = nn.Conv2d(inner, channels, 1)
        self.slope = slope
        with torch.no_grad():
            for conv in (self.conv1, self.conv2):
                conv.weight.mul_(blocks_in_net ** -0.25)
            self.conv3.weight.zero_()
            self.conv3.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.leaky_relu(self.conv1(x), self.slope)
        h = F.leaky_relu(self.conv2(h), self.slope)
        return x + self.conv3(h)


def stage(channels: int, n: int, blocks_in_net: int, slope: float) -> nn.Sequential:
    return nn.Sequential(*(Block(channels, blocks_in_net, slope) for _ in range(n)))


class Up(nn.Module):
    """2x bilinear upsampling, then a 1x1 conv to the next width."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False))


class Down(nn.Module):
    """A 1x1 conv to the next width, then 2x average pooling."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(self.conv(x), 2)


class ResNetGenerator(Generator):
    arch = "resnet"

    def __init__(self, z_dim: int = 64, channels: int = 32, num_classes: int = 0, depth: int = 2,
                 leaky_slope: float = 0.2, img_channels: int = 1) -> None:
        super().__init__(z_dim=z_dim, channels=channels, num_classes=num_classes, depth=depth,
                         leaky_slope=leaky_slope, img_channels=img_channels)
        self.z_dim, w, L = z_dim, channels, 2 * depth
        self.embed = nn.Embedding(num_classes, z_dim) if num_classes else None  # label -> [z_dim], scales z
        self.fc = nn.Linear(z_dim, 2 * w * 7 * 7)
        self.body = nn.Sequential(
            stage(2 * w, depth, L, leaky_slope), Up(2 * w, w),  # 7x7 -> 14x14
            stage(w, depth, L, leaky_slope),
        )
        self.slope = leaky_slope
        self.out = nn.ConvTranspose2d(w, img_channels, 4, 2, 1)  # 14x14 -> 28x28
        self.to(memory_format=CHANNELS_LAST)

    @classmethod
    def from_config(cls, c: ModelConfig) -> ResNetGenerator:
        return cls(c.z_dim, c.channels, c.num_classes, c.depth, c.leaky_slope, c.img_channels)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        self.check_labels(y, z.shape[0])
        if self.embed is not None:
            z = z * self.embed(y)  # [B, z_dim]
        h = self.fc(z).view(z.shape[0], -1, 7, 7).contiguous(memory_format=CHANNELS_LAST)  # [B, 2w, 7, 7]
        h = F.leaky_relu(self.body(h), self.slope)  # [B, w, 14, 14]
        x = self.out(h).contiguous()  # [B, C, 28, 28]
        return x if self.training else x.clamp(-1, 1)  # linear while training (see the docstring)


class ResNetDiscriminator(ProjectionDiscriminator):
    arch = "resnet"
    spectral_norm_ok = False  # a zero-initialised branch has no spectral norm to divide by; fix-up replaces it

    def __init__(self, channels: int = 32, leaky_slope: float = 0.2, num_classes: int = 0,
                 spectral_norm: bool = False, depth: int = 2, img_channels: int = 1, pack: int = 1) -> None:
        super().__init__(channels=channels, leaky_slope=leaky_slope, num_classes=num_classes,
                         spectral_norm=spectral_norm, depth=depth, img_channels=img_channels, pack=pack)
        w, L = channels, 2 * depth
        self.net = nn.Sequential(
            nn.Conv2d(pack * img_channels, w, 4, 2, 1),  # 28x28 -> 14x14 (pack images' channels: PacGAN)
            stage(w, depth, L, leaky_slope), Down(w, 2 * w),  # 14x14 -> 7x7
            stage(2 * w, depth, L, leaky_slope),
        )
        self.slope = leaky_slope
        self.out = nn.Linear(2 * w * 7 * 7, 1)
        self.embed = nn.Embedding(num_classes, 2 * w * 7 * 7) if num_classes else None
        self.to(memory_format=CHANNELS_LAST)

    @classmethod
    def from_config(cls, c: ModelConfig) -> ResNetDiscriminator:
        return cls(c.channels_d or c.channels, c.leaky_slope, c.num_classes, c.spectral_norm, c.depth, c.img_channels,
                   c.pack)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        h = self.net(self.packed(x).contiguous(memory_format=CHANNELS_LAST))  # [B, 2w, 7, 7]
        return F.leaky_relu(h, self.slope).flatten(1)  # [B, 2w * 49]
