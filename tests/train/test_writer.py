"""The background writer (train/writer.py), the checkpoint cadence and the wall-clock
split: files are written in order from snapshots, a failure stops the writing and is
raised in the training thread, a long cadence still leaves the weights of every epoch and
the last state, and the run records where its wall time went."""

from __future__ import annotations

import errno
import threading

import pytest
import torch

from mnistgan.cli import main
from mnistgan.config import load_config
from mnistgan.data.sources import Sources
from mnistgan.io import state as checkpoint
from mnistgan.io.weights import load_weights_and_epoch
from mnistgan.train.loop import train
from mnistgan.train.status import read_status
from mnistgan.train.wallclock import PHASES, WallClock, describe
from mnistgan.train.writer import Writer, snapshot, writing
from tests.conftest import TINY_RUN

SETTINGS = ["data.name='tiny'", "train.batch_size=50", "train.grid_size=16", "eval.every=0"]


def test_jobs_run_in_order_and_a_failure_stops_the_rest_and_is_raised_at_the_next_check():
    done: list[int] = []
    full = OSError(errno.ENOSPC, "No space left on device", "/run/state-000002.pt")

    def fail() -> None:
        raise full

    writer = Writer()
    for job in (lambda: done.append(1), lambda: done.append(2), fail, lambda: done.append(3)):
        writer.submit(job)
    with pytest.raises(OSError) as e:
        writer.flush()
    assert e.value is full and done == [1, 2]  # nothing after the failed file
    writer.submit(lambda: done.append(4))  # dropped, as the run is ending
    with pytest.raises(OSError):
        writer.close()
    assert done == [1, 2] and not writer.thread.is_alive()


def test_writing_drains_the_queue_on_the_way_out_and_an_earlier_error_wins():
    gate, done = threading.Event(), []

    def broken_disk() -> None:
        raise OSError(errno.EIO, "Input/output error")

    writer = Writer()
    with pytest.raises(KeyboardInterrupt), writing(writer):
        writer.submit(gate.wait)
        writer.submit(lambda: done.append("state"))
        writer.submit(broken_disk)
        gate.set()
        raise KeyboardInterrupt  # a signal: the queued state is still written, the I/O error not raised over it
    assert done == ["state"]


def test_a_full_queue_makes_the_training_thread_wait_and_says_so():
    gate, waits = threading.Event(), []

    class Waiting:
        def __enter__(self):
            waits.append("waiting")
            gate.set()  # the writer may go on once the wait is seen

        def __exit__(self, *exc):
            return None

    writer = Writer(depth=1, waiting=Waiting)
    writer.submit(gate.wait)  # running (or queued)
    writer.submit(lambda: None)
    writer.submit(lambda: None)  # the queue of one is full until the first job ends
    writer.close()
    assert waits[:1] == ["waiting"]


def test_inline_writes_run_in_submit_and_fail_at_the_check():
    done = []
    writer = Writer(inline=True)
    writer.submit(lambda: done.append(1))
    assert done == [1] and writer.thread is None
    writer.submit(lambda: 1 / 0)
    writer.submit(lambda: done.append(2))
    with pytest.raises(ZeroDivisionError):
        writer.check()
    assert done == [1]


def test_a_snapshot_is_a_copy_the_training_thread_may_change():
    w = torch.ones(3)
    state = {"G": {"w": w}, "opt": [{"exp_avg": w * 2}], "epoch": 1}
    copy = snapshot(state)
    w.add_(1)
    state["opt"][0]["exp_avg"].zero_()
    assert torch.equal(copy["G"]["w"], torch.ones(3)) and torch.equal(copy["opt"][0]["exp_avg"], torch.full((3,), 2.0))
    assert copy["epoch"] == 1


def test_a_long_cadence_saves_the_last_state_and_every_epochs_weights(tmp_path, tiny):
    cfg = load_config(overrides=[*SETTINGS, "train.epochs=3", "train.checkpoint_every_s=100000"])
    state = train(cfg, tmp_path, sources=Sources(data_dir=tiny[1], download=False))
    assert [p.name for p in checkpoint.list_states(tmp_path)] == ["state-000003.pt"]  # the last epoch, not 1 and 2
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == [f"epoch_000{i}.png" for i in (1, 2, 3)]
    G, _, epoch = load_weights_and_epoch(tmp_path / "generator.safetensors")
    assert epoch == 3 and all(torch.equal(a, b) for a, b in zip(G.state_dict().values(), state.sampler.state_dict().values()))


def test_the_run_records_its_wall_clock_split_and_train_prints_it(tiny, tmp_path, capsys):
    assert main(["train", *TINY_RUN, "--outdir", str(tmp_path), "--data-dir", str(tiny[1])]) == 0
    split = read_status(tmp_path / "00000-classic-tiny")["split"]
    assert set(split) == {"wall_s", *PHASES} and all(v >= 0 for v in split.values())
    assert split["steps"] > 0 and split["eval"] > 0 and split["start"] > 0  # light evaluation after the last epoch
    assert sum(split[k] for k in PHASES) == pytest.approx(split["wall_s"], abs=0.01)
    out = capsys.readouterr().out
    assert f"time:    {describe(split)}" in out.splitlines()
    assert describe(split).startswith(f"wall {split['wall_s']:.1f} s: start ")


def test_the_clock_charges_each_phase_once():
    clock = WallClock(origin=0.0)  # a process that started at monotonic 0 (long ago)
    with clock.phase("steps"):
        with clock.phase("epoch_end"):
            pass
    split = clock.split()
    assert sum(split[k] for k in PHASES) == pytest.approx(split["wall_s"], abs=0.01)
    assert split["start"] > split["steps"] >= 0
