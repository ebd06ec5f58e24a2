"""The fast paths on the CPU: --compile trains the eager run (to float rounding), k steps
per call (the logic a CUDA graph captures, run eagerly) train the per-step run bitwise
and resume exactly, and --cuda-graphs without a GPU is a one-line error. Their GPU side
is tests/train/test_cuda.py."""

from __future__ import annotations

import json
import os
import signal

import pytest
import torch

from mnistgan.cli import main
from mnistgan.config import load_config
from mnistgan.data.sources import Sources
from mnistgan.io import state as checkpoint
from mnistgan.train.fast import FastPath
from mnistgan.train.loop import train
from mnistgan.train.stop import Stopped, StopRequest

SETTINGS = ["data.name='tiny'", "train.batch_size=50", "train.grid_size=16", "eval.every=0", "model.hidden=32",
            "train.epochs=1"]


def test_compiled_modules_train_the_eager_run_to_rounding(tmp_path, tiny):
    cfg = load_config(overrides=SETTINGS)
    src = Sources(data_dir=tiny[1], download=False)
    runs = {}
    for name, fast in (("eager", FastPath()), ("compiled", FastPath(compile=True))):
        (tmp_path / name).mkdir()
        runs[name] = train(cfg, tmp_path / name, sources=src, fast=fast)
    eager, compiled = runs["eager"], runs["compiled"]
    assert compiled.step == eager.step == 4
    for (name, a), b in zip(eager.G.state_dict().items(), compiled.G.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-5), name  # inductor fuses, so the last bits may differ
    assert not isinstance(compiled.G, torch._dynamo.eval_frame.OptimizedModule)  # the raw module holds the state


def test_cuda_graphs_need_a_gpu(tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert main(["train", "--cuda-graphs", "--outdir", str(tmp_path)]) == 2
    assert "--cuda-graphs needs a CUDA device (--device cuda)" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


# 4 steps per epoch, a metrics line every 3: calls of 3, 1, 2, 2, 1, 3, ... steps.
K_SETTINGS = ["data.name='tiny'", "train.batch_size=50", "train.grid_size=16", "eval.every=0", "train.log_every=3",
              "train.checkpoint_every_s=0", "model.hidden=32"]
K3 = FastPath(steps_per_graph=3)
VARIANTS = {
    "classic": ("classic", []),
    "dcgan-cond, EMA, bf16": ("dcgan-cond", ["model.channels=4", "train.ema_rampup=0.5"]),
    "hinge, lazy R1, 2 D steps": ("classic", ["loss.name='hinge'", "loss.label_smoothing=0", "loss.r1_gamma=1",
                                              "loss.r1_every=2", "loss.n_critic=2", "train.batch_size=25"]),
}


def _k_run(tmp_path, tiny, name, epochs, preset, extra, fast=FastPath(), resume=False, stop=None):
    cfg = load_config(preset, overrides=[*K_SETTINGS, f"train.epochs={epochs}", *extra])
    (tmp_path / name).mkdir(exist_ok=True)
    return train(cfg, tmp_path / name, sources=Sources(data_dir=tiny[1], download=False), fast=fast, resume=resume,
                 stop=stop)


def _same_run(a, b, dir_a, dir_b):
    nets = [("G", a.G, b.G), ("D", a.D, b.D)] + ([("G_ema", a.G_ema, b.G_ema)] if a.G_ema is not None else [])
    for name, x, y in nets:
        for (k, u), v in zip(x.state_dict().items(), y.state_dict().values()):
            assert torch.equal(u, v), f"{name}.{k}"
    for opt_a, opt_b in ((a.opt_g, b.opt_g), (a.opt_d, b.opt_d)):
        for i, st in opt_a.state_dict()["state"].items():
            for k, u in st.items():
                assert torch.equal(u, opt_b.state_dict()["state"][i][k])
    assert (a.epoch, a.step) == (b.epoch, b.step)
    assert torch.equal(a.noise_gen.get_state(), b.noise_gen.get_state())
    rows = lambda d: [{k: v for k, v in json.loads(x).items() if k != "img_per_s"}  # noqa: E731
                      for x in (d / "metrics.jsonl").read_text().splitlines() if '"start"' not in x]  # one per session
    assert rows(dir_a) == rows(dir_b)


@pytest.mark.parametrize("variant", VARIANTS)
def test_k_steps_per_call_train_the_per_step_run_bitwise(tmp_path, tiny, variant):
    """The k-step logic (rows gathered on the device at a device-side counter, noise from
    the run's generator, the EMA weight from a device buffer) is the per-step loop's,
    op for op: the same weights, Adam states, generator states and metrics lines."""
    preset, extra = VARIANTS[variant]
    one = _k_run(tmp_path, tiny, "one", 3, preset, extra)
    k3 = _k_run(tmp_path, tiny, "k3", 3, preset, extra, fast=K3)
    _same_run(one, k3, tmp_path / "one", tmp_path / "k3")


def test_k_steps_resume_exactly_from_epoch_ends_and_a_signal_mid_call(tmp_path, tiny, monkeypatch):
    """A resume (the generator states come from the checkpoint; the device-side counter
    and shuffle are rebuilt from them) continues the k-step run bitwise, after an epoch
    end and after a signal that lands inside a call (saved at the next call's start)."""
    from mnistgan.train import fast  # KStepFeed calls train_step through this module

    preset, extra = VARIANTS["dcgan-cond, EMA, bf16"]
    whole = _k_run(tmp_path, tiny, "whole", 4, preset, extra, fast=K3)
    _k_run(tmp_path, tiny, "split", 1, preset, extra, fast=K3)
    real, calls = fast.train_step, [0]

    def step_then_signal(*args, **kw):
        calls[0] += 1
        if calls[0] == 2:  # inside the resumed run's first call of 3 steps (epoch 2's steps 1-3)
            os.kill(os.getpid(), signal.SIGINT)
        return real(*args, **kw)

    monkeypatch.setattr(fast, "train_step", step_then_signal)
    stop = StopRequest()
    with stop.installed(), pytest.raises(Stopped) as e:
        _k_run(tmp_path, tiny, "split", 4, preset, extra, fast=K3, resume=True, stop=stop)
    assert e.value.saved.endswith("state-000001-step000000007.pt")  # after the call: 4 + 3 steps
    assert checkpoint.load_state(checkpoint.state_path(tmp_path / "split", 1, 7))["progress"]["batch"] == 3
    monkeypatch.setattr(fast, "train_step", real)
    resumed = _k_run(tmp_path, tiny, "split", 4, preset, extra, fast=K3, resume=True)
    _same_run(whole, resumed, tmp_path / "whole", tmp_path / "split")


def test_steps_per_graph_is_checked(tmp_path, capsys):
    assert main(["train", "--steps-per-graph", "0", "--outdir", str(tmp_path)]) == 2
    assert "--steps-per-graph must be between 1 and 1000, got 0" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
