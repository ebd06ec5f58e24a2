"""Training end to end on the tiny dataset: run folder, reproducibility, exact resume."""

from __future__ import annotations

import json
import os
import signal

import pytest
import torch
from safetensors.torch import load_file

from mnistgan.config import load_config
from mnistgan.data.sources import Sources
from mnistgan.errors import ConfigError
from mnistgan.train.loop import train

SETTINGS = ["data.name='tiny'", "train.batch_size=50", "train.log_every=3", "train.grid_size=16", "eval.every=0",
            "train.checkpoint_every_s=0"]  # a checkpoint at every epoch end


def _cfg(epochs: int, *extra: str):
    return load_config("classic", overrides=[*SETTINGS, f"train.epochs={epochs}", *extra])


def _run(tmp_path, tiny, name, epochs, *extra, resume=False):
    _, folder = tiny
    run_dir = tmp_path / name
    run_dir.mkdir(exist_ok=True)
    state = train(_cfg(epochs, *extra), run_dir, sources=Sources(data_dir=folder, download=False), resume=resume)
    return state, run_dir


def _assert_same_state(a, b):
    for key in ("G", "D"):
        for (k, x), y in zip(getattr(a, key).state_dict().items(), getattr(b, key).state_dict().values()):
            assert torch.equal(x, y), f"{key}.{k} differs"
    for key in ("opt_g", "opt_d"):
        sa, sb = getattr(a, key).state_dict()["state"], getattr(b, key).state_dict()["state"]
        for i in sa:
            for k in sa[i]:
                assert torch.equal(sa[i][k], sb[i][k]), f"{key}[{i}].{k} differs"
    assert a.step == b.step and a.epoch == b.epoch


def _metrics(run_dir, starts=False):
    """metrics.jsonl without its speeds; with starts=False also without the "start" lines
    (where each stretch of a run computed: a resumed run has one more)."""
    rows = [{k: v for k, v in json.loads(line).items() if k != "img_per_s"}
            for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if starts or "start" not in r]


def test_run_folder_contents(tmp_path, tiny):
    state, run_dir = _run(tmp_path, tiny, "a", 3)
    assert state.epoch == 3 and state.step == 12  # 200 images / batch 50 = 4 steps per epoch
    assert json.loads((run_dir / "config.json").read_text())["train"]["epochs"] == 3
    assert sorted(p.name for p in (run_dir / "samples").iterdir()) == [f"epoch_000{i}.png" for i in (1, 2, 3)]
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["state-000002.pt", "state-000003.pt"]
    assert set(load_file(str(run_dir / "generator.safetensors"))) == set(state.G.state_dict())
    rows = [r for r in _metrics(run_dir) if "d_loss" in r]  # training lines; one "health" line per epoch
    assert {"epoch", "step", "d_loss", "g_loss", "d_real", "d_fake"} <= set(rows[0])
    assert [r["epoch"] for r in _metrics(run_dir) if "health" in r] == [1, 2, 3]
    assert [r["step"] for r in rows] == [3, 4, 7, 8, 11, 12]  # every 3 steps, plus each epoch's end


def test_grids_and_weights_every_grid_every_epochs_and_the_last_without_changing_training(tmp_path, tiny):
    from mnistgan.io.weights import load_weights_and_epoch

    every_epoch, _ = _run(tmp_path, tiny, "a", 5)
    sparse, run_dir = _run(tmp_path, tiny, "b", 5, "train.grid_every=2")
    _assert_same_state(every_epoch, sparse)
    assert sorted(p.name for p in (run_dir / "samples").iterdir()) == [f"epoch_000{i}.png" for i in (2, 4, 5)]
    _, _, epoch = load_weights_and_epoch(run_dir / "generator.safetensors")
    assert epoch == 5
    assert [r["epoch"] for r in _metrics(run_dir) if "health" in r] == [1, 2, 3, 4, 5]  # checked every epoch
    _run(tmp_path, tiny, "b", 6, "train.grid_every=1", resume=True)  # it may change on resume
    assert (run_dir / "samples" / "epoch_0006.png").is_file()


def test_same_seed_is_bitwise_reproducible_and_the_seed_matters(tmp_path, tiny):
    a, _ = _run(tmp_path, tiny, "a", 2)
    b, _ = _run(tmp_path, tiny, "b", 2)
    _assert_same_state(a, b)
    c, _ = _run(tmp_path, tiny, "c", 2, "train.seed=1")
    assert not torch.equal(a.G.net[0].weight, c.G.net[0].weight)


def test_resume_is_exact(tmp_path, tiny):
    whole, whole_dir = _run(tmp_path, tiny, "whole", 4)
    _run(tmp_path, tiny, "split", 2)
    resumed, split_dir = _run(tmp_path, tiny, "split", 4, resume=True)
    _assert_same_state(whole, resumed)
    assert torch.equal(whole.fixed_noise, resumed.fixed_noise)
    assert _metrics(whole_dir) == _metrics(split_dir)
    assert [r["step"] for r in _metrics(split_dir, starts=True) if "start" in r] == [0, 8]  # started; resumed
    for name in ("epoch_0004.png", "epoch_0003.png"):
        assert (whole_dir / "samples" / name).read_bytes() == (split_dir / "samples" / name).read_bytes()


def test_resume_drops_metrics_of_an_unfinished_epoch(tmp_path, tiny):
    _, run_dir = _run(tmp_path, tiny, "r", 1)
    with open(run_dir / "metrics.jsonl", "a") as fh:
        fh.write(json.dumps({"epoch": 2, "step": 5, "d_loss": 9}) + "\n")
    _run(tmp_path, tiny, "r", 2, resume=True)
    assert [r["step"] for r in _metrics(run_dir) if "d_loss" in r] == [3, 4, 7, 8]


def test_resume_refuses_a_changed_config(tmp_path, tiny):
    _run(tmp_path, tiny, "r", 1)
    with pytest.raises(ConfigError, match="only train.epochs"):
        _run(tmp_path, tiny, "r", 2, "train.lr_g=0.001", resume=True)


def test_resume_without_checkpoint(tmp_path, tiny):
    with pytest.raises(ConfigError, match="no checkpoint"):
        _run(tmp_path, tiny, "empty", 1, resume=True)


def _stop_at(monkeypatch, step, signum):
    """Send `signum` to this process during optimizer step `step` (1-based)."""
    from mnistgan.train import fast  # the loop calls train_step through fast.make_step

    real, calls = fast.train_step, [0]

    def step_then_signal(*args, **kw):
        calls[0] += 1
        if calls[0] == step:
            os.kill(os.getpid(), signum)
        return real(*args, **kw)

    monkeypatch.setattr(fast, "train_step", step_then_signal)
    return lambda: monkeypatch.setattr(fast, "train_step", real)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_saves_mid_epoch_and_resume_continues_from_that_step(tmp_path, tiny, monkeypatch, signum):
    from mnistgan.io import state as checkpoint
    from mnistgan.train.stop import Stopped, StopRequest

    whole, whole_dir = _run(tmp_path, tiny, "whole", 3)
    restore = _stop_at(monkeypatch, 6, signum)  # inside epoch 2 (4 steps per epoch)
    stop = StopRequest()
    with stop.installed(), pytest.raises(Stopped) as e:
        train(_cfg(3), tmp_path / "split", sources=Sources(data_dir=tiny[1], download=False), stop=stop)
    assert e.value.signum == signum and e.value.saved.endswith("state-000001-step000000006.pt")
    saved = checkpoint.load_state(checkpoint.list_states(tmp_path / "split")[-1])
    assert (saved["epoch"], saved["step"], saved["progress"]["batch"]) == (1, 6, 2)
    restore()
    resumed, split_dir = _run(tmp_path, tiny, "split", 3, resume=True)
    _assert_same_state(whole, resumed)
    assert _metrics(whole_dir) == _metrics(split_dir)


def test_timed_mid_epoch_checkpoints_resume_exactly_after_a_crash(tmp_path, tiny, monkeypatch):
    from mnistgan.io import state as checkpoint
    from mnistgan.train import fast  # the loop calls train_step through fast.make_step

    whole, whole_dir = _run(tmp_path, tiny, "whole", 3)
    real, calls = fast.train_step, [0]

    def crash_at_step_7(*args, **kw):
        calls[0] += 1
        if calls[0] == 7:
            raise RuntimeError("power cut")
        return real(*args, **kw)

    monkeypatch.setattr(fast, "train_step", crash_at_step_7)
    with pytest.raises(RuntimeError, match="power cut"):  # a mid-epoch state before every step
        _run(tmp_path, tiny, "split", 3, "train.checkpoint_every_s=0.00006", "train.keep_checkpoints=3")
    assert [p.name for p in checkpoint.list_states(tmp_path / "split")] == [
        "state-000001.pt", "state-000001-step000000005.pt", "state-000001-step000000006.pt"]
    monkeypatch.setattr(fast, "train_step", real)
    resumed, split_dir = _run(tmp_path, tiny, "split", 3, resume=True)
    _assert_same_state(whole, resumed)
    assert _metrics(whole_dir) == _metrics(split_dir)


def test_a_run_resumes_only_on_its_kind_of_device_and_its_checkpoint_is_kept(tmp_path, tiny):
    """A GPU run's noise generator is CUDA's: resuming it on the CPU is a one-line error
    that names the device, and the checkpoint is left as it is (not marked damaged)."""
    from mnistgan.io import state as checkpoint

    _, run_dir = _run(tmp_path, tiny, "r", 1)
    (path,) = checkpoint.list_states(run_dir)
    saved = checkpoint.load_state(path)
    assert saved["device"] == "cpu"
    checkpoint.write_state(path, {k: v for k, v in saved.items() if not k.startswith(("format", "package"))}
                           | {"device": "cuda"})
    with pytest.raises(ConfigError, match=r"trained on cuda; resume it there \(--device cuda\)"):
        _run(tmp_path, tiny, "r", 2, resume=True)
    assert checkpoint.list_states(run_dir) == [path]
