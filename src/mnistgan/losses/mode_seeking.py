"""Mode seeking (MSGAN: Mao et al. 2019), a term in G's loss with any GAN loss: G is rewarded
for drawing different images from different noise, so that it spreads over the data's
variety instead of settling on a few typical images.

Two images of one label (of the batch, when unconditional), drawn from noise z1 and z2:

    ratio = mean(|G(z1) - G(z2)|) / mean(|z1 - z2|)
    term  = weight / (ratio + 1e-5)

over pairs of the batch that share a label (each label's images paired in turn; an odd one
out sits out), so no extra pass through G or D.
"""

from __future__ import annotations

import torch

EPS = 1e-5  # MSGAN's


class ModeSeeking:
    name = "ms"  # its stat

    def __init__(self, weight: float) -> None:
        self.weight = weight

    def penalty(self, fake: torch.Tensor, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """fake [B, C, H, W] with G's graph, z [B, z_dim], y [B] or None -> the term to minimise."""
        n = fake.shape[0]
        labels = torch.zeros(n, dtype=torch.long, device=fake.device) if y is None else y
        ys, order = torch.sort(labels, stable=True)
        rank = torch.arange(n, device=fake.device) - torch.searchsorted(ys, ys)  # place within its label
        # each image at an even place pairs with the next, when that one has its label: fixed shapes
        paired = ((rank[:-1] % 2 == 0) & (ys[1:] == ys[:-1])).to(fake.dtype)  # [B - 1]
        a, b = order[:-1], order[1:]
        d_img = (fake[a] - fake[b]).abs().flatten(1).mean(1)  # [B - 1]
        d_z = (z[a] - z[b]).abs().mean(1)
        ratio = (d_img * paired).sum() / (d_z * paired).sum().clamp_min(EPS)
        return self.weight / (ratio + EPS)
