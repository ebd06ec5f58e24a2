"""What every generator and discriminator shares: the label in the signature, seeded
sampling, and constructor arguments kept for the weights file.

G(z [B, z_dim], y [B] | None) -> images [B, C, 28, 28] in [-1, 1] in eval mode (a G may
  return them unbounded while it trains, for D to see: models/resnet.py)
D(x [B, C, 28, 28], y [B] | None) -> raw scores [B] (the loss decides what they mean);
  with pack = m > 1 (PacGAN), one score per m consecutive images: [B / m]
num_classes = 0 means unconditional: y must be None. Otherwise y holds labels in
[0, num_classes) and is required. C = img_channels: 1 (grey, the default) or 3 (RGB).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from mnistgan.config import ModelConfig
from mnistgan.errors import ConfigError
from mnistgan.tensors import batched


class Conditional(nn.Module):
    """A module whose forward takes an optional label; keeps its constructor arguments.
    Each architecture also has from_config(ModelConfig), taking the fields it uses."""

    arch: str  # the registry name (mnistgan.models.ARCHS)
    num_classes: int = 0

    def __init__(self, **args: Any) -> None:
        super().__init__()
        self.args = args  # the constructor arguments: saved beside the weights, rebuild the model
        self.num_classes = int(args.get("num_classes", 0))
        self.img_channels = int(args.get("img_channels", 1))

    @classmethod
    def from_config(cls, c: ModelConfig) -> Conditional:
        raise NotImplementedError

    def check_labels(self, y: torch.Tensor | None, batch: int) -> None:
        if self.num_classes == 0 and y is not None:
            raise ValueError("this model is unconditional: it takes no labels")
        if self.num_classes and (y is None or y.shape != (batch,)):
            raise ValueError(f"this model is conditional: it needs a label per image, [{batch}] in 0..{self.num_classes - 1}")

    def check_channels(self, channels: int, data: str) -> None:
        """A ConfigError naming both counts when `data` (its name, for the message) has
        images of another channel count than this model's."""
        if channels != self.img_channels:
            raise ConfigError(f"this model takes {self.img_channels}-channel images but {data} has {channels}-channel "
                              f"images: a model never meets data of another channel count")


class Generator(Conditional):
    """Maps noise [B, z_dim] (and labels [B]) to images [B, C, 28, 28], in [-1, 1] in eval mode."""

    z_dim: int

    def noise(self, n: int, seed: int) -> torch.Tensor:
        """[n, z_dim] standard normal noise, drawn on the CPU so a seed means the same
        noise on every device."""
        gen = torch.Generator().manual_seed(seed)
        return torch.randn(n, self.z_dim, generator=gen)

    def labels(self, n: int, digit: int | None = None) -> torch.Tensor | None:
        """int64 [n]: all `digit`, or 0, 1, ..., C-1, 0, 1, ... (balanced); None when unconditional."""
        if self.num_classes == 0:
            if digit is not None:
                raise ConfigError("this generator is unconditional: it cannot draw a chosen class")
            return None
        if digit is None:
            return torch.arange(n) % self.num_classes
        if not 0 <= digit < self.num_classes:
            raise ConfigError(f"the class must be between 0 and {self.num_classes - 1}, got {digit}")
        return torch.full((n,), digit, dtype=torch.long)

    @torch.no_grad()
    def generate(self, z: torch.Tensor, y: torch.Tensor | None = None, batch_size: int = 1000) -> torch.Tensor:
        """Images [B, C, 28, 28] for noise z [B, z_dim] (labels y [B]), in eval mode, without
        autograd; the module's training mode is left as it was."""
        device = next(self.parameters()).device
        was_training = self.training
        self.eval()
        out = batched(lambda s: self(z[s].to(device), None if y is None else y[s].to(device)), z.shape[0], batch_size)
        self.train(was_training)
        return out

    def sample(self, n: int, seed: int = 0, digit: int | None = None, batch_size: int = 1000) -> torch.Tensor:
        """n images [n, C, 28, 28] in [-1, 1], on this module's device; same seed, same
        images. A conditional G draws `digit`, or every class in turn when it is None."""
        return self.generate(self.noise(n, seed), self.labels(n, digit), batch_size)


class Discriminator(Conditional):
    """Maps images [B, C, 28, 28] (and labels [B]) to one raw score per image [B].

    Every D here is per-sample (no batch norm): its score for one image does not depend
    on the others in the batch, so real and fake may share one forward pass."""

    spectral_norm_ok = True  # whether model.spectral_norm applies to this architecture

    def __init__(self, **args: Any) -> None:
        super().__init__(**args)
        self.pack = int(args.get("pack", 1))

    def packed(self, x: torch.Tensor) -> torch.Tensor:
        """[B, C, 28, 28] -> [B / pack, pack * C, 28, 28]: each `pack` consecutive images joined
        along channels, as PacGAN's D takes them (B must be a multiple of pack)."""
        if x.shape[0] % self.pack:
            raise ValueError(f"this discriminator judges packs of {self.pack} images: got {x.shape[0]} images")
        return x.reshape(x.shape[0] // self.pack, self.pack * x.shape[1], *x.shape[2:])


class ProjectionDiscriminator(Discriminator):
    """A D that reads its features h [B, F] as score = Linear(h) + <embed(y), h> (the projection
    discriminator: Miyato & Koyama 2018). A subclass sets self.out (Linear F -> 1) and
    self.embed (Embedding(num_classes, F), or None when unconditional) and defines features().
    Its <embed(c), h> for every class c are class logits: the Linear term is the same for all
    classes, so a softmax over them is the classifier the projection holds (loss.cls_weight)."""

    out: nn.Module
    embed: nn.Module | None

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Images [B, C, 28, 28] -> features [B / pack, F]."""
        raise NotImplementedError

    def score(self, h: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """Features [B, F] and labels [B] (or None) -> raw scores [B]."""
        score = self.out(h).squeeze(1)
        if self.embed is not None:
            score = score + (self.embed(y) * h).sum(1)  # projection: how well h matches label y
        return score

    def class_logits(self, h: torch.Tensor) -> torch.Tensor:
        """Features [B, F] -> the projection's term for each class [B, num_classes]."""
        if self.embed is None:
            raise ValueError("this discriminator is unconditional: it has no class logits")
        return h @ self.embed.weight.t()

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        self.check_labels(y, x.shape[0])
        return self.score(self.features(x), y)
