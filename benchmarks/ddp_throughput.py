"""Multi-process training on the CPU: N processes x T threads, against one process, by
real `mnistgan train` runs (classic, whole epochs, light evaluation off).

    python benchmarks/ddp_throughput.py --data-dir ../shared/datasets/mnist [--epochs 2] [--rounds 3]

Each layout runs --rounds times, the layouts taking turns, so that every layout sees the
machine's noise alike. img/s is the median of the runs' logged intervals after the first
epoch (train.log_every steps each; all processes together), then the median over rounds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from mnistgan.hardware import machine_line

LAYOUTS = [(1, 2), (2, 1), (1, 1)]  # (processes, threads per process)


def run(data: Path, out: Path, nproc: int, threads: int, epochs: int) -> float:
    cmd = [sys.executable, "-m", "mnistgan", "train", "--threads", str(threads), "--data-dir", str(data),
           "--no-download", "--eval-every", "0", "--outdir", str(out), "--set", f"train.epochs={epochs}"]
    if nproc > 1:
        cmd += ["--nproc", str(nproc)]
    subprocess.run(cmd, check=True, capture_output=True)
    (run_dir,) = out.iterdir()
    lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").open()]
    return statistics.median(r["img_per_s"] for r in lines if "img_per_s" in r and r["epoch"] > 1)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data-dir", default="../shared/datasets/mnist")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    print(machine_line("cpu"), flush=True)
    speeds: dict[tuple[int, int], list[float]] = {layout: [] for layout in LAYOUTS}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for nproc, threads in LAYOUTS:
                out = Path(tmp) / f"{r}-{nproc}x{threads}"
                speeds[(nproc, threads)].append(run(Path(args.data_dir), out, nproc, threads, args.epochs))
    base = statistics.median(speeds[LAYOUTS[0]])
    print(f"classic, {args.epochs} epochs per run, {args.rounds} rounds; img/s of all processes together")
    print(f"{'processes x threads':<22}{'img/s':>10}{'vs 1 x 2':>10}   rounds")
    for (nproc, threads), s in speeds.items():
        med = statistics.median(s)
        print(f"{f'{nproc} x {threads}':<22}{med:>10,.0f}{med / base:>9.2f}x   {', '.join(f'{v:,.0f}' for v in s)}")


if __name__ == "__main__":
    main()
