"""Where a Stacked MNIST run's mode KL comes from: each channel's digit balance (`digit_kl`) and
the channels' dependence (the rest), with each digit's share per channel, beside real test triples
(docs/measurements.md, "Mode coverage: Stacked MNIST").

    python tools/stacked_kl_split.py --data-dir ../shared/datasets/mnist RUN [RUN ...]

For a histogram, KL(p || uniform over 1000) = sum_c KL(p_c || uniform over 10) + KL(p || p_1 p_2 p_3)
exactly. Samples are `evaluate`'s (26,000, seed 0), so the totals match its `mode_kl`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from mnistgan.data.sources import Sources, load_split
from mnistgan.eval.evaluator import get_evaluator
from mnistgan.eval.modes import DIGITS, N, digit_counts, embed_channels, kl_to_uniform, mode_kl
from mnistgan.sample import load_generator, sample_uint8


def row(name: str, labels: torch.Tensor) -> str:
    counts = digit_counts(labels)  # [3, 10]
    per_channel = [kl_to_uniform(c) for c in counts]
    total, digits, shares = mode_kl(labels), sum(per_channel), counts.double() / len(labels)
    parts = ", ".join(f"{x:.4f}" for x in per_channel)
    spread = ", ".join(f"{d}: {shares[:, d].min():.1%}–{shares[:, d].max():.1%}" for d in range(DIGITS))
    return f"| {name} | {total:.4f} | {digits:.4f} ({parts}) | {total - digits:.4f} | {spread} |"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", help="stacked-mnist run folders (their best generators) or generator files")
    p.add_argument("--data-dir", type=Path, help="the folder with MNIST's IDX files")
    args = p.parse_args()
    sources = Sources(data_dir=args.data_dir)
    ev = get_evaluator("mnist", sources)
    print("| | KL | digit KL (per channel) | dependence | each digit's share, min–max over the channels |")
    print("|---|---|---|---|---|")
    real = load_split("stacked-mnist", "test", sources).images[:N]
    print(row("real test triples", embed_channels(ev.embed, real)[2]))
    for run in args.runs:
        images = torch.from_numpy(sample_uint8(load_generator(run), N, seed=0))
        print(row(run, embed_channels(ev.embed, images)[2]))


if __name__ == "__main__":
    main()
