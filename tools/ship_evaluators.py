"""Rebuild the evaluators that ship inside the package, from their recipe.

    OMP_NUM_THREADS=1 python tools/ship_evaluators.py --data-dir ../shared/datasets/mnist [--dataset mnist]

Writes src/mnistgan/eval/weights/<dataset>.safetensors and updates manifest.json beside them
(sha256, recipe, test accuracy, torch version, threads, build time). For maintainers: commit the
result, and say in docs/measurements.md which accuracies it reached.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from mnistgan.data.sources import Sources
from mnistgan.eval.evaluator import ship_evaluator

WEIGHTS = Path(__file__).resolve().parents[1] / "src" / "mnistgan" / "eval" / "weights"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", action="append", choices=("mnist", "fashion-mnist"),
                   help="repeatable (default: both)")
    p.add_argument("--data-dir", help="folder with the IDX files (Fashion-MNIST is also found in the system folder)")
    args = p.parse_args()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mnistgan"
    sources = Sources(data_dir=Path(args.data_dir) if args.data_dir else None, cache_dir=cache)
    for dataset in args.dataset or ["mnist", "fashion-mnist"]:
        r = ship_evaluator(dataset, sources, WEIGHTS)
        print(f"{dataset}: test accuracy {r['test_accuracy']:.2%}, built in {r['train_seconds']} s "
              f"({r['threads']} thread(s), torch {r['torch']}), sha256 {r['sha256']}")


if __name__ == "__main__":
    main()
