"""How a preset behaves over seeds: one row per seed, then median, worst and healthy count.

    python benchmarks/robustness.py --data-dir ../shared/datasets/mnist               # seeds 0-7, 1 thread, 2 at once
    python benchmarks/robustness.py --data-dir ../shared/datasets/mnist --threads 2 --jobs 1

Each seed is a real `mnistgan train` (a subprocess, so every run starts as a user's
would) with the light evaluation every few epochs. A GAN run is chaotic: the same seed
takes another path on another machine or thread count, so run it with both thread counts
to see more trajectories. Runs go side by side only with their threads pinned
(jobs x threads <= cores): two 2-thread trainings on 2 cores slow each other 10-70x.

A seed is "healthy" when its final FID is within 1.5x the median best FID and its final
samples cover at least 9 classes. Run folders in --outdir are reused: a finished one as it
is, an unfinished one resumed (exactly) to --epochs, so an interrupted study continues where
it stopped, and a larger --epochs extends a finished study.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from mnistgan.hardware import machine_line

HEALTHY_RATIO = 1.5  # final FID at most this times the median best FID
HEALTHY_CLASSES = 9


def seeds_from(text: str) -> list[int]:
    """"0-7" or "0,3,5" -> a list of seeds."""
    if "-" in text:
        lo, hi = text.split("-")
        return list(range(int(lo), int(hi) + 1))
    return [int(s) for s in text.split(",")]


def run_name(seed: int, threads: int) -> str:
    return f"s{seed}-t{threads}"


def find_run(outdir: Path, name: str) -> Path | None:
    found = sorted(outdir.glob(f"*-{name}")) if outdir.is_dir() else []
    return found[-1] if found else None


def train_one(args: argparse.Namespace, seed: int) -> float:
    """Train one seed to args.epochs: reuse a finished run, resume an unfinished one (so a
    study can also be extended to more epochs), else start one. Returns wall seconds."""
    name = run_name(seed, args.threads)
    run = find_run(args.outdir, name)
    if run and (run / "metrics.jsonl").is_file() and summarise(run)["final_epoch"] == args.epochs:
        return 0.0
    if run and list((run / "checkpoints").glob("state-*.pt")):
        cmd = [sys.executable, "-m", "mnistgan", "train", "--resume", str(run)]
    else:
        cmd = [sys.executable, "-m", "mnistgan", "train", "--preset", args.preset, "--outdir", str(args.outdir),
               "--name", name, "--set", f"train.seed={seed}", "--eval-every", str(args.eval_every),
               "--eval-n", str(args.eval_n), *[x for kv in args.set for x in ("--set", kv)]]
    cmd += ["--set", f"train.epochs={args.epochs}", "--threads", str(args.threads)]
    cmd += ["--data-dir", args.data_dir] if args.data_dir else []
    env = os.environ | {"OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
    start = time.perf_counter()
    log = args.outdir / f"{name}.log"
    with open(log, "a") as fh:
        done = subprocess.run(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT)
    if done.returncode not in (0, 3):  # 3: stopped by the health monitor, still a result
        print(f"{name}: mnistgan train exited {done.returncode}; see {log}", file=sys.stderr)
    return time.perf_counter() - start


def summarise(run: Path) -> dict[str, Any]:
    """FIDs over epochs, best, final, classes and health events from a run's metrics.jsonl."""
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    evals = [r for r in rows if "eval" in r]
    events = [r for r in rows if "event" in r and r["event"] != "recovered"]
    first = {kind: min((r["epoch"] for r in events if r["event"] == kind), default=None)
             for kind in ("d_won", "collapse", "nonfinite")}
    best = min(evals, key=lambda r: r["eval"]["fid_lenet"], default=None)
    final = evals[-1] if evals else None
    return {
        "fid": {r["epoch"]: r["eval"]["fid_lenet"] for r in evals},
        "best_fid": best["eval"]["fid_lenet"] if best else None, "best_epoch": best["epoch"] if best else None,
        "final_fid": final["eval"]["fid_lenet"] if final else None,
        "final_epoch": final["epoch"] if final else None,
        "final_classes": final["eval"]["classes_covered"] if final else None,
        "best_classes": best["eval"]["classes_covered"] if best else None,
        "floor_fid": final["floor"]["fid_lenet"] if final else None,
        "first": first,
    }


def fmt(x: float | None, digits: int = 0) -> str:
    return "—" if x is None else f"{x:,.{digits}f}"


def table(args: argparse.Namespace, results: dict[int, dict[str, Any]], walls: dict[int, float]) -> str:
    epochs = sorted({e for r in results.values() for e in r["fid"]})
    median_best = statistics.median(r["best_fid"] for r in results.values() if r["best_fid"] is not None)
    head = ["seed", *[f"FID@{e}" for e in epochs], "best (epoch)", "final", "final/median best",
            "classes final", "D won at", "collapsed at", "healthy", "wall s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    healthy = 0
    for seed, r in results.items():
        ok = (r["final_fid"] is not None and r["final_fid"] <= HEALTHY_RATIO * median_best
              and (r["final_classes"] or 0) >= HEALTHY_CLASSES)
        healthy += ok
        lines.append("| " + " | ".join([
            str(seed), *[fmt(r["fid"].get(e)) for e in epochs], f"{fmt(r['best_fid'])} ({r['best_epoch']})",
            fmt(r["final_fid"]), fmt(r["final_fid"] / median_best if r["final_fid"] else None, 2),
            str(r["final_classes"]), fmt(r["first"]["d_won"]), fmt(r["first"]["collapse"]),
            "yes" if ok else "**no**", fmt(walls.get(seed) or None)]) + " |")
    bests = [r["best_fid"] for r in results.values() if r["best_fid"] is not None]
    finals = [r["final_fid"] for r in results.values() if r["final_fid"] is not None]
    floor = next((r["floor_fid"] for r in results.values() if r["floor_fid"] is not None), None)
    summary = (f"\n{args.preset}, {args.threads} thread(s), {args.epochs} epochs, seeds {args.seeds}"
               f"{' ' + ' '.join(args.set) if args.set else ''}: best FID median {fmt(statistics.median(bests))}, "
               f"worst {fmt(max(bests))}; final FID median {fmt(statistics.median(finals))}, worst {fmt(max(finals))}; "
               f"healthy {healthy}/{len(results)}; real floor {fmt(floor, 2)} (n={args.eval_n})")
    return "\n".join(lines) + summary


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="classic")
    p.add_argument("--seeds", default="0-7", help="e.g. 0-7 or 0,2,5 (default: 0-7)")
    p.add_argument("--threads", type=int, default=1, help="torch threads per run (default: 1)")
    p.add_argument("--jobs", type=int, help="runs side by side (default: cores // threads)")
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--eval-every", type=int, default=5)
    p.add_argument("--eval-n", type=int, default=2000)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="passed to mnistgan train")
    p.add_argument("--outdir", type=Path, default=Path("runs-robustness"))
    p.add_argument("--data-dir")
    args = p.parse_args()
    print(machine_line("cpu"), flush=True)
    cores = len(os.sched_getaffinity(0))
    args.jobs = args.jobs or max(1, cores // args.threads)
    if args.jobs * args.threads > cores:
        p.error(f"{args.jobs} jobs x {args.threads} threads > {cores} cores: runs would slow each other 10-70x")
    args.outdir.mkdir(parents=True, exist_ok=True)
    seeds = seeds_from(args.seeds)
    with ThreadPoolExecutor(args.jobs) as pool:
        walls = dict(zip(seeds, pool.map(lambda s: train_one(args, s), seeds)))
    results = {}
    for seed in seeds:
        run = find_run(args.outdir, run_name(seed, args.threads))
        if run is None or not (run / "metrics.jsonl").is_file():
            print(f"seed {seed}: no run found in {args.outdir}", file=sys.stderr)
            continue
        results[seed] = summarise(run)
    print(table(args, results, walls))
    return 0


if __name__ == "__main__":
    sys.exit(main())
