"""--threads and the free-core warning: the count is honoured, bad values are one-line
errors, and the warning fires exactly when threads outnumber the free cores."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from mnistgan import runtime
from mnistgan.cli import main
from mnistgan.errors import ConfigError


def fake_stat(samples):
    """A read_cpu_times stand-in returning the given (idle, total) pairs in turn."""
    it = iter(samples)
    return lambda: next(it)


@pytest.mark.parametrize(("samples", "ncpu", "free"), [
    ([(0, 0), (100, 200)], 2, 1.0),  # half the CPU time idle on 2 CPUs: one core free
    ([(50, 100), (50, 300)], 2, 0.0),  # no idle time at all
    ([(0, 0), (400, 400)], 4, 4.0),  # all idle
    ([(7, 7), (7, 7)], 2, 2.0),  # no time passed: assume free rather than divide by zero
])
def test_free_cores_is_the_idle_share_times_the_cpus(samples, ncpu, free):
    assert runtime.free_cores(read=fake_stat(samples), ncpu=ncpu, sleep=lambda s: None) == pytest.approx(free)


def test_free_cores_falls_back_to_the_load_average(monkeypatch):
    def unreadable():
        raise OSError("no /proc")

    monkeypatch.setattr(os, "getloadavg", lambda: (1.5, 0.0, 0.0))
    assert runtime.free_cores(read=unreadable, ncpu=2, sleep=lambda s: None) == pytest.approx(0.5)
    monkeypatch.setattr(os, "getloadavg", lambda: (9.0, 0.0, 0.0))
    assert runtime.free_cores(read=unreadable, ncpu=2, sleep=lambda s: None) == 0.0


def test_read_cpu_times_parses_proc_stat(tmp_path):
    stat = tmp_path / "stat"
    stat.write_text("cpu  10 1 20 300 5 0 4 0 7 0\ncpu0 1 2 3 4 5 6 7 8 9 0\n")
    assert runtime.read_cpu_times(str(stat)) == (305.0, 340.0)


@pytest.mark.parametrize(("threads", "free", "warns"), [
    (2, 2.0, False), (2, 1.6, False), (2, 1.4, True), (2, 0.9, True),
    (1, 0.0, False),  # one thread is the least we can do: never warn
    (4, 2.0, True),
])
def test_warning_only_when_threads_outnumber_free_cores(threads, free, warns):
    msg = runtime.oversubscription_warning(threads, free)
    assert (msg is not None) == warns
    if warns:
        assert "\n" not in msg and "--threads" in msg


def test_bad_thread_counts_are_config_errors(capsys):
    for bad in (0, -1, runtime.MAX_THREADS + 1):
        with pytest.raises(ConfigError, match="--threads must be between 1"):
            runtime.check_threads(bad)
    assert main(["evaluate", "nowhere", "--threads", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mnistgan: error: --threads") and err.count("\n") == 1


def test_threads_option_is_honoured():
    """In a fresh process (torch's thread count is process-wide), --threads N means N
    by the time the command runs."""
    code = (
        "import json, sys, torch\n"
        "from mnistgan import cli\n"
        "seen = []\n"
        "cli.cmd_evaluate = lambda args: seen.append(torch.get_num_threads()) or 0\n"
        "rc = cli.main(['evaluate', 'x', '--threads', sys.argv[1]])\n"
        "print(json.dumps([rc, seen, torch.get_num_threads()]))\n"
    )
    for n in ("1", "3"):
        out = subprocess.run([sys.executable, "-c", code, n], capture_output=True, text=True, check=True).stdout
        assert json.loads(out) == [0, [int(n)], int(n)]


def test_train_warns_when_oversubscribed(tiny, tmp_path, monkeypatch, caplog):
    _, folder = tiny
    monkeypatch.setattr(runtime, "free_cores", lambda: 0.3)
    before = torch.get_num_threads()
    try:
        args = ["train", "--set", "data.name=tiny", "--set", "train.epochs=1", "--set", "train.batch_size=50",
                "--outdir", str(tmp_path / "runs"), "--data-dir", str(folder), "--eval-every", "0"]
        with caplog.at_level("WARNING", logger="mnistgan"):
            assert main([*args, "--threads", "2"]) == 0
        assert sum("try --threads 1" in r.getMessage() for r in caplog.records) == 1
        caplog.clear()
        with caplog.at_level("WARNING", logger="mnistgan"):
            assert main([*args, "--threads", "1"]) == 0
        assert torch.get_num_threads() == 1
        assert not [r for r in caplog.records if r.levelname == "WARNING"]
    finally:
        torch.set_num_threads(before)


def test_one_thread_restores_the_thread_count():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with runtime.one_thread():
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
        with pytest.raises(ValueError), runtime.one_thread():
            raise ValueError  # restored on the way out of an error too
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
