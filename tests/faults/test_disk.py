"""Write faults: a full disk or an I/O error in each kind of write, a file-size limit, a
read-only folder, and folders where files belong (and the reverse). Each ends in one
line naming the file and what is intact; nothing earlier is lost; and once the fault is
gone, a resume ends with the weights of an uninterrupted run."""

from __future__ import annotations

import errno
import fnmatch
import os
from pathlib import Path

import pytest
import torch

from mnistgan import atomic
from mnistgan.cli import main
from mnistgan.train import checkpoint

from .helpers import check_run_folder, same_weights, train_args

_real_write_all = atomic._write_all
EVAL = ["eval.every=1", "eval.n=50"]  # the light evaluation writes best.pt, best.json, generator-best


def _fail_writes(monkeypatch, pattern: str, code: int, skip: int = 0) -> list[Path]:
    """Writes to files named like `pattern` fail with `code` after half their bytes, from
    the (skip+1)-th on; returns the list of failed paths."""
    real, seen, failed = atomic._write_all, [0], []

    def write(fd, data, path):
        if fnmatch.fnmatch(Path(path).name, pattern):
            seen[0] += 1
            if seen[0] > skip:
                os.write(fd, data[: len(data) // 2])
                failed.append(path)
                raise OSError(code, os.strerror(code))
        real(fd, data, path)

    monkeypatch.setattr(atomic, "_write_all", write)
    return failed


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = [x for x in err.splitlines() if x.startswith("mnistgan: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted 3-epoch run with the light evaluation, in this process."""
    from ..conftest import write_tiny

    from mnistgan.data import datasets

    out = tmp_path_factory.mktemp("ref")
    spec = write_tiny(out / "data")
    datasets.DATASETS["tiny"] = spec
    try:
        assert main([*train_args(out / "data", 3, *EVAL), "--outdir", str(out / "runs"), "--name", "ref"]) == 0
    finally:
        del datasets.DATASETS["tiny"]
    return out / "runs" / "00000-ref"


KINDS = ["state-000002.pt", "generator.safetensors", "epoch_0002.png", "metrics.jsonl", "best.pt", "best.json",
         "generator-best.safetensors"]


@pytest.mark.parametrize("code, words", [(errno.ENOSPC, "no space left on the device"),
                                         (errno.EIO, "input/output error")])
@pytest.mark.parametrize("kind", KINDS)
def test_a_failed_write_is_one_line_keeps_earlier_files_and_resume_is_exact(
        kind, code, words, tiny, tmp_path, monkeypatch, capsys, reference):
    _, data = tiny
    skip = {"generator.safetensors": 1, "metrics.jsonl": 5, "epoch_0002.png": 0}.get(kind, 0)
    failed = _fail_writes(monkeypatch, kind, code, skip)  # in epoch 2, or for best.* in epoch 1
    assert main([*train_args(data, 3, *EVAL), "--outdir", str(tmp_path), "--name", "f"]) == 2
    line = _one_error_line(capsys)
    run = tmp_path / "00000-f"
    assert failed and f"{failed[0]}: {words}" in line
    assert check_run_folder(run) == []  # nothing damaged (a torn metrics line at most), no temp file
    monkeypatch.setattr(atomic, "_write_all", _real_write_all)  # the disk is freed
    if checkpoint.list_states(run):
        newest = checkpoint.list_states(run)[-1]
        assert f"the newest checkpoint, {newest}, is intact; continue with: mnistgan train --resume {run}" in line
        assert main(["train", "--resume", str(run), "--data-dir", str(data)]) == 0
    else:  # best.* are written in epoch 1 only here (it stays the best), before its checkpoint
        assert line.endswith("no checkpoint was saved yet")
        assert main([*train_args(data, 3, *EVAL), "--outdir", str(tmp_path), "--name", "f"]) == 0
        run = tmp_path / "00001-f"
    assert check_run_folder(run) == []
    same_weights(checkpoint.state_path(run, 3), checkpoint.state_path(reference, 3))
    assert _rows(run) == _rows(reference)


def _rows(run):
    from mnistgan.train.rundir import read_metrics

    return [{k: v for k, v in r.items() if k not in ("img_per_s", "eval_s")} for r in read_metrics(run)]
