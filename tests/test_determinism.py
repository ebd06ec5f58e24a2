"""Same seed, same machine, same thread count -> the same images and weights, also while
another process keeps a core busy. Each run is a fresh process, because the differences
seen were per process: `sample` at 2 threads differed in 1 of 60 to 4 of 40 processes on a 2-core
Xeon, so it generates on one thread (docs/how-to/reproducibility.md)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from mnistgan.cli import main

ROOT = Path(__file__).resolve().parents[1]
# `mnistgan ARGS` in a fresh process, with the tiny dataset of tests/conftest.py registered
TRAIN_TINY = ("import sys\nfrom pathlib import Path\nfrom tests.faults.zygote import tiny_spec\n"
              "from mnistgan.data import datasets\nfrom mnistgan.cli import main\n"
              "datasets.DATASETS['tiny'] = tiny_spec(Path(sys.argv[1]))\nsys.exit(main(sys.argv[2:]))\n")
BUSY = "import time\nend = time.time() + 60\nwhile time.time() < end: pass\n"


def test_sampling_is_bitwise_repeatable_under_load(tiny, tmp_path):
    _, folder = tiny
    assert main(["train", "--set", "data.name=tiny", "--set", "train.epochs=1", "--set", "train.batch_size=50",
                 "--outdir", str(tmp_path / "runs"), "--data-dir", str(folder), "--threads", "1",
                 "--eval-every", "0"]) == 0
    run = tmp_path / "runs" / "00000-classic-tiny"
    load = subprocess.Popen([sys.executable, "-c", BUSY])
    try:
        outs = []
        for i in range(3):
            out = tmp_path / f"s{i}.npz"
            subprocess.run([sys.executable, "-m", "mnistgan", "sample", str(run), "-n", "256", "--seed", "3",
                            "--out", str(out)], check=True, capture_output=True)
            outs.append(np.load(out)["images"])
    finally:
        load.kill()
        load.wait()
    assert all(np.array_equal(outs[0], o) for o in outs[1:])


def test_training_is_bitwise_repeatable_under_load(tiny, tmp_path):
    """Two fresh 2-thread trainings beside a busy core end with the same weights."""
    _, folder = tiny
    load = subprocess.Popen([sys.executable, "-c", BUSY])
    try:
        for name in ("a", "b"):
            subprocess.run([sys.executable, "-c", TRAIN_TINY, str(folder), "train", "--set", "data.name=tiny",
                            "--set", "train.epochs=3", "--set", "train.batch_size=20", "--eval-every", "0",
                            "--threads", "2", "--outdir", str(tmp_path / name), "--data-dir", str(folder)],
                           check=True, capture_output=True, cwd=ROOT, env=os.environ | {"XDG_CACHE_HOME": str(tmp_path)})
    finally:
        load.kill()
        load.wait()
    a, b = (load_file(tmp_path / name / "00000-classic-tiny" / "generator.safetensors") for name in ("a", "b"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)  # (safetensors orders metadata freely)
