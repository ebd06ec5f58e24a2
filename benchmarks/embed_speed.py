"""The evaluator's embedding (features and class probabilities), the part of every evaluation
that grows with n (Stacked MNIST: 3 x 26,000 channel images), at several batch sizes and
memory formats, beside today's setting, in one process; medians of repeated rounds.

    python benchmarks/embed_speed.py --data-dir ../shared/datasets/mnist [--n 10000] [--rounds 5] [--threads 1]

Prints images/s per variant and its largest feature difference from the baseline (0: the
same numbers bitwise).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from mnistgan.data.sources import Sources, load_split
from mnistgan.eval.evaluator import get_evaluator
from mnistgan.hardware import machine_line


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data-dir", default="../shared/datasets/mnist")
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(machine_line("cpu"), f"{args.threads} thread(s), torch {torch.__version__}", flush=True)
    sources = Sources(data_dir=args.data_dir, download=False)
    ev = get_evaluator("mnist", sources)
    images = load_split("mnist", "test", sources).images[: args.n]
    variants = {f"batch {b}": b for b in (1000, 500, 250, 100)}
    base, _ = ev.embed(images, batch_size=1000)
    times: dict[str, list[float]] = {k: [] for k in variants}
    diff = {}
    for _ in range(args.rounds):  # interleaved, so that the machine's noise falls on every variant alike
        for name, b in variants.items():
            t = time.perf_counter()
            feats, _ = ev.embed(images, batch_size=b)
            times[name].append(time.perf_counter() - t)
            diff[name] = float((feats - base).abs().max())
    ref = statistics.median(times["batch 1000"])
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"{name:>12}: {len(images) / med:8,.0f} img/s  ({ref / med:4.2f}x batch 1000)  max |diff| {diff[name]:.1e}")


if __name__ == "__main__":
    main()
