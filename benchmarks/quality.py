"""The quality table: every preset at the same time budget, over seeds, beside the real floor.

    python benchmarks/quality.py --data-dir ../shared/datasets/mnist                   # 10 min, seeds 0-2
    python benchmarks/quality.py --data-dir ../shared/datasets/mnist --minutes 20 --presets dcgan-cond
    python benchmarks/quality.py ... --presets "dcgan-cond,dcgan-cond+train.precision=fp32"   # a variant row
    (the data-efficiency table's rows: docs/how-to/small-datasets.md)

Each run is a real `mnistgan train --set train.minutes=M` at 1 thread (so M minutes of
training are M CPU-minutes on this machine), two side by side on 2 cores; it stops at the
first epoch end after M minutes. The light evaluation during training keeps the best
generator; `mnistgan evaluate` then scores it on 10,000 samples (-n) with every metric and
D's report. The first row is the real-data floor: 10,000 real test images scored the same
way. Each cell is mean ± std over seeds. Finished runs and evaluations in --outdir are
reused, so an interrupted table continues where it stopped.
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

PRESETS = ("classic", "classic-cond", "dcgan", "dcgan-cond")
# (column, key in metrics.json "metrics", digits); then the extra columns below.
METRICS = (("FID", "fid_lenet", 1), ("KID", "kid_lenet", 1), ("MNIST score", "mnist_score", 2),
           ("precision", "precision", 3), ("recall", "recall", 3), ("density", "density", 3),
           ("coverage", "coverage", 3))


def seeds_from(text: str) -> list[int]:
    lo, _, hi = text.partition("-")
    return list(range(int(lo), int(hi or lo) + 1)) if "," not in text else [int(s) for s in text.split(",")]


def run_dir(args: argparse.Namespace, entry: str, seed: int) -> Path:
    name = entry.replace("+", "_").replace("=", "-").replace("'", "")
    return args.outdir / f"{name}-s{seed}"


def train_args(entry: str) -> list[str]:
    """'PRESET' or 'PRESET+key=value+key=value' (a variant row) -> mnistgan train arguments."""
    preset, *overrides = entry.split("+")
    return ["--preset", preset, *[x for kv in overrides for x in ("--set", kv)]]


def mnistgan(args: argparse.Namespace, cmd: list[str], log: Path) -> None:
    env = os.environ | {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    data = ["--data-dir", args.data_dir] if args.data_dir else []
    with open(log, "a") as fh:
        done = subprocess.run([sys.executable, "-m", "mnistgan", *cmd, "--threads", "1", *data],
                              env=env, stdout=fh, stderr=subprocess.STDOUT)
    if done.returncode not in (0, 3):  # 3: stopped by the health monitor, still a result
        raise RuntimeError(f"mnistgan {cmd[0]} exited {done.returncode}; see {log}")


def train_and_evaluate(args: argparse.Namespace, entry: str, seed: int) -> dict[str, Any]:
    """Train (or reuse) one run, evaluate its best generator; returns what the table needs."""
    run = run_dir(args, entry, seed)
    log, done, result = args.outdir / f"{run.name}.log", run / "budget.json", run / "quality.json"
    if not done.is_file():
        start = time.perf_counter()
        # A fixed folder name (not numbered), so a rerun finds it; an unfinished run starts again.
        if run.exists():
            subprocess.run(["rm", "-rf", str(run)], check=True)
        tmp = args.outdir / "tmp" / run.name
        subprocess.run(["rm", "-rf", str(tmp)], check=True)
        mnistgan(args, ["train", *train_args(entry), "--outdir", str(tmp), "--name", "run",
                        "--set", f"train.seed={seed}", "--set", f"train.minutes={args.minutes}",
                        "--set", "train.epochs=100000"], log)
        (next(tmp.iterdir())).rename(run)
        done.write_text(json.dumps({"train_s": time.perf_counter() - start}))
    if not result.is_file():
        start = time.perf_counter()
        mnistgan(args, ["evaluate", str(run), "-n", str(args.n), "--out", str(result)], log)
        info = json.loads(done.read_text()) | {"eval_s": time.perf_counter() - start}
        done.write_text(json.dumps(info))
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    speeds = [r["img_per_s"] for r in rows if "img_per_s" in r]
    return {"metrics": json.loads(result.read_text()), "img_per_s": statistics.median(speeds),
            "epochs": max(r["epoch"] for r in rows), **json.loads(done.read_text())}


def mean_std(values: list[float], digits: int) -> str:
    if not values:
        return "—"
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):,.{digits}f} ± {std:,.{digits}f}"


def row(name: str, runs: list[dict[str, Any]], floor_fid: float) -> list[str]:
    m = [r["metrics"] for r in runs]
    cells = [name, str(len(runs))]
    for _, key, digits in METRICS:
        cells.append(mean_std([x["metrics"][key]["value"] for x in m], digits))
    fids = [x["metrics"]["fid_lenet"]["value"] for x in m]
    cells.append(mean_std([f / floor_fid for f in fids], 1) + "×")
    cells.append(mean_std([x["classes"]["classes_covered"] for x in m], 1))
    cond = [x["conditional"]["accuracy"] * 100 for x in m if x.get("conditional")]
    cells.append(mean_std(cond, 1) + " %" if cond else "—")
    auc = [x["discriminator"]["roc_auc"] for x in m if x.get("discriminator")]
    cells.append(mean_std(auc, 3))
    ratios = [x["memorisation"]["ratio"] for x in m if x["memorisation"]["ratio"] is not None]
    flagged = sum(bool(x["memorisation"]["memorised"]) for x in m)
    cells.append(f"{mean_std(ratios, 2)} ({flagged} flagged)")
    cells.append(mean_std([r["img_per_s"] for r in runs], 0))
    cells.append(mean_std([r["epochs"] for r in runs], 1))
    cells.append(mean_std([(r["train_s"] + r["eval_s"]) / 60 for r in runs], 1))
    return cells


def floor_row(metrics: dict[str, Any]) -> list[str]:
    cells = ["real data (floor)", "—"]
    for _, key, digits in METRICS:
        cells.append(f"{metrics['metrics'][key]['real']:,.{digits}f}")
    cond = metrics.get("conditional")
    cells += ["1×", str(metrics["classes"]["real"]["classes_covered"]),
              f"{cond['floor_accuracy'] * 100:.1f} %" if cond else "—", "—", "—", "—", "—", "—"]
    return cells


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--presets", default=",".join(PRESETS))
    p.add_argument("--seeds", default="0-2", help="e.g. 0-2 or 0,3 (default: 0-2)")
    p.add_argument("--minutes", type=float, default=10.0, help="training minutes per run, at 1 thread (default: 10)")
    p.add_argument("-n", type=int, default=10_000, help="samples per final evaluation (default: 10000)")
    p.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)), help="runs side by side (1 thread each)")
    p.add_argument("--outdir", type=Path, default=Path("runs-quality"))
    p.add_argument("--data-dir")
    args = p.parse_args()
    print(machine_line("cpu"), flush=True)
    args.outdir.mkdir(parents=True, exist_ok=True)
    presets, seeds = args.presets.split(","), seeds_from(args.seeds)
    jobs = [(preset, seed) for seed in seeds for preset in presets]
    with ThreadPoolExecutor(args.jobs) as pool:
        results = dict(zip(jobs, pool.map(lambda job: train_and_evaluate(args, *job), jobs)))
    cond_metrics = next((r["metrics"] for r in results.values() if r["metrics"].get("conditional")), None)
    any_metrics = next(iter(results.values()))["metrics"]
    floor_fid = any_metrics["metrics"]["fid_lenet"]["real"]
    head = ["preset", "seeds", *[c for c, _, _ in METRICS], "FID / floor", "classes covered",
            "conditional accuracy", "D's AUC", "memorisation ratio", "images/s", "epochs", "wall min"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    floor = floor_row(any_metrics)
    if cond_metrics:
        floor[len(METRICS) + 4] = f"{cond_metrics['conditional']['floor_accuracy'] * 100:.1f} %"
    lines.append("| " + " | ".join(floor) + " |")
    for preset in presets:
        lines.append("| " + " | ".join(row(preset, [results[(preset, s)] for s in seeds], floor_fid)) + " |")
    print("\n".join(lines))
    print("\nper seed (FID; memorisation ratio, < 0.5 flags copying):")
    for preset in presets:
        print(f"- {preset}: " + "; ".join(
            f"seed {s}: FID {m['metrics']['fid_lenet']['value']:.2f}, ratio {m['memorisation']['ratio']}"
            for s in seeds for m in [results[(preset, s)]["metrics"]]))
    print(f"\n{args.minutes:g} training minutes per run at 1 thread ({args.jobs} runs side by side), seeds "
          f"{args.seeds}; best generator by the light evaluation, scored on n={args.n} samples against "
          f"{args.n} real training images; floor: {args.n} real test images.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
