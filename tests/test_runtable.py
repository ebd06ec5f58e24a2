"""`mnistgan runs`: one line per run, newest first, and a status for every folder, broken
or half-written ones included (never a traceback)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mnistgan.cli import main
from mnistgan.errors import TrainingStopped
from mnistgan.runtable import list_runs, read_run
from mnistgan.train import status as run_status
from tests.conftest import TINY_RUN

TINY = TINY_RUN


@pytest.fixture
def runs(tiny, tmp_path) -> Path:
    """Two finished tiny runs (the second conditional) in tmp_path/runs."""
    _, folder = tiny
    out = tmp_path / "runs"
    assert main(["train", *TINY, "--outdir", str(out), "--data-dir", str(folder)]) == 0
    assert main(["train", *TINY, "--preset", "classic-cond", "--outdir", str(out), "--data-dir", str(folder)]) == 0
    return out


def test_finished_runs_newest_first_with_fid_floor_and_accuracy(runs, capsys):
    rows = list_runs(runs)
    assert [r.number for r in rows] == [1, 0]
    cond, classic = rows
    assert (classic.preset, classic.dataset, classic.epochs_done, classic.epochs_planned) == ("classic", "tiny", 2, 2)
    assert classic.status == "finished" and classic.detail == "epochs"
    assert classic.best_fid is not None and classic.fid_ratio == pytest.approx(classic.best_fid / classic.floor_fid)
    assert classic.cond_accuracy is None and cond.cond_accuracy is not None
    assert classic.wall_s > 0 and not classic.wall_estimated  # from status.json
    capsys.readouterr()
    assert main(["runs", str(runs)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:5] == ["run", "preset", "dataset", "epochs", "status"]
    assert lines[1].startswith("00001 classic-cond-tiny") and "2/2" in lines[1] and "finished" in lines[1]
    assert lines[2].startswith("00000 classic-tiny") and f"({classic.fid_ratio:.1f}×)" in lines[2]
    assert main(["runs", str(runs), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["name"] for d in data] == ["classic-cond-tiny", "classic-tiny"] and data[1]["status"] == "finished"


def test_status_of_interrupted_running_and_resumed_runs(runs, tiny):
    run = runs / "00000-classic-tiny"
    status = json.loads((run / "status.json").read_text())
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (run / "status.json").write_text(json.dumps({**status, "state": "running", "pid": int(dead.stdout)}))
    row = read_run(run)  # killed with SIGKILL: "running", but its process is gone
    assert row.status == "interrupted" and "is gone" in row.detail
    (run / "status.json").write_text(json.dumps({**status, "state": "running", "pid": __import__("os").getpid()}))
    assert read_run(run).status == "running"
    _, folder = tiny  # a resume records its own end and adds its wall time to the run's
    assert main(["train", "--resume", str(run), "--set", "train.epochs=3", "--data-dir", str(folder)]) == 0
    row = read_run(run)
    assert row.status == "finished" and row.epochs_done == 3 and row.wall_s > status["wall_s"]


def test_recorded_writes_how_a_run_ended(tmp_path):
    for exc, state in ((TrainingStopped("epoch 3: D has won"), "stopped"), (KeyboardInterrupt(), "interrupted"),
                       (OSError(28, "No space left on device"), "failed")):
        with pytest.raises(type(exc)):
            with run_status.recorded(tmp_path, lambda: "epochs"):
                assert run_status.read_status(tmp_path)["state"] == "running"
                raise exc
        s = run_status.read_status(tmp_path)
        assert s["state"] == state and s["wall_s"] >= 0
        assert state != "stopped" or s["message"] == "epoch 3: D has won"


def test_broken_and_partial_folders_get_a_status_never_a_traceback(runs, capsys):
    good = runs / "00000-classic-tiny"
    (runs / "00002-only-samples" / "samples").mkdir(parents=True)  # a start that died early
    bad_config = runs / "00003-bad-config"
    bad_config.mkdir()
    (bad_config / "config.json").write_text("{not json")
    (bad_config / "metrics.jsonl").write_bytes(b"\xff\xfe garbage\n{\"epoch\": \"x\"}\n")
    torn = runs / "00004-torn"
    torn.mkdir()
    (torn / "config.json").write_text((good / "config.json").read_text())
    (torn / "metrics.jsonl").write_text('{"epoch": 1, "step": 4, "d_loss": 1.0}\n{"epoch": 1, "st')
    (torn / "status.json").write_text("[1, 2")  # unreadable: the status is inferred
    (torn / "checkpoints").write_text("a file where a folder belongs")
    odd = runs / "00005-odd-types"
    odd.mkdir()
    (odd / "config.json").write_text(json.dumps({"preset": 3, "train": [], "data": {"name": None}}))
    (odd / "status.json").write_text(json.dumps({"state": "running", "pid": "x", "started": "y", "wall_s": None}))
    (odd / "checkpoints").mkdir()
    (odd / "checkpoints" / "best.json").write_text('{"epoch": "five", "fid_lenet": null}')
    (runs / "notes.txt").write_text("not a run")
    (runs / "empty-folder").mkdir()
    capsys.readouterr()
    assert main(["runs", str(runs)]) == 0
    out = capsys.readouterr()
    assert "Traceback" not in out.err and out.err == ""
    rows = {r.name: r for r in list_runs(runs)}
    assert set(rows) == {"classic-tiny", "classic-cond-tiny", "only-samples", "bad-config", "torn", "odd-types"}
    assert rows["only-samples"].status == "broken" and "no config.json" in rows["only-samples"].detail
    assert rows["bad-config"].status == "broken" and "unreadable" in rows["bad-config"].detail
    assert rows["torn"].status == "running"  # its log changed seconds ago and it has no readable status
    assert rows["torn"].epochs_done is None and rows["torn"].preset == "classic"
    assert rows["odd-types"].status == "interrupted" and rows["odd-types"].best_fid is None
    assert main(["runs", str(runs), "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 6


def test_a_run_folder_itself_and_a_missing_folder(runs, tmp_path, capsys):
    rows = list_runs(runs / "00000-classic-tiny")
    assert len(rows) == 1 and rows[0].name == "classic-tiny"
    assert main(["runs", str(tmp_path / "nope")]) == 2
    assert "no such folder" in capsys.readouterr().err
