"""train.lr_decay_start: constant learning rates, then linearly to 0 at the run's end."""

from __future__ import annotations

import json
import signal

import pytest
import torch

from mnistgan.config import TrainConfig
from mnistgan.data.sources import Sources
from mnistgan.errors import ConfigError
from mnistgan.train.fast import FastPath
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


def test_cuda_graphs_refuse_a_decay_in_one_line():
    with pytest.raises(ConfigError, match="holds the learning rates it was captured with"):
        FastPath(cuda_graphs=True).check(torch.device("cuda"), lr_decay=True)
