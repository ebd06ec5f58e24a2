"""The health monitor on synthetic stats, and the loop's reaction to a divergence."""

from __future__ import annotations

import json

import pytest
import torch

from mnistgan.cli import main
from mnistgan.config import load_config
from mnistgan.data.sources import Sources
from mnistgan.errors import ConfigError, TrainingStopped
from mnistgan.io import state as checkpoint
from mnistgan.losses import BCELoss
from mnistgan.train import loop
from mnistgan.train.health import HealthMonitor, mean_pairwise_distance, nonfinite
from mnistgan.train.loop import train

from ..conftest import tiny_arrays


def _varied(n: int = 16) -> torch.Tensor:
    return torch.from_numpy(tiny_arrays(n, seed=0)[0])  # uint8 [n, 28, 28], bars at varied heights


def test_pairwise_distance_is_zero_for_copies_and_large_for_varied_images():
    same = _varied(1).repeat(16, 1, 1)
    assert mean_pairwise_distance(same) == 0
    assert mean_pairwise_distance(_varied()) > 5
    x = _varied(3).double().reshape(3, -1) / 255
    by_hand = (torch.dist(x[0], x[1]) + torch.dist(x[0], x[2]) + torch.dist(x[1], x[2])) / 3
    assert mean_pairwise_distance(_varied(3)) == pytest.approx(float(by_hand))


def test_d_won_is_reported_once_then_recovery():
    m = HealthMonitor(mean_pairwise_distance(_varied()), BCELoss().d_won)
    grid = _varied()
    assert m.check(1, {'d_loss': 0.5, 'd_fake': 0.3}, grid) == []
    [won] = m.check(2, {'d_loss': 0.004, 'd_fake': 0.001}, grid)
    assert won.event == "d_won" and "discriminator has won" in won.message and "\n" not in won.message
    assert m.check(3, {'d_loss': 0.002, 'd_fake': 0.0005}, grid) == []  # still won: not repeated
    [rec] = m.check(4, {'d_loss': 0.3, 'd_fake': 0.2}, grid)
    assert rec.event == "recovered" and rec.values["from"] == "d_won"
    # both conditions are needed: a confident D that still errs on some fakes has not won
    assert m.check(5, {'d_loss': 0.5, 'd_fake': 0.001}, grid) == []


def test_d_won_with_label_smoothing_counts_from_the_least_loss_d_can_reach():
    m = HealthMonitor(mean_pairwise_distance(_varied()), BCELoss(0.1).d_won)
    assert BCELoss(0.1).d_loss_floor() == pytest.approx(0.3251, abs=1e-4)  # H(0.9): BCE of a D that is always right
    assert m.check(1, {'d_loss': 0.33, 'd_fake': 0.001}, _varied())[0].event == "d_won"
    assert HealthMonitor(1.0, BCELoss(0.1).d_won).check(1, {'d_loss': 0.40, 'd_fake': 0.001}, _varied()) == []


def test_collapse_when_the_grid_is_nearly_identical():
    m = HealthMonitor(mean_pairwise_distance(_varied()), BCELoss().d_won)
    one = _varied(1).repeat(16, 1, 1)
    noisy = (one.int() + torch.randint(0, 3, one.shape)).clamp(0, 255).to(torch.uint8)  # copies with pixel noise
    assert m.check(1, {'d_loss': 0.5, 'd_fake': 0.3}, noisy) == []  # every run starts as one blob
    assert m.check(2, {'d_loss': 0.5, 'd_fake': 0.3}, _varied()) == []
    [ev] = m.check(3, {'d_loss': 0.5, 'd_fake': 0.3}, noisy)  # it was diverse, now it is not
    assert ev.event == "collapse" and ev.values["diversity"] < 0.25
    assert m.check(4, {'d_loss': 0.5, 'd_fake': 0.3}, _varied())[0].event == "recovered"


def test_a_run_that_never_diversifies_is_a_collapse_after_the_warm_up():
    m = HealthMonitor(mean_pairwise_distance(_varied()), BCELoss().d_won)
    one = _varied(1).repeat(16, 1, 1)
    assert m.check(1, {'d_loss': 0.5, 'd_fake': 0.3}, one) == [] and m.check(2, {'d_loss': 0.5, 'd_fake': 0.3}, one) == []
    assert [e.event for e in m.check(3, {'d_loss': 0.5, 'd_fake': 0.3}, one)] == ["collapse"]


def test_the_warm_up_is_counted_in_images_so_a_small_set_is_not_called_collapsed_at_its_start():
    small = HealthMonitor(mean_pairwise_distance(_varied()), BCELoss().d_won, images_per_epoch=600)
    one = _varied(1).repeat(16, 1, 1)
    assert all(small.check(epoch, {'d_loss': 0.5, 'd_fake': 0.3}, one) == [] for epoch in range(1, 300))
    assert [e.event for e in small.check(300, {'d_loss': 0.5, 'd_fake': 0.3}, one)] == ["collapse"]  # 180,000 images


def test_modes_lost_when_a_light_evaluation_covers_under_75_percent_of_the_real_floors():
    m = HealthMonitor(1.0, BCELoss().d_won)

    def light(modes: float) -> dict:
        return {"eval_n": 2000, "eval": {"fid_lenet": 50.0, "modes": modes},
                "floor": {"fid_lenet": 5.0, "modes": 865.0}}

    assert m.check_modes(5, light(700)) == []  # 81% of what 2000 real images cover
    [lost] = m.check_modes(10, light(600))
    assert lost.event == "modes_lost" and "covers 600 of the 1000 modes" in lost.message and "865" in lost.message
    assert m.check_modes(15, light(500)) == []  # still lost: said once
    assert [e.event for e in m.check_modes(20, light(860))] == ["recovered"]
    mnist = {"eval_n": 2000, "eval": {"fid_lenet": 1.0}, "floor": {"fid_lenet": 1.0}}
    assert m.check_modes(25, mnist) == []
    assert m.check_modes(26, None) == []  # no light evaluation this epoch


def test_a_stacked_set_trains_unconditional_models_only(tiny_stacked):
    cfg = load_config(overrides=["data.name='tiny-stacked'", "model.num_classes=10", "model.img_channels=3"])
    with pytest.raises(ConfigError, match="model.num_classes must be 0 on tiny-stacked"):
        loop.check_config(cfg)


def test_replay_restores_active_conditions_for_resume():
    m = HealthMonitor(1.0, BCELoss().d_won)
    m.replay([{"event": "collapse"}, {"event": "d_won"}, {"event": "recovered", "from": "collapse"}, {"d_loss": 1}])
    assert m.active == {"d_won"} and not m.was_diverse
    m.replay([{"health": {"diversity": 0.7}}])
    assert m.was_diverse


def test_nonfinite_names_the_loss_or_the_weight():
    layer = torch.nn.Linear(2, 2)
    assert nonfinite({"d_loss": 0.5, "g_loss": 1.0}, [("D", layer)]) is None
    assert nonfinite({"d_loss": float("nan"), "g_loss": 1.0}, [("D", layer)]) == "d_loss is nan"
    with torch.no_grad():
        layer.bias[1] = float("inf")
    assert nonfinite({"d_loss": 0.5}, [("D", layer)]) == "weight D.bias is not finite"
    with torch.no_grad():  # +inf and -inf in two tensors: their sums cancel to NaN, still caught
        layer.weight[0, 0] = float("-inf")
    assert nonfinite({"d_loss": 0.5}, [("D", layer)]) == "weight D.weight is not finite"
    with torch.no_grad():  # finite weights whose sum overflows: no false alarm
        layer.weight.fill_(3e38)
        layer.bias.fill_(3e38)
    assert nonfinite({"d_loss": 0.5}, [("D", layer)]) is None


SETTINGS = ["data.name='tiny'", "train.batch_size=50", "train.grid_size=16", "eval.every=0", "train.checkpoint_every_s=0"]


def _poison_after(monkeypatch, epoch: int) -> None:
    """Make G's weights NaN during epoch `epoch` (1-based), as a diverging run would."""
    real_run_epoch = loop.run_epoch

    def run_epoch(state, *args, **kwargs):
        means = real_run_epoch(state, *args, **kwargs)
        if state.epoch + 1 == epoch:
            with torch.no_grad():
                next(state.G.parameters()).fill_(float("nan"))
        return means

    monkeypatch.setattr(loop, "run_epoch", run_epoch)


def test_a_nan_stops_training_and_keeps_the_last_good_checkpoint(tmp_path, tiny, monkeypatch, capsys):
    _, folder = tiny
    unpoisoned = loop.run_epoch
    _poison_after(monkeypatch, 3)
    runs = tmp_path / "runs"
    code = main(["train", "--outdir", str(runs), "--data-dir", str(folder), "--no-download",
                 *[x for s in [*SETTINGS, "train.epochs=4"] for x in ("--set", s)]])
    err = capsys.readouterr().err
    assert code == 3
    line = [x for x in err.splitlines() if x.startswith("mnistgan: stopped:")]
    assert len(line) == 1 and "training diverged (weight G.net.0.weight is not finite)" in line[0]
    assert "state-000002.pt, is intact" in line[0] and "Traceback" not in err
    run = next(runs.iterdir())
    states = checkpoint.list_states(run)
    assert [p.name for p in states] == ["state-000001.pt", "state-000002.pt"]  # nothing of epoch 3
    assert not (run / "samples" / "epoch_0003.png").exists()
    saved = checkpoint.load_state(states[-1])
    assert all(torch.isfinite(t).all() for t in saved["G"].values())
    events = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines() if '"event"' in x]
    assert events[-1]["event"] == "nonfinite" and events[-1]["epoch"] == 3
    # the previous checkpoint resumes (here without the poison) and finishes the run
    monkeypatch.setattr(loop, "run_epoch", unpoisoned)
    assert main(["train", "--resume", str(run), "--data-dir", str(folder)]) == 0
    assert checkpoint.list_states(run)[-1].name == "state-000004.pt"


def test_on_failure_stop_ends_the_run_after_saving_the_epoch(tmp_path, tiny, monkeypatch):
    _, folder = tiny
    monkeypatch.setattr(HealthMonitor, "check", lambda self, epoch, *a: [
        loop.HealthEvent("collapse", epoch, f"epoch {epoch}: collapsed")] if epoch == 2 else [])
    cfg = load_config(overrides=[*SETTINGS, "train.epochs=5", "train.on_failure='stop'"])
    run = tmp_path / "run"
    run.mkdir()
    with pytest.raises(TrainingStopped, match="epoch 2: collapsed .stopped: train.on_failure is 'stop'"):
        train(cfg, run, sources=Sources(data_dir=folder, download=False))
    assert checkpoint.list_states(run)[-1].name == "state-000002.pt"
    # with "warn" (the default) the same event is logged and training goes on
    warn = load_config(overrides=[*SETTINGS, "train.epochs=3"])
    run2 = tmp_path / "run2"
    run2.mkdir()
    assert train(warn, run2, sources=Sources(data_dir=folder, download=False)).epoch == 3
    assert '"event": "collapse"' in (run2 / "metrics.jsonl").read_text()
