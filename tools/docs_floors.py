"""Measure the real-data floors that the documentation's metric reference shows.

    python tools/docs_floors.py --data-dir ../shared/datasets/mnist --machine "2-core AMD EPYC (Zen 4)"

writes docs/data/floors.json: every metric of eval/evaluate.py's METRICS scored by real test
images against the reference set (the floor a generator is compared with), for the light
evaluation's n and the full evaluation's, with the shipped MNIST evaluator, seed 0.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shlex
import sys
from pathlib import Path

import torch

from mnistgan.atomic import atomic_write_bytes
from mnistgan.data.sources import Sources
from mnistgan.eval.evaluate import real_reference
from mnistgan.eval.evaluator import get_evaluator

OUT = Path(__file__).resolve().parents[1] / "docs" / "data" / "floors.json"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--machine", required=True, help="the CPU, in words, for the record")
    p.add_argument("--n", type=int, nargs="+", default=[2000, 10_000])
    args = p.parse_args()
    sources = Sources(data_dir=args.data_dir)
    ev = get_evaluator("mnist", sources)
    floors = [{"n": n, "values": {k: list(v) for k, v in real_reference(ev, n, 0, sources).floor.items()}}
              for n in args.n]
    record = {
        "what": "n real MNIST test images scored against n real training images (seed 0, the shipped "
                "evaluator): what a generator drawing fresh digits from the true distribution scores.",
        "command": shlex.join(["python", "tools/docs_floors.py", *sys.argv[1:]]),
        "date": datetime.date.today().isoformat(),
        "machine": args.machine,
        "torch": torch.__version__,
        "floors": floors,
    }
    atomic_write_bytes(OUT, (json.dumps(record, indent=1) + "\n").encode())
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
