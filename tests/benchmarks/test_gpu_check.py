"""benchmarks/gpu_check.sh, the 5-minute check of a lent GPU: without a GPU it is one
line and exit 0; and every command it would run parses here, on the CPU (DRY_RUN=1 prints
them), so a lent GPU's minutes are not lost to a typo."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))  # the benchmarks are scripts

import train_throughput  # noqa: E402

from mnistgan.cli import build_parser  # noqa: E402
from mnistgan.config import PRESETS, load_config  # noqa: E402
from mnistgan.train.fast import FastPath  # noqa: E402


def _script(**env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "benchmarks/gpu_check.sh"], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "OUT": "/tmp/gpu_check_test", **env})


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_without_a_gpu_it_says_so_in_one_line_and_exits_0():
    done = _script()
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.splitlines() == ["gpu_check: no CUDA device here; nothing to check (the GPU tests skip on this machine)"]


def test_every_command_it_runs_parses():
    done = _script(DRY_RUN="1")
    assert done.returncode == 0, done.stderr
    commands = [shlex.split(line) for line in done.stdout.splitlines()]
    kinds = {"pytest": 0, "train": 0, "throughput": 0}
    for cmd in commands:
        assert cmd[0] == "python", cmd
        if cmd[1:3] == ["-m", "pytest"]:
            files = [a for a in cmd[3:] if a.endswith(".py")]
            assert files and all((ROOT / f).is_file() for f in files)
            kinds["pytest"] += 1
        elif cmd[1:4] == ["-m", "mnistgan", "train"]:
            args = build_parser().parse_args(cmd[3:])
            load_config(args.preset or "classic", args.config, args.set)
            FastPath(args.compile, args.cuda_graphs, args.steps_per_graph).check(torch.device(args.device))
            kinds["train"] += 1
        else:
            assert cmd[1] == "benchmarks/train_throughput.py", cmd
            args = train_throughput.parser().parse_args(cmd[2:])
            assert args.device == "cuda" and set(args.presets.split(",")) <= set(PRESETS)
            kinds["throughput"] += 1
    assert kinds == {"pytest": 1, "train": 3, "throughput": len(PRESETS)}
