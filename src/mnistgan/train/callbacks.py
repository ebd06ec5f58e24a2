"""What happens after an epoch besides training: the light evaluation that keeps the best
generator. A callback gets the state after the epoch and returns fields for a
metrics.jsonl line (or None), and hands its files to the run's writer as snapshots. It
runs before the epoch's checkpoint is saved, so a crash in it repeats the epoch on
resume, callback included.

Keeping the best matters because a GAN run is chaotic: the same config can draw fine
digits at epoch 30 and collapse by epoch 50, so the last generator is not always the
one to use (docs/explanations/robustness.md).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mnistgan.atomic import atomic_write_bytes
from mnistgan.config import RunConfig
from mnistgan.io.state import write_state
from mnistgan.io.weights import generator_snapshot, write_generator
from mnistgan.models import Generator
from mnistgan.runfolder import BEST_GENERATOR, BEST_INFO, BEST_STATE, read_best
from mnistgan.train.state import TrainState
from mnistgan.train.writer import Writer, snapshot


class KeepBest:
    """Every `every` epochs (and after the last), score G (the EMA one when on); when its
    FID is the lowest so far, copy the epoch's training state to checkpoints/best.pt and
    write generator-best.safetensors (through the writer). Runs on rank 0, before the
    epoch's checkpoint is saved. The best so far is read from best.json once, then kept
    here, since the writer may not have written the newest one yet."""

    def __init__(self, score: Callable[[Generator], dict[str, Any]], every: int) -> None:
        self.score, self.every = score, every
        self.best: dict[str, Any] | None = None
        self.read = False

    def __call__(self, state: TrainState, cfg: RunConfig, run_dir: Path, last: bool,
                 writer: Writer) -> dict[str, Any] | None:
        if state.epoch % self.every and not last:
            return None
        start = time.perf_counter()
        result = self.score(state.sampler)  # {"eval_n", "eval": {...}, "floor": {...}}
        fid = result["eval"]["fid_lenet"]
        if not self.read:
            self.best, self.read = read_best(run_dir, logged=False), True  # the training's own record
        if self.best is None or fid < self.best["fid_lenet"]:
            saved, weights, epoch = snapshot(state.state_dict(cfg)), generator_snapshot(state.sampler), state.epoch
            best = self.best = {"epoch": epoch, "fid_lenet": fid}

            def write() -> None:
                write_state(run_dir / BEST_STATE, saved)
                write_generator(run_dir / BEST_GENERATOR, weights, cfg, epoch)
                atomic_write_bytes(run_dir / BEST_INFO, json.dumps(best).encode())

            writer.submit(write)
        return result | {"best": self.best, "eval_s": round(time.perf_counter() - start, 3)}
