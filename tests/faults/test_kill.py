"""kill -9 at seeded random moments, many of them inside writes: nothing left behind is
damaged, and resuming gives the weights of an uninterrupted run, bitwise."""

from __future__ import annotations

import os
import random
import shutil
import signal
import time

import pytest

from mnistgan.io import state as checkpoint

from .helpers import check_run_folder, same_weights, train_args

EPOCHS = 3
# A mid-epoch checkpoint every 30 ms, and 2 ms per written chunk: most kills land in a write.
FAST = ["train.checkpoint_every_s=0.03"]
DELAY = 0.002


@pytest.fixture(scope="module")
def reference(zygote, tmp_path_factory):
    """An uninterrupted run, and how long a second one took (the first warms the caches)."""
    out = tmp_path_factory.mktemp("ref")
    times = []
    for _ in range(2):
        start = time.monotonic()
        assert zygote.run([*train_args(zygote.data, EPOCHS, *FAST), "--outdir", str(out), "--name", "ref"],
                          out / "log", delay=DELAY) == 0
        times.append(time.monotonic() - start)
    return out / "00000-ref", times[1]


def _interrupt(zygote, args, log, moment, signum):
    pid = zygote.spawn(args, log, delay=DELAY)
    time.sleep(moment)
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass
    return zygote.wait(pid)


def test_kill_9_at_20_random_moments_then_exact_resume(zygote, reference, tmp_path):
    """Kill, check, resume and kill again; a run that finishes is compared with the
    reference and a new one starts, until 20 kills have landed."""
    ref_run, seconds = reference
    rng = random.Random(8)
    kills = finished = temps_seen = 0
    for i in range(60):
        outdir = tmp_path / f"runs{finished}"
        run = outdir / "00000-k"
        resume = bool(checkpoint.list_states(run))
        if run.exists() and not resume:  # killed before its first checkpoint: start again
            shutil.rmtree(run)
        args = (["train", "--resume", str(run), "--data-dir", str(zygote.data), "--threads", "1"] if resume
                else [*train_args(zygote.data, EPOCHS, *FAST), "--outdir", str(outdir), "--name", "k"])
        log = tmp_path / f"log{i}"
        status = _interrupt(zygote, args, log, rng.uniform(0.05, 0.8) * seconds, signal.SIGKILL)
        assert status in (-signal.SIGKILL, 0), log.read_text()
        if status == 0:  # it finished before the kill
            assert check_run_folder(run) == []
            same_weights(checkpoint.state_path(run, EPOCHS), checkpoint.state_path(ref_run, EPOCHS))
            finished += 1
            continue
        kills += 1
        temps_seen += len(check_run_folder(run)) if run.exists() else 0
        if kills == 20:
            break
    assert kills == 20
    run = tmp_path / f"runs{finished}" / "00000-k"
    if checkpoint.list_states(run):
        assert zygote.run(["train", "--resume", str(run), "--data-dir", str(zygote.data), "--threads", "1"], tmp_path / "last") == 0
        assert check_run_folder(run) == []  # the resume cleaned every temp file
        same_weights(checkpoint.state_path(run, EPOCHS), checkpoint.state_path(ref_run, EPOCHS))
    assert temps_seen >= 1  # kills did land inside writes
    print(f"{kills} kills in {i + 1} tries, {finished} runs finished and compared, {temps_seen} temp files seen, "
          f"reference {seconds:.2f} s")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_sigint_and_sigterm_stop_with_one_line_then_resume_exactly(zygote, reference, tmp_path, signum):
    ref_run, seconds = reference
    rng = random.Random(signum)
    outdir = tmp_path / "runs"
    run = outdir / "00000-s"
    stops, sooner = 0, 1.0
    for i in range(6):
        resume = run.exists()
        args = (["train", "--resume", str(run), "--data-dir", str(zygote.data), "--threads", "1"] if resume
                else [*train_args(zygote.data, EPOCHS, *FAST), "--outdir", str(outdir), "--name", "s"])
        log = tmp_path / f"log{i}"
        status = _interrupt(zygote, args, log, rng.uniform(0.2, 0.6) * seconds * sooner, signum)
        text = log.read_text()
        assert "Traceback" not in text
        if status == 0 and not stops:  # it finished first (the reference ran on a busier machine): again, sooner
            shutil.rmtree(outdir)
            sooner /= 2
            continue
        if status == 0:
            break
        stops += 1
        assert status == 128 + signum
        lines = [x for x in text.splitlines() if x.startswith("mnistgan: interrupted")]
        name = signal.Signals(signum).name
        assert len(lines) == 1 and lines[0].startswith(f"mnistgan: interrupted by {name}; "), text
        # (the last: a signal after the run finished, while it printed its summary)
        assert any(note in lines[0] for note in ("--resume", "nothing was kept", "nothing was left half-written"))
        check_run_folder(run) if run.exists() else None
        if stops == 3:
            break
    assert stops >= 1
    assert zygote.run(["train", "--resume", str(run), "--data-dir", str(zygote.data), "--threads", "1"], tmp_path / "last") == 0
    same_weights(checkpoint.state_path(run, EPOCHS), checkpoint.state_path(ref_run, EPOCHS))
