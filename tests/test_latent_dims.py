"""tools/latent_dims.py: the count of noise dimensions a conditional DCGAN's classes use, which
docs/measurements.md reads beside recall."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

from mnistgan.models import DCGANGenerator

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("latent_dims", ROOT / "tools" / "latent_dims.py")
latent_dims = importlib.util.module_from_spec(spec)
spec.loader.exec_module(latent_dims)


def test_a_class_counts_the_dimensions_its_embedding_keeps():
    G = DCGANGenerator(z_dim=8, channels=4, num_classes=3)
    out = G.fc[0].weight.shape[0]
    with torch.no_grad():
        G.fc[0].weight.copy_(torch.eye(out, 8) * 2.0)  # orthogonal columns of one norm
        G.embed.weight.copy_(torch.tensor([[1.0] * 8, [1.0] * 4 + [0.0] * 4, [3.0] + [0.0] * 7]))
    torch.testing.assert_close(latent_dims.participation_ratios(G), [8.0, 4.0, 1.0])


def test_unequal_dimensions_count_for_less_than_their_number():
    G = DCGANGenerator(z_dim=8, channels=4, num_classes=1)
    with torch.no_grad():
        G.fc[0].weight.copy_(torch.eye(G.fc[0].weight.shape[0], 8))
        G.embed.weight.copy_(torch.tensor([[1.0, 1.0, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]]))
    (r,) = latent_dims.participation_ratios(G)
    assert 2.0 < r < 3.0  # two full dimensions and six at a tenth of their scale


def test_a_label_beside_z_leaves_every_class_the_same_dimensions():
    for g_cond in ("concat", "cbn"):
        G = DCGANGenerator(z_dim=8, channels=4, num_classes=3, g_cond=g_cond)
        with torch.no_grad():
            G.fc[0].weight[:, :8].copy_(torch.eye(G.fc[0].weight.shape[0], 8) * torch.tensor([1.0] * 4 + [0.0] * 4))
        torch.testing.assert_close(latent_dims.participation_ratios(G), [4.0, 4.0, 4.0])
