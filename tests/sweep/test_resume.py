"""kill -9 of the sweep mid-run, then the same command: the final table and every run's
weights are bitwise those of an uninterrupted sweep; SIGTERM stops cleanly and says how
to continue."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from pathlib import Path

import torch
from safetensors import safe_open

from mnistgan.io import state as checkpoint
from tests.faults.helpers import same_weights

from .conftest import run_cli, start_cli, sweep_args

EPOCHS = 12
ARGS = ["--seeds", "0-1", "--name", "k", "--jobs", "2"]


def _wait_for_checkpoints(outdir: Path, log: Path, count: int = 2) -> None:
    """Until `count` runs have a checkpoint (so the kill lands mid-run)."""
    deadline = time.monotonic() + 180
    while len(list(outdir.glob("*/*/checkpoints/state-00000[2-9].pt"))) < count:
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)


def _summary(folder: Path) -> list[dict]:
    rows = json.loads((folder / "summary.json").read_text())["runs"]
    return [{k: v for k, v in r.items() if k not in ("wall_s", "folder")} for r in rows]


def _check_same(ref: Path, got: Path) -> None:
    assert _summary(got) == _summary(ref)
    for run in ("base-s0", "base-s1"):
        (a,), (b,) = ref.glob(f"*-{run}"), got.glob(f"*-{run}")
        same_weights(checkpoint.list_states(a)[-1], checkpoint.list_states(b)[-1])
        for weights in ("generator.safetensors", "generator-best.safetensors"):  # same tensors, same metadata
            with safe_open(a / weights, "pt") as fa, safe_open(b / weights, "pt") as fb:
                assert fa.metadata() == fb.metadata() and fa.keys() == fb.keys()
                assert all(torch.equal(fa.get_tensor(k), fb.get_tensor(k)) for k in fa.keys())
        assert json.loads((a / "metrics.json").read_text())["metrics"] == \
            json.loads((b / "metrics.json").read_text())["metrics"]


def test_kill_9_then_the_same_command_gives_the_uninterrupted_sweep(tinyset, tmp_path):
    ref_out, out = tmp_path / "ref", tmp_path / "sweeps"
    assert run_cli(sweep_args(ref_out, *ARGS, epochs=EPOCHS)).returncode == 0

    proc = start_cli(sweep_args(out, *ARGS, epochs=EPOCHS), tmp_path / "log")
    _wait_for_checkpoints(out, tmp_path / "log")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    (folder,) = out.iterdir()
    assert json.loads((folder / "sweep.json").read_text())["state"] == "running"
    assert run_cli(["sweeps", str(out)]).stdout.splitlines()[1].split()[1] == "interrupted"

    done = run_cli(sweep_args(out, *ARGS, epochs=EPOCHS))
    assert done.returncode == 0, done.stderr
    assert "continuing the sweep folder" in done.stderr and "resuming" in done.stderr
    _check_same(next(ref_out.iterdir()), folder)


def test_sigterm_stops_every_worker_and_says_how_to_continue(tinyset, tmp_path):
    out = tmp_path / "sweeps"
    proc = start_cli(sweep_args(out, *ARGS, epochs=EPOCHS), tmp_path / "log")
    _wait_for_checkpoints(out, tmp_path / "log")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 128 + signal.SIGTERM
    (folder,) = out.iterdir()
    last = (tmp_path / "log").read_text().splitlines()[-1]
    assert last == (f"mnistgan: interrupted by SIGTERM; the runs saved their checkpoints; continue with: "
                    f"mnistgan sweep --resume {folder}")
    state = json.loads((folder / "sweep.json").read_text())
    assert state["state"] == "interrupted"
    assert {e["state"] for e in state["runs"].values()} <= {"interrupted", "finished"}
    for run in folder.glob("*-base-s*"):  # no worker is left running
        assert json.loads((run / "status.json").read_text())["state"] != "running"
    done = run_cli(["sweep", "--resume", str(folder)])
    assert done.returncode == 0, done.stderr
    assert {e["state"] for e in json.loads((folder / "sweep.json").read_text())["runs"].values()} == {"finished"}


def test_a_run_killed_before_its_first_checkpoint_starts_again_in_a_new_folder(tinyset, tmp_path):
    """A run folder without a checkpoint (the sweep was killed in its first epoch) is
    removed and its run trained again from the start, not taken for a deleted folder."""
    out = tmp_path / "sweeps"
    args = ["--seeds", "0-1", "--name", "first", "--jobs", "1"]
    assert run_cli(sweep_args(out, *args)).returncode == 0
    (folder,) = out.iterdir()
    (run,) = folder.glob("*-base-s0")
    shutil.rmtree(run / "checkpoints")
    (run / "status.json").unlink()  # as after a kill -9 in the first epoch
    state = json.loads((folder / "sweep.json").read_text())
    state["state"], state["runs"]["base-s0"]["state"] = "running", "training"
    (folder / "sweep.json").write_text(json.dumps(state))

    done = run_cli(sweep_args(out, *args))
    assert done.returncode == 0, done.stderr
    assert "no checkpoint to resume from; starting it again" in done.stderr
    assert json.loads((folder / "sweep.json").read_text())["runs"]["base-s0"]["state"] == "finished"
    (again,) = folder.glob("*-base-s0")
    assert again.name == "00002-base-s0" and checkpoint.list_states(again)  # a new folder: 00001 is s1's
