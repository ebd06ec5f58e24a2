"""How many of its noise dimensions a conditional DCGAN generator uses, per class.

    python tools/latent_dims.py RUN_OR_WEIGHTS [...]

G's first layer sees z * embed(y) (models/dcgan.py): a class whose embedding is near 0 in a
dimension drops that dimension of z. Before G's batch norm, the layer's output for class k
varies with z as W diag(e_k) z, so its covariance has the eigenvalues s_i^2, the squared
singular values of W diag(e_k). Their participation ratio (sum s_i^2)^2 / sum s_i^4 counts the
dimensions that carry the variance: z_dim when all carry it equally, 1 when one does.
With model.g_cond `concat` or `cbn`, every class sees z through the same W (the label enters
beside z, or after the layer): one ratio, that of W's columns for z.
"""

from __future__ import annotations

import argparse
import statistics

import torch

from mnistgan.models import DCGANGenerator
from mnistgan.sample import load_generator_from


def participation_ratios(G: DCGANGenerator) -> list[float]:
    """Per class: the participation ratio of the covariance of G's first layer over z."""
    if not G.num_classes:
        raise SystemExit("an unconditional generator: it has no classes")
    W = G.fc[0].weight.detach().double()[:, : G.z_dim]  # [out, z_dim]
    scales = G.embed.weight.detach().double() if G.embed is not None else torch.ones(G.num_classes, G.z_dim)
    ratios = []
    for e in scales:  # [z_dim] per class
        var = torch.linalg.svdvals(W * e) ** 2
        ratios.append(float(var.sum() ** 2 / (var**2).sum()))
    return ratios


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sources", nargs="+", help="run folders (their best generator) or weights files")
    for src in ap.parse_args().sources:
        G = load_generator_from(src).G
        if not isinstance(G, DCGANGenerator):
            raise SystemExit(f"{src}: a {G.arch} generator; this counts a conditional dcgan's noise dimensions")
        r = participation_ratios(G)
        print(f"{src}: z_dim {G.z_dim}, dimensions used per class 0-{len(r) - 1}: "
              + " ".join(f"{x:.1f}" for x in r) + f" (median {statistics.median(r):.1f})")


if __name__ == "__main__":
    main()
