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
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

from mnistgan.config import load_config
from mnistgan.data.sources import Sources
from mnistgan.train.fast import FastPath
from mnistgan.train.loop import train
from mnistgan.train.status import read_status
from mnistgan.train.wallclock import WallClock, describe
from mnistgan.train.writer import Writer


def main() -> None:
    clock = WallClock()  # from this process's start, as `mnistgan train`'s
    p = argparse.ArgumentParser()
    p.add_argument("--data-dir", default="../shared/datasets/mnist")
    p.add_argument("--preset", default="classic")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--writes", choices=("background", "inline"), default="background")
    p.add_argument("--device", default="cpu")
    p.add_argument("--cuda-graphs", action="store_true")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    cfg = load_config(args.preset, overrides=args.set)
    writer = Writer(inline=args.writes == "inline", waiting=lambda: clock.phase("epoch_end"))
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp)
        train(cfg, run, sources=Sources(data_dir=Path(args.data_dir), download=False), device=args.device,
              fast=FastPath(cuda_graphs=args.cuda_graphs), clock=clock, writer=writer)
        split = (read_status(run) or {})["split"]
    where = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"{torch.get_num_threads()} CPU thread(s)"
    print(f"{args.preset}, {cfg.train.epochs} epochs, writes {args.writes}, checkpoint_every_s "
          f"{cfg.train.checkpoint_every_s:g}, {where}")
    print(describe(split))


if __name__ == "__main__":
    main()
