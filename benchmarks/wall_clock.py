"""The wall-clock split of a training run, with the run's files written in the background
(as `mnistgan train` does) or inline on the training thread (as before train/writer.py).

    python benchmarks/wall_clock.py --data-dir ../shared/datasets/mnist --threads 1 \
        [--writes inline|background] [--set train.epochs=10] [--set train.checkpoint_every_s=0] [--device cuda]

Trains the classic preset (or --preset) in a temporary folder, in this process, from its
start, and prints the split that `mnistgan train` prints (train/wallclock.py): process
start, data, steps, epoch-end work (the time the training thread spent on it or waited
for the writer) and the light evaluation. "Before" is `--writes inline --set
train.checkpoint_every_s=0`: every epoch's files, its checkpoint included, written by the
training thread.

With `--vs KEY=VALUE` (repeatable) a second config (--set's, then these) trains after
the first, alternately for `--rounds` rounds in this process; each run's clock then starts
at its call of train(), and the medians of the two end the output. The small-set grid
cadence: `taskset -c 0 python benchmarks/wall_clock.py --threads 1 --set data.subset=0.01
--set train.epochs=300 --set eval.every=0 --set train.grid_every=1 --vs train.grid_every=100
--rounds 2` (one core: the writer shares it with the steps, as a run beside another does).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from mnistgan.config import RunConfig, load_config
from mnistgan.data.sources import Sources
from mnistgan.train.fast import FastPath
from mnistgan.train.loop import train
from mnistgan.train.status import read_status
from mnistgan.train.wallclock import PHASES, WallClock, describe
from mnistgan.train.writer import Writer


def run(cfg: RunConfig, args: argparse.Namespace, clock: WallClock) -> dict:
    """Train `cfg` in a temporary folder; its status.json's wall-clock split."""
    writer = Writer(inline=args.writes == "inline", waiting=lambda: clock.phase("epoch_end"))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        train(cfg, folder, sources=Sources(data_dir=Path(args.data_dir), download=False), device=args.device,
              fast=FastPath(cuda_graphs=args.cuda_graphs), clock=clock, writer=writer)
        return (read_status(folder) or {})["split"]


def main() -> None:
    clock = WallClock()  # from this process's start, as `mnistgan train`'s
    p = argparse.ArgumentParser()
    p.add_argument("--data-dir", default="../shared/datasets/mnist")
    p.add_argument("--preset", default="classic")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--vs", action="append", default=[], metavar="KEY=VALUE",
                   help="a second config, trained alternately with the first")
    p.add_argument("--rounds", type=int, default=1, help="runs of each config (alternating)")
    p.add_argument("--writes", choices=("background", "inline"), default="background")
    p.add_argument("--device", default="cpu")
    p.add_argument("--cuda-graphs", action="store_true")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    configs = {"base": load_config(args.preset, overrides=args.set)}
    if args.vs:
        configs[" ".join(args.vs)] = load_config(args.preset, overrides=[*args.set, *args.vs])
    where = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"{torch.get_num_threads()} CPU thread(s)"
    splits: dict[str, list[dict]] = {label: [] for label in configs}
    for _ in range(args.rounds):
        for label, cfg in configs.items():
            split = run(cfg, args, clock if len(configs) * args.rounds == 1 else WallClock(time.monotonic()))
            splits[label].append(split)
            print(f"{label}: {args.preset}, {cfg.train.epochs} epochs, writes {args.writes}, checkpoint_every_s "
                  f"{cfg.train.checkpoint_every_s:g}, grid_every {cfg.train.grid_every}, {where}")
            print(describe(split), flush=True)
    if len(configs) * args.rounds > 1:
        for label, runs in splits.items():
            median = {k: statistics.median(s[k] for s in runs) for k in ("wall_s", *PHASES)}
            print(f"median of {len(runs)}, {label}: {describe(median)}")


if __name__ == "__main__":
    main()
