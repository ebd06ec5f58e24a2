"""What every generator offers its users: seeded sampling."""

from __future__ import annotations

import torch
from torch import nn


class Generator(nn.Module):
    """A module mapping noise [B, z_dim] to images [B, 1, 28, 28] in [-1, 1]."""

    z_dim: int

    def noise(self, n: int, seed: int) -> torch.Tensor:
        """[n, z_dim] standard normal noise, drawn on the CPU so a seed means the same
        noise on every device."""
        gen = torch.Generator().manual_seed(seed)
        return torch.randn(n, self.z_dim, generator=gen)

    @torch.no_grad()
    def generate(self, z: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
        """Images [B, 1, 28, 28] for noise z [B, z_dim], in eval mode, without autograd;
        the module's training mode is left as it was."""
        device = next(self.parameters()).device
        was_training = self.training
        self.eval()
        out = torch.cat([self(z[i : i + batch_size].to(device)) for i in range(0, z.shape[0], batch_size)])
        self.train(was_training)
        return out

    def sample(self, n: int, seed: int = 0, batch_size: int = 1000) -> torch.Tensor:
        """n images [n, 1, 28, 28] in [-1, 1], on this module's device; same seed, same images."""
        return self.generate(self.noise(n, seed), batch_size)
