"""Every training option, end to end on the tiny dataset: it trains, it does what it says,
and a run using it resumes exactly (one state schema for G, D, EMA, optimizers, RNGs)."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from mnistgan.config import load_config
from mnistgan.data.sources import Sources
from mnistgan.errors import ConfigError
from mnistgan.io.weights import load_weights
from mnistgan.train.ema import ema_beta
from mnistgan.train.loop import train

# 200 tiny images, batch 50: 4 steps an epoch. Tiny DCGAN widths keep each run ~1 s.
BASE = ["data.name='tiny'", "train.batch_size=50", "train.log_every=2", "train.grid_size=20", "eval.every=0"]
DCGAN = ["model.arch='dcgan'", "model.channels=4", "model.z_dim=8"]
CLS = [*DCGAN, "model.num_classes=10", "model.d_head=8", "loss.name='rpgan'", "loss.label_smoothing=0", "loss.r1_gamma=1.0",
       "loss.r2_gamma=1.0", "loss.r1_every=2", "loss.r2_every=2", "loss.cls_weight=0.5", "loss.ms_weight=0.1"]


def run(tmp_path, tiny, name, *extra, epochs=2, resume=False, preset="classic"):
    cfg = load_config(preset, overrides=[*BASE, f"train.epochs={epochs}", *extra])
    run_dir = tmp_path / name
    run_dir.mkdir(exist_ok=True)
    state = train(cfg, run_dir, sources=Sources(data_dir=tiny[1], download=False), resume=resume)
    return state, run_dir


def lines(run_dir):
    return [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]


def same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


@pytest.mark.parametrize("loss", ["hinge", "wgan-gp"])
def test_other_losses_train_and_log_their_stats(tmp_path, tiny, loss):
    state, run_dir = run(tmp_path, tiny, loss, f"loss.name='{loss}'", "loss.label_smoothing=0", *DCGAN)
    rows = [r for r in lines(run_dir) if "d_loss" in r and "health" not in r]
    assert rows and all(torch.isfinite(torch.tensor(r["d_loss"])) for r in rows)
    assert ("gp" in rows[0]) == (loss == "wgan-gp")
    assert state.step == 8


def test_n_critic_takes_that_many_batches_per_step_and_g_updates_once(tmp_path, tiny):
    state, _ = run(tmp_path, tiny, "nc", "loss.name='wgan-gp'", "loss.label_smoothing=0", "loss.n_critic=2", *DCGAN)
    assert state.step == 4  # 2 steps an epoch: each takes 2 batches of 50
    assert state.opt_g.state_dict()["state"][0]["step"].item() == 4
    assert state.opt_d.state_dict()["state"][0]["step"].item() == 8


def test_r1_runs_every_k_steps(tmp_path, tiny):
    state, run_dir = run(tmp_path, tiny, "r1", "loss.r1_gamma=1.0", "loss.r1_every=4", *DCGAN)
    assert state.opt_d.state_dict()["state"][0]["step"].item() == 8 + 2  # steps 0 and 4 add an R1 update
    r1 = [r["r1"] for r in lines(run_dir) if "r1" in r]
    assert r1 and all(v >= 0 for v in r1) and any(v > 0 for v in r1)


def test_spectral_norm_keeps_d_weights_at_unit_norm(tmp_path, tiny):
    state, _ = run(tmp_path, tiny, "sn", "model.spectral_norm=true", *DCGAN)
    weight = state.D.out.weight  # the normalised weight that D uses
    assert torch.linalg.matrix_norm(weight.detach(), ord=2).item() == pytest.approx(1.0, abs=0.05)
    assert any("parametrizations" in k for k in state.D.state_dict())


def test_ema_is_what_users_get_and_follows_its_half_life(tmp_path, tiny):
    state, run_dir = run(tmp_path, tiny, "ema", "train.ema_halflife=100", "train.ema_rampup=0", *DCGAN)
    assert state.G_ema is not None and not same(state.G_ema, state.G)
    saved, _ = load_weights(run_dir / "generator.safetensors")
    assert same(saved, state.G_ema)  # the EMA weights, not the raw G
    assert ema_beta(50, 10**6, 100, 0.0) == pytest.approx(0.5 ** 0.5)  # 50 images: half of a half-life
    assert ema_beta(50, 200, 100_000, 0.05) == pytest.approx(0.5 ** 5)  # ramp-up: half-life 10 images


def test_per_network_learning_rates_and_betas(tmp_path, tiny):
    state, _ = run(tmp_path, tiny, "lr", "train.lr_g=0.001", "train.lr_d=0.0004", "train.beta1_g=0.0",
                   "train.beta2_g=0.99", "train.beta1_d=0.5", "train.beta2_d=0.9", epochs=1)
    g, d = state.opt_g.param_groups[0], state.opt_d.param_groups[0]
    assert (g["lr"], g["betas"], d["lr"], d["betas"]) == (0.001, (0.0, 0.99), 0.0004, (0.5, 0.9))


def test_label_smoothing_sets_d_real_target(tmp_path, tiny):
    smooth, _ = run(tmp_path, tiny, "s", "loss.label_smoothing=0.2", epochs=1)
    hard, _ = run(tmp_path, tiny, "h", "loss.label_smoothing=0.0", epochs=1)
    assert not same(smooth.D, hard.D)


def test_minutes_stop_at_the_first_epoch_end_after_the_budget(tmp_path, tiny):
    state, run_dir = run(tmp_path, tiny, "m", "train.minutes=0.000001", epochs=50)
    assert state.epoch == 1 and state.seconds > 0
    # A resume may extend the budget, like train.epochs.
    state, _ = run(tmp_path, tiny, "m", "train.minutes=0.0", epochs=3, resume=True)
    assert state.epoch == 3


def test_penalties_every_step_join_d_s_update_and_lazy_ones_get_their_own(tmp_path, tiny):
    state, run_dir = run(tmp_path, tiny, "r1r2", "loss.name='rpgan'", "loss.label_smoothing=0", "loss.r1_gamma=1.0",
                         "loss.r1_every=1", "loss.r2_gamma=1.0", "loss.r2_every=4", *DCGAN)
    assert state.opt_d.state_dict()["state"][0]["step"].item() == 8 + 2  # R1 in each update; R2 at steps 0 and 4
    rows = [r for r in lines(run_dir) if "r1" in r]
    assert rows and all(r["r1"] > 0 for r in rows) and any(r["r2"] > 0 for r in rows)


def test_cls_and_ms_weights_log_their_terms(tmp_path, tiny):
    state, run_dir = run(tmp_path, tiny, "cls", *CLS, epochs=2)
    rows = [r for r in lines(run_dir) if "d_loss" in r]
    assert rows and all(0 < r["d_cls"] < 10 and 0 < r["g_cls"] < 10 and r["ms"] > 0 for r in rows)
    assert ("R2 γ=1 every 2 steps, the projection's class cross-entropy ×0.5, mode seeking ×0.1."
            in (run_dir / "MODEL_CARD.md").read_text())


def test_bf16_autocast_trains_with_fp32_weights(tmp_path, tiny):
    state, _ = run(tmp_path, tiny, "bf16", "train.precision='bf16'", *DCGAN)
    assert all(p.dtype == torch.float32 for p in state.G.parameters())
    assert all(torch.isfinite(p).all() for p in state.G.parameters())


def test_conditional_grid_has_one_row_per_class(tmp_path, tiny):
    state, run_dir = run(tmp_path, tiny, "cond", "model.num_classes=10", *DCGAN, epochs=1)
    # 20 images in 5 columns: rows 0..3 draw classes 0..3
    assert state.fixed_labels.tolist() == [r for r in range(4) for _ in range(5)]
    assert set(load_file(str(run_dir / "generator.safetensors"))) >= {"embed.weight"}


def test_num_classes_must_match_the_dataset(tmp_path, tiny):
    with pytest.raises(ConfigError, match="model.num_classes must be 0 .* or 10"):
        run(tmp_path, tiny, "bad", "model.num_classes=5", epochs=1)


@pytest.mark.parametrize("extra", [
    ["model.num_classes=10", "train.ema_halflife=100", *DCGAN],
    ["loss.name='wgan-gp'", "loss.label_smoothing=0", "loss.n_critic=2", "loss.r1_gamma=1.0", "loss.r1_every=3", *DCGAN],
    ["model.num_classes=10", "model.spectral_norm=true", "loss.name='hinge'", "loss.label_smoothing=0", "train.precision='bf16'"],
    ["model.arch='resnet'", "model.channels=16", "model.depth=1", "model.num_classes=10", "train.ema_halflife=100",
     "loss.name='rpgan'", "loss.label_smoothing=0", "loss.r1_gamma=1.0", "loss.r1_every=1", "loss.r2_gamma=1.0",
     "loss.r2_every=1"],
    ["model.hidden=32", "model.hidden_d=16", "model.depth=3", "model.dropout_d=0.3"],
    CLS,
], ids=["cond-ema", "wgan-r1", "mlp-cond-sn-bf16", "resnet-cond-ema-rpgan-r1-r2", "mlp-depth3-dropout", "dcgan-cls-ms"])
def test_resume_is_exact_with_every_option(tmp_path, tiny, extra):
    whole, _ = run(tmp_path, tiny, "whole", *extra, epochs=3)
    run(tmp_path, tiny, "split", *extra, epochs=1)
    resumed, _ = run(tmp_path, tiny, "split", *extra, epochs=3, resume=True)
    for name in ("G", "D", "G_ema"):
        a, b = getattr(whole, name), getattr(resumed, name)
        assert (a is None) == (b is None) and (a is None or same(a, b)), name
    assert whole.step == resumed.step
