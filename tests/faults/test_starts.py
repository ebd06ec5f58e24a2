"""Simultaneous starts into one folder, and what a failed start leaves (nothing)."""

from __future__ import annotations

import threading

from mnistgan.cli import main
from mnistgan.config import load_config
from mnistgan.runfolder import new_run_dir

from .helpers import check_run_folder, train_args


def test_8_processes_started_at_once_get_8_distinct_runs(zygote, tmp_path):
    outdir = tmp_path / "runs"
    pids = [zygote.spawn([*train_args(zygote.data, 1), "--outdir", str(outdir)], tmp_path / f"log{i}")
            for i in range(8)]
    assert [zygote.wait(pid) for pid in pids] == [0] * 8
    runs = sorted(p.name for p in outdir.iterdir())
    assert runs == [f"{i:05d}-classic-tiny" for i in range(8)]
    for run in runs:
        assert check_run_folder(outdir / run) == [] and (outdir / run / "checkpoints" / "state-000001.pt").is_file()


def test_40_threads_claiming_run_numbers_at_once_never_collide(tmp_path):
    cfg, barrier, got = load_config(), threading.Barrier(40), []

    def claim():
        barrier.wait()
        got.append(new_run_dir(tmp_path, cfg).name)

    threads = [threading.Thread(target=claim) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == [f"{i:05d}-classic-mnist" for i in range(40)]


def test_a_failed_start_is_refused_before_the_run_folder_or_removes_it(tiny, tmp_path, capsys):
    _, data = tiny
    runs = tmp_path / "runs"
    for extra, words in [("train.batch_size=5000", "exceeds the 200 training images"),
                         ("data.name='nope'", "unknown dataset 'nope'"),
                         ("model.arch='gpt'", "model.arch: unknown 'gpt'"),
                         ("eval.n=0", "eval.n must be between 4 and 10000")]:
        assert main([*train_args(data, 1, extra), "--outdir", str(runs)]) == 2
        assert words in capsys.readouterr().err
        assert not runs.exists()  # refused before anything was made
    # Missing data is found only when loading: the folder made for the run is removed again.
    assert main([*train_args(tmp_path / "no-data", 1), "--outdir", str(runs)]) == 2
    assert "no such folder" in capsys.readouterr().err and list(runs.iterdir()) == []
    # eval.n past the test split: refused before the first epoch.
    assert main([*train_args(data, 1, "eval.every=1", "eval.n=500"), "--outdir", str(runs)]) == 2
    assert "eval.n must be between 4 and 100" in capsys.readouterr().err and list(runs.iterdir()) == []
