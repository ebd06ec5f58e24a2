"""Time to evaluate 10,000 samples on the CPU with a cached evaluator.

    python benchmarks/evaluate_speed.py --data-dir ../shared/datasets/mnist [--generator RUN] [--repeats 3]
    python benchmarks/evaluate_speed.py --data-dir ../shared/datasets/mnist --generator STACKED_RUN \
        --dataset stacked-mnist -n 26000      # Stacked MNIST's protocol

Runs, in one process and on a temporary copy of the cache:
- cold: the evaluator is cached but the real floor for this n is not (first evaluation);
- warm: evaluator and floor cached, the usual case; repeated, median quoted.
Prints each time and the cold/warm ratio. Builds the evaluator
first if the cache has none (not timed).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import torch

from mnistgan.hardware import machine_line
from mnistgan.config import load_config
from mnistgan.data.sources import Sources
from mnistgan.eval import evaluate as EV
from mnistgan.eval.evaluator import get_evaluator
from mnistgan.models import build_generator
from mnistgan.sample import load_generator


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data-dir", default="../shared/datasets/mnist")
    p.add_argument("--cache-dir", default=str(Path.home() / ".cache" / "mnistgan"))
    p.add_argument("--generator", help="run folder or weights (default: an untrained classic G)")
    p.add_argument("-n", type=int, default=10_000)
    p.add_argument("--dataset", default="mnist", help="the set scored against, already in the cache (mnistgan data fetch stacked-mnist)")
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    print(machine_line("cpu"), flush=True)

    home = Sources(data_dir=Path(args.data_dir), cache_dir=Path(args.cache_dir), download=False)
    ev = get_evaluator("mnist", home)
    G = load_generator(args.generator) if args.generator else build_generator(load_config().model)
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(Path(args.cache_dir) / "evaluators", Path(tmp) / "evaluators")
        if args.dataset != "mnist":  # a built set (stacked-mnist), not its floor
            shutil.copytree(Path(args.cache_dir) / args.dataset, Path(tmp) / args.dataset)
        src = Sources(data_dir=home.data_dir, cache_dir=Path(tmp), download=False)
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, n={args.n}")
        t = time.perf_counter()
        EV.evaluate(G, ev, src, n=args.n, dataset=args.dataset)
        cold = time.perf_counter() - t
        warm = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            EV.evaluate(G, ev, src, n=args.n, dataset=args.dataset)
            warm.append(time.perf_counter() - t)
    med = statistics.median(warm)
    print(f"cold (floor computed):   {cold:6.1f} s")
    print(f"warm (floor cached):     {med:6.1f} s median of {args.repeats} ({', '.join(f'{w:.1f}' for w in warm)})")
    print(f"ratio cold / warm:       {cold / med:6.2f}x")


if __name__ == "__main__":
    main()
