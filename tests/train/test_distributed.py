"""Multi-process training: 2 CPU processes (gloo on 127.0.0.1, started by torchrun) train
the same run as one process at the same global batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mnistgan import cli
from mnistgan.errors import ConfigError
from mnistgan.io import state as checkpoint
from tests.faults.helpers import ROOT, train_args

# tiny: 200 images, global batch 20 (10 per rank): 10 steps per epoch, a line per step
SETTINGS = ["train.batch_size=20", "train.log_every=1"]
TOL = 2e-5  # on the logged losses; see the first test


def mnistgan(data: Path, args: list[str], nproc: int = 1) -> None:
    """`mnistgan ARGS` in fresh processes: one, or `nproc` under torchrun."""
    launcher = [sys.executable]
    if nproc > 1:
        launcher += ["-m", "torch.distributed.run", "--nproc-per-node", str(nproc), "--master-addr", "127.0.0.1",
                     "--master-port", str(29500 + os.getpid() % 1000)]
    else:
        launcher += ["-u"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([*launcher, "-m", "tests.train.ddp_worker", str(data), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


def losses(run: Path) -> list[tuple[int, float, float]]:
    return [(r["step"], r["d_loss"], r["g_loss"]) for r in map(json.loads, (run / "metrics.jsonl").open())
            if "d_loss" in r and "health" not in r]


def test_two_processes_train_the_single_process_run_at_the_same_global_batch(tmp_path, tiny):
    data = tiny[1]
    run = lambda out, n, *extra: mnistgan(data, [*train_args(data, 2, *SETTINGS, *extra), "--outdir", str(out)], n)
    run(tmp_path / "one", 1)
    run(tmp_path / "two", 2)
    (one,), (two,) = (tmp_path / "one").iterdir(), (tmp_path / "two").iterdir()
    a, b = losses(one), losses(two)
    assert [s for s, *_ in a] == [s for s, *_ in b] == list(range(1, 21))
    # The same maths up to float32 summation order (each rank's mean over 10 rows,
    # averaged, against one mean over 20). Measured over these 20 steps: at most 2.4e-7
    # (a float32 ulp of the loss). With the gradient average switched off (each rank
    # training on its own half-batch), the losses differ by 4.9e-4 at step 2 and up to
    # 3.2e-3: TOL sits 80x above the one and 25x below the other.
    for (_, d1, g1), (_, d2, g2) in zip(a, b):
        assert abs(d1 - d2) < TOL and abs(g1 - g2) < TOL
    # Only rank 0 wrote: one metrics line per step, one checkpoint per epoch
    assert len(checkpoint.list_states(two)) == 2
    w1, w2 = checkpoint.load_state(checkpoint.list_states(one)[-1]), checkpoint.load_state(checkpoint.list_states(two)[-1])
    for name, t in w1["G"].items():
        assert torch.allclose(t, w2["G"][name], atol=TOL), name


def test_a_two_process_checkpoint_resumes_in_one_process(tmp_path, tiny):
    data = tiny[1]
    mnistgan(data, [*train_args(data, 1, *SETTINGS), "--outdir", str(tmp_path / "split")], 2)
    (split,) = (tmp_path / "split").iterdir()
    mnistgan(data, [*train_args(data, 2, *SETTINGS), "--resume", str(split)], 1)
    mnistgan(data, [*train_args(data, 2, *SETTINGS), "--outdir", str(tmp_path / "whole")], 1)
    (whole,) = (tmp_path / "whole").iterdir()
    a, b = losses(whole), losses(split)
    assert [s for s, *_ in a] == [s for s, *_ in b] == list(range(1, 21))
    for (_, d1, g1), (_, d2, g2) in zip(a, b):
        assert abs(d1 - d2) < TOL and abs(g1 - g2) < TOL


def test_nproc_runs_the_same_command_under_torchrun_and_passes_its_exit_code_on(monkeypatch, tmp_path):
    import torch.distributed.run as torchrun
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError, ProcessFailure

    launched = []
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.setattr(torchrun, "run", launched.append)
    assert cli.main(["train", "--nproc", "2", "--set", "train.epochs=1", "--threads", "1"]) == 0
    (args,) = launched
    assert (args.standalone, args.nproc_per_node, args.module, args.training_script) == (True, "2", True, "mnistgan")
    assert args.training_script_args == ["train", "--set", "train.epochs=1", "--threads", "1"]

    def fail(args):  # a worker exited with 2 (it printed its one-line error itself)
        raise ChildFailedError("mnistgan", {1: ProcessFailure(1, 123, 2, str(tmp_path / "none.json"))})

    monkeypatch.setattr(torchrun, "run", fail)
    assert cli.main(["train", "--nproc=2"]) == 2


def test_bad_process_counts_are_one_line_errors(tmp_path, tiny):
    with pytest.raises(ConfigError, match="--nproc must be between 1 and 1024"):
        cli.launch_torchrun(0, [])
    from mnistgan.train.distributed import World

    with pytest.raises(ConfigError, match="must divide evenly among 3 processes"):
        World(0, 3).check_batch(100)
