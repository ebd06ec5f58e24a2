"""train.lr_decay_start: constant learning rates, then linearly to 0 at the run's end."""

from __future__ import annotations

import json
import signal

import pytest
import torch

from mnistgan.config import TrainConfig
from mnistgan.data.sources import Sources
from mnistgan.train.loop import train
from mnistgan.train.schedule import lr_scale, share_done
from tests.train.test_loop import _assert_same_state, _cfg, _metrics, _run, _stop_at

DECAY = ("train.lr_decay_start=0.5", "train.log_every=1")


def test_constant_then_linear_to_zero_at_the_end():
    assert [lr_scale(0.5, d) for d in (0, 0.25, 0.5, 0.75, 0.9, 1, 1.1)] == pytest.approx([1, 1, 1, 0.5, 0.2, 0, 0])
    assert [lr_scale(0.0, d) for d in (0, 0.5, 1)] == [1, 0.5, 0]
    assert [lr_scale(1.0, d) for d in (0, 0.5, 1, 1.5)] == [1, 1, 1, 1]  # the default: constant


def test_the_share_done_is_of_what_ends_the_run():
    by_epochs = TrainConfig(epochs=10)
    assert share_done(by_epochs, 2.5, seconds=1e6) == 0.25  # no time budget: the clock does not count
    budget = TrainConfig(epochs=100_000, minutes=20)
    assert share_done(budget, 3, seconds=600) == 0.5
    assert share_done(TrainConfig(epochs=4, minutes=20), 3, seconds=600) == 0.75  # the epochs end it first


def test_a_run_decays_both_rates_to_zero_at_its_last_step(tmp_path, tiny):
    state, run_dir = _run(tmp_path, tiny, "decay", 4, *DECAY)  # 4 steps per epoch, a metrics line after each
    scales = [r["lr_scale"] for r in _metrics(run_dir) if "lr_scale" in r]
    assert len(scales) == 16
    assert scales[:8] == [1] * 8  # the first half at the configured rates
    assert scales[8:] == pytest.approx([(16 - s) / 8 for s in range(9, 17)])  # then linearly to 0
    assert [g["lr"] for opt in (state.opt_g, state.opt_d) for g in opt.param_groups] == [0, 0]
    constant, _ = _run(tmp_path, tiny, "constant", 4, "train.log_every=1")
    assert not torch.equal(state.G.net[0].weight, constant.G.net[0].weight)


def test_a_decaying_run_resumes_exactly_from_a_signal_mid_epoch(tmp_path, tiny, monkeypatch):
    from mnistgan.train.stop import Stopped, StopRequest

    whole, whole_dir = _run(tmp_path, tiny, "whole", 3, *DECAY)
    restore = _stop_at(monkeypatch, 7, signal.SIGTERM)  # in epoch 2, in the decaying half
    stop = StopRequest()
    with stop.installed(), pytest.raises(Stopped):
        train(_cfg(3, *DECAY), tmp_path / "split", sources=Sources(data_dir=tiny[1], download=False), stop=stop)
    restore()
    resumed, split_dir = _run(tmp_path, tiny, "split", 3, *DECAY, resume=True)
    _assert_same_state(whole, resumed)
    assert _metrics(whole_dir) == _metrics(split_dir)
    assert json.loads((split_dir / "config.json").read_text())["train"]["lr_decay_start"] == 0.5


def test_rates_held_in_tensors_train_the_float_run_and_checkpoint_floats(tmp_path, tiny, monkeypatch):
    """A CUDA graph reads its rates from 0-d tensors that the schedule fills in place
    (train/fast.py; the graphs themselves: tests/train/test_cuda.py). On the CPU those tensors
    train the run of float rates to fp32 rounding (a run that kept its first rates ends 1e-3
    away), fall to 0, and its checkpoints hold floats."""
    from mnistgan.io.state import list_states, load_state
    from mnistgan.train import loop
    from mnistgan.train.fast import hold_lrs_in_tensors

    floats, _ = _run(tmp_path, tiny, "floats", 3, *DECAY)
    make_feed = loop.make_feed

    def feed_of_tensor_rates(state, *args, **kwargs):
        hold_lrs_in_tensors([state.opt_g, state.opt_d])
        return make_feed(state, *args, **kwargs)

    monkeypatch.setattr(loop, "make_feed", feed_of_tensor_rates)
    tensors, run_dir = _run(tmp_path, tiny, "tensors", 3, *DECAY)
    for (name, x), y in zip(floats.G.state_dict().items(), tensors.G.state_dict().values()):
        assert torch.allclose(x, y, rtol=0, atol=1e-6), name  # fp32 rates: the float run's to rounding
    rates = [g["lr"] for opt in (tensors.opt_g, tensors.opt_d) for g in opt.param_groups]
    assert all(isinstance(r, torch.Tensor) and r.item() == 0 for r in rates)
    saved = load_state(list_states(run_dir)[-1])
    assert [(type(g["lr"]), g["lr"]) for key in ("opt_g", "opt_d") for g in saved[key]["param_groups"]] == [(float, 0)] * 2
