"""A tiny sweep end to end; the workers' threads; failures recorded while the others go
on; a full disk mid-sweep; a run folder deleted while the sweep runs."""

from __future__ import annotations

import errno
import json
import os
import shutil
import time
from pathlib import Path

import pytest

from mnistgan import atomic
from mnistgan.cli import main
from mnistgan.eval.report import write_report
from mnistgan.runtable import list_runs

from .conftest import run_cli, start_cli, sweep_args

GRID = ["--seeds", "0-1", "--grid", "loss.label_smoothing=0.0,0.1", "--name", "tiny"]


def _sweep(outdir: Path) -> Path:
    (folder,) = outdir.iterdir()
    return folder


def test_two_settings_by_two_seeds_end_to_end(tinyset, tmp_path, capsys):
    outdir = tmp_path / "sweeps"
    assert main(sweep_args(outdir, *GRID, "--jobs", "2")) == 0
    folder = _sweep(outdir)
    assert folder.name == "00000-tiny"
    state = json.loads((folder / "sweep.json").read_text())
    assert state["state"] == "finished" and len(state["runs"]) == 4
    assert {e["state"] for e in state["runs"].values()} == {"finished"}

    # every run is an ordinary run folder: the runs table and the report read it
    runs = {r.name: r for r in list_runs(folder)}
    assert set(runs) == {f"label_smoothing={v}-s{s}" for v in ("0.0", "0.1") for s in (0, 1)}
    assert {r.status for r in runs.values()} == {"finished"}
    write_report(folder / state["runs"]["label_smoothing=0.1-s1"]["run"])

    # the summary's figures are the runs' own full evaluations
    summary = json.loads((folder / "summary.json").read_text())
    by_setting = {s["setting"]: s for s in summary["settings"]}
    for setting in ("label_smoothing=0.0", "label_smoothing=0.1"):
        evals = [json.loads((folder / state["runs"][f"{setting}-s{s}"]["run"] / "metrics.json").read_text())
                 for s in (0, 1)]
        assert all(e["n"] == 50 for e in evals)
        fids = sorted(e["metrics"]["fid_lenet"]["value"] for e in evals)
        recalls = [e["metrics"]["recall"]["value"] for e in evals]
        s = by_setting[setting]
        assert s["runs"] == 2 and s["fid_median"] == pytest.approx(sum(fids) / 2, rel=1e-12)
        assert s["fid_worst"] == fids[-1] and s["recall_worst"] == min(recalls)
        assert s["fid_ratio_worst"] == max(e["metrics"]["fid_lenet"]["value"] / e["metrics"]["fid_lenet"]["real"]
                                           for e in evals)
        assert s["classes_worst"] == min(e["classes"]["classes_covered"] for e in evals)
        assert s["memorisation_worst"] == min(e["memorisation"]["ratio"] for e in evals)
        assert s["epochs_median"] == 2
    assert (folder / "summary.csv").read_text().count("\n") == 5
    html = (folder / "sweep.html").read_text()
    assert "data:image/png;base64" in html and "src=\"http" not in html
    assert "| label_smoothing=0.1 |" in (folder / "summary.md").read_text()
    front = summary["frontier"]  # the light evaluation's curves, per setting, at budgets of training time
    assert [f["setting"] for f in front["settings"]] == ["label_smoothing=0.0", "label_smoothing=0.1"]
    assert front["budgets_s"] and "Light-evaluation FID against training time" in html
    capsys.readouterr()

    # the same command again: nothing runs again, the same table
    weights = {p: p.read_bytes() for p in folder.glob("*/generator.safetensors")}
    assert main(sweep_args(outdir, *GRID)) == 0
    assert "label_smoothing=0.1" in capsys.readouterr().out
    assert [p.name for p in outdir.iterdir()] == ["00000-tiny"]
    assert {p: p.read_bytes() for p in folder.glob("*/generator.safetensors")} == weights
    assert json.loads((folder / "summary.json").read_text())["settings"] == summary["settings"]

    assert main(["sweeps", str(outdir)]) == 0
    line = capsys.readouterr().out.splitlines()[1]
    assert line.split()[:4] == ["00000-tiny", "finished", "4", "4"]


def test_workers_run_with_the_requested_threads(tinyset, tmp_path):
    assert main(sweep_args(tmp_path / "sweeps", "--threads-per-job", "2", "--jobs", "1", "--evaluate-n", "0",
                           "--name", "t2")) == 0
    (log,) = (_sweep(tmp_path / "sweeps") / "logs").iterdir()
    assert "training with 2 torch threads" in log.read_text()


def test_a_failed_run_is_recorded_and_the_others_go_on(tinyset, tmp_path, capsys):
    # the second setting cannot load its data (a set that is not imported): its worker fails
    args = sweep_args(tmp_path / "sweeps", "--grid", "train.lr_g=1e-4,2e-4", "--name", "f", "--evaluate-n", "0")
    victim = tinyset / "mnistgan" / "custom" / "tinyset"
    hidden = victim.with_name("hidden")
    real_popen = __import__("subprocess").Popen
    started = []

    def popen(*a, **kw):  # hide the dataset from the second worker only
        started.append(a[0])
        if len(started) == 2:
            victim.rename(hidden)
        return real_popen(*a, **kw)

    mp = pytest.MonkeyPatch()
    mp.setattr("subprocess.Popen", popen)
    try:
        assert main([*args, "--jobs", "1"]) == 1
    finally:
        mp.undo()
        if hidden.exists():
            hidden.rename(victim)
    state = json.loads((_sweep(tmp_path / "sweeps") / "sweep.json").read_text())
    assert [e["state"] for e in state["runs"].values()] == ["finished", "failed"]
    assert "tinyset" in state["runs"]["lr_g=0.0002-s0"]["message"]
    assert "1 run(s) failed" in capsys.readouterr().err
    # the same command tries the failed run again, and keeps the finished one
    assert main(args) == 0
    state = json.loads((_sweep(tmp_path / "sweeps") / "sweep.json").read_text())
    assert [e["state"] for e in state["runs"].values()] == ["finished", "finished"]


def test_a_full_disk_mid_sweep_stops_with_one_line_and_loses_nothing(tinyset, tmp_path, capsys, monkeypatch):
    """Writing sweep.json fails as the first run is recorded finished: one line; the run
    stays finished on disk; once there is space, the same command finishes the rest
    without training it again."""
    args = sweep_args(tmp_path / "sweeps", "--seeds", "0-1", "--name", "d", "--jobs", "1")
    real = atomic._write_all

    def write(fd, data, path):
        if Path(path).name == "sweep.json" and b'"finished"' in data:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fd, data, path)

    monkeypatch.setattr(atomic, "_write_all", write)
    assert main(args) == 2
    err = capsys.readouterr().err
    (line,) = [x for x in err.splitlines() if x.startswith("mnistgan: error:")]
    assert "no space left on the device" in line and "continue with: mnistgan sweep --resume" in line
    folder = _sweep(tmp_path / "sweeps")
    (first,) = [p for p in folder.glob("*-base-s0")]
    assert (first / "metrics.json").is_file()
    monkeypatch.setattr(atomic, "_write_all", real)
    assert main(args) == 0
    assert (folder / "logs" / "base-s0.log").read_text().count("trained 2 epochs") == 1
    state = json.loads((folder / "sweep.json").read_text())
    assert [e["state"] for e in state["runs"].values()] == ["finished", "finished"]


def test_a_run_folder_deleted_while_the_sweep_runs(tinyset, tmp_path):
    outdir = tmp_path / "sweeps"
    args = sweep_args(outdir, "--grid", "train.epochs=400,2", "--name", "del", "--jobs", "2", "--evaluate-n", "0")
    proc = start_cli(args, tmp_path / "log")
    deadline = time.monotonic() + 120
    victim = None
    while victim is None and time.monotonic() < deadline:
        # any checkpoint: keep-last-K deletes the early ones, and a loaded machine may poll past one
        victim = next(iter(outdir.glob("*/*-epochs=400-s0/checkpoints/state-*.pt")), None)
        time.sleep(0.05)
    assert victim is not None, (tmp_path / "log").read_text()
    while victim.parents[1].exists():  # as `rm -rf` does, while the worker still writes there
        shutil.rmtree(victim.parents[1], ignore_errors=True)
    assert proc.wait(timeout=120) == 1
    folder = _sweep(outdir)
    state = json.loads((folder / "sweep.json").read_text())
    assert state["runs"]["epochs=2-s0"]["state"] == "finished"
    assert state["runs"]["epochs=400-s0"]["state"] == "failed"
    assert "was deleted while the sweep ran" in state["runs"]["epochs=400-s0"]["message"]
    assert "epochs=400-s0: failed" in (folder / "summary.md").read_text()
    assert "error" not in run_cli(["sweeps", str(outdir)]).stderr


def test_the_frontier_keeps_each_runs_best_so_far_at_each_budget():
    """Budgets of 1, 2, 5 and 10 minutes; a run counts at a budget it trained to (within 5%),
    with the lowest FID it had reached by then."""
    from mnistgan.sweep.summary import frontier_of

    curves = {"a": [([50, 110, 290, 600], [900, 500, 520, 100]),   # 10 minutes
                    ([65, 130, 320], [800, 700, 300])],              # 5.3 minutes
              "b": [([200, 400], [400, 200])]}                       # first evaluation after 3 minutes
    budgets, settings = frontier_of(curves)
    assert budgets == [60, 120, 300, 600]
    a, b = settings
    # at 5 minutes the second run has evaluated at 65 and 130 s (320 s is past 5% over): best 700
    assert a["at"] == {60: (900, 900, 1), 120: (650, 800, 2), 300: (600, 700, 2), 600: (100, 100, 1)}
    assert b["at"] == {60: None, 120: None, 300: (400, 400, 1), 600: None}
