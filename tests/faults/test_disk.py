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

from mnistgan import atomic
from mnistgan.cli import main
from mnistgan.io import state as checkpoint

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
    from mnistgan.runfolder import read_metrics

    # without the speeds, and without the "start" lines (one per session: a resume adds one)
    return [{k: v for k, v in r.items() if k not in ("img_per_s", "eval_s")} for r in read_metrics(run) if "start" not in r]


def test_a_resume_that_cannot_write_config_json_leaves_it_and_the_log_whole(tiny, tmp_path, monkeypatch, capsys):
    _, data = tiny
    assert main([*train_args(data, 1), "--outdir", str(tmp_path), "--name", "c"]) == 0
    run = tmp_path / "00000-c"
    before = {n: (run / n).read_bytes() for n in ("config.json", "metrics.jsonl")}
    _fail_writes(monkeypatch, "config.json", errno.ENOSPC)
    assert main(["train", "--resume", str(run), "--set", "train.epochs=2", "--data-dir", str(data)]) == 2
    assert f"{run / 'config.json'}: no space left on the device" in _one_error_line(capsys)
    assert {n: (run / n).read_bytes() for n in before} == before  # neither truncated nor half-written
    monkeypatch.setattr(atomic, "_write_all", _real_write_all)
    assert main(["train", "--resume", str(run), "--set", "train.epochs=2", "--data-dir", str(data)]) == 0


def test_a_file_size_limit_is_one_line_and_resume_works_without_it(zygote, tmp_path):
    assert zygote.run([*train_args(zygote.data, 1), "--outdir", str(tmp_path), "--name", "z"], tmp_path / "a") == 0
    run = tmp_path / "00000-z"
    resume = ["train", "--resume", str(run), "--set", "train.epochs=2", "--data-dir", str(zygote.data)]
    assert zygote.run(resume, tmp_path / "b", fsize=200_000) == 2  # the 600 kB state cannot be written
    err = (tmp_path / "b").read_text()
    assert "Traceback" not in err and "the file is larger than the file-size limit allows" in err
    assert f"the newest checkpoint, {run / 'checkpoints' / 'state-000001.pt'}, is intact" in err
    assert check_run_folder(run) == []
    assert zygote.run(resume, tmp_path / "c") == 0
    assert checkpoint.list_states(run)[-1].name == "state-000002.pt"


def _read_only(monkeypatch, folder: Path) -> None:
    """Every write under `folder` fails as on a read-only mount (root ignores chmod)."""
    inside = lambda p: str(os.path.abspath(os.fspath(p))).startswith(str(folder))  # noqa: E731
    real_open, real_mkdir = os.open, os.mkdir

    def ro_open(path, flags, *a, **kw):
        if inside(path) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, flags, *a, **kw)

    def ro_mkdir(path, *a, **kw):
        if inside(path):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_mkdir(path, *a, **kw)

    monkeypatch.setattr(os, "open", ro_open)
    monkeypatch.setattr(os, "mkdir", ro_mkdir)


def test_read_only_folders_are_one_line_for_every_command(tiny, tmp_path, monkeypatch, capsys):
    _, data = tiny
    assert main([*train_args(data, 1), "--outdir", str(tmp_path / "runs"), "--name", "r"]) == 0
    run = tmp_path / "runs" / "00000-r"
    ro = tmp_path / "ro"
    ro.mkdir()
    _read_only(monkeypatch, ro)
    cases = [
        ([*train_args(data, 1), "--outdir", str(ro / "runs")], f"{ro / 'runs'}: the file system is read-only"),
        (["sample", str(run), "--out", str(ro / "s.png")], f"{ro / 's.png'}: the file system is read-only"),
        (["report", str(run), "--out", str(ro / "r.html")], f"{ro / 'r.html'}: the file system is read-only"),
    ]
    for args, words in cases:
        assert main(args) == 2
        assert words in _one_error_line(capsys)
    _read_only(monkeypatch, run)
    assert main(["train", "--resume", str(run), "--set", "train.epochs=2", "--data-dir", str(data)]) == 2
    line = _one_error_line(capsys)
    assert "the file system is read-only" in line and "state-000001.pt, is intact" in line
    monkeypatch.undo()
    assert checkpoint.load_state(run / "checkpoints" / "state-000001.pt")["epoch"] == 1


def test_evaluate_into_a_read_only_folder_prints_its_results_first(tiny, tmp_path, monkeypatch, capsys):
    _, data = tiny
    assert main([*train_args(data, 1), "--outdir", str(tmp_path / "runs"), "--name", "e"]) == 0
    ro = tmp_path / "ro"
    ro.mkdir()
    _read_only(monkeypatch, ro)
    assert main(["evaluate", str(tmp_path / "runs" / "00000-e"), "-n", "50", "--out", str(ro / "m.json"),
                 "--data-dir", str(data)]) == 2
    out, err = capsys.readouterr()
    assert "FID" in out and "the results are printed above" in err and err.count("mnistgan: error:") == 1


def test_folders_where_files_belong_and_the_reverse(tiny, tmp_path, capsys):
    _, data = tiny
    assert main([*train_args(data, 1), "--outdir", str(tmp_path / "runs"), "--name", "d"]) == 0
    run = tmp_path / "runs" / "00000-d"
    a_file = tmp_path / "file"
    a_file.write_text("x")
    (tmp_path / "folder.png").mkdir()
    cases = [
        (["sample", str(run), "--out", str(tmp_path / "folder.png")], "a folder; --out needs a file name"),
        (["evaluate", str(run), "-n", "50", "--out", str(tmp_path / "folder.png"), "--data-dir", str(data)],
         "a folder is there, where a file is expected"),
        (["report", str(run), "--out", str(tmp_path / "folder.png")], "a folder is there, where a file is expected"),
        (["train", "--resume", str(a_file)], "not a run folder (a file)"),
        ([*train_args(data, 1), "--outdir", str(a_file)], "a file is already there, where a folder is expected"),
        ([*train_args(a_file, 1), "--outdir", str(tmp_path / "runs2")], "a file, not a folder"),
        (["sample", str(tmp_path / "runs")], "no generator.safetensors or checkpoint in this folder"),
        (["sample", str(run / "checkpoints")], "no generator.safetensors or checkpoint in this folder"),
    ]
    for args, words in cases:
        assert main(args) == 2, args
        assert words in _one_error_line(capsys), args
    assert list((tmp_path / "runs2").iterdir()) == []  # a failed start leaves no run folder
    (run / "samples").rename(tmp_path / "moved")
    (run / "samples").write_text("not a folder")
    assert main(["train", "--resume", str(run), "--set", "train.epochs=2", "--data-dir", str(data)]) == 2
    assert "samples: a file is already there, where a folder is expected" in _one_error_line(capsys)


@pytest.mark.parametrize("code, words", [(errno.ENOSPC, "no space left on the device"),
                                         (errno.EIO, "input/output error")])
def test_a_full_disk_under_sample_evaluate_and_report_is_one_line_and_loses_nothing(
        tiny, tmp_path, monkeypatch, capsys, code, words):
    _, data = tiny
    assert main([*train_args(data, 1, *EVAL), "--outdir", str(tmp_path / "runs"), "--name", "o"]) == 0
    run = tmp_path / "runs" / "00000-o"
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    out = tmp_path / "out"
    out.mkdir()
    (out / "s.png").write_bytes(b"an earlier grid")
    cases = [
        ("s.png", ["sample", str(run), "--out", str(out / "s.png")]),
        ("s.npz", ["sample", str(run), "--out", str(out / "s.npz")]),
        ("m.json", ["evaluate", str(run), "-n", "50", "--out", str(out / "m.json"), "--data-dir", str(data)]),
        ("r.html", ["report", str(run), "--out", str(out / "r.html")]),
    ]
    for name, args in cases:
        with monkeypatch.context() as m:
            _fail_writes(m, name, code)
            assert main(args) == 2
        line = _one_error_line(capsys)
        assert str(out / name) in line and words in line, line
        assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]  # no torn temp file left
    assert (out / "s.png").read_bytes() == b"an earlier grid"  # the file it would have replaced is intact
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before  # the run is untouched
