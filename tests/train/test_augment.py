"""Augmentation that D sees (train.augment): each transform, ADA's p, exact resume, and
what refuses it."""

from __future__ import annotations

import json
from contextlib import nullcontext

import pytest
import torch
from torch import nn

from mnistgan.config import load_config
from mnistgan.data.sources import Sources
from mnistgan.errors import ConfigError
from mnistgan.tensors import as_input
from mnistgan.train.augment import ADA_INTERVAL, POLICIES, Augment, AugmentedD, build_augment, geometric
from mnistgan.train.fast import FastPath
from mnistgan.train.loop import check_config, train
from tests.conftest import tiny_arrays

TRANSFORMS = POLICIES["ada"]
# Where each transform's output lies for inputs in [-1, 1]: the geometric ones and cutout
# interpolate or fill with the background; brightness shifts by up to 0.5; contrast scales
# the deviation from the mean by up to 1.5.
RANGES = {"translation": 1.0, "rotation": 1.0, "scaling": 1.0, "cutout": 1.0, "brightness": 1.5, "contrast": 2.0}


def digits(n: int = 16) -> torch.Tensor:
    return as_input(torch.from_numpy(tiny_arrays(n, 0)[0]))  # [n, 1, 28, 28] in [-1, 1]


def pipe(name: str, p: float, seed: int = 0) -> Augment:
    return Augment((name,), p, torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("name", TRANSFORMS)
def test_each_transform_keeps_the_shape_and_range_and_is_seeded(name):
    x = digits()
    out = pipe(name, 1.0)(x)
    assert out.shape == x.shape and out.dtype == x.dtype
    assert out.isfinite().all() and out.abs().max() <= RANGES[name] + 1e-5
    assert torch.equal(out, pipe(name, 1.0)(x))  # the same generator state: the same draws
    assert not torch.equal(out, pipe(name, 1.0, seed=1)(x))


@pytest.mark.parametrize("name", TRANSFORMS)
def test_each_transform_changes_images_at_p_1_some_at_p_half_and_none_at_p_0(name):
    x = digits(64)
    changed = (pipe(name, 1.0)(x) - x).abs().flatten(1).amax(1)  # [64] per image
    assert (changed > 0.05).sum() >= 48  # a draw can be near the identity: most images change
    half = (pipe(name, 0.5)(x) - x).abs().flatten(1).amax(1)
    assert 16 <= (half > 0.05).sum() <= 48 and 16 <= (half < 1e-5).sum() <= 48  # the others pass untouched
    assert torch.equal(pipe(name, 0.0)(x), x)


@pytest.mark.parametrize("name", TRANSFORMS)
def test_gradients_flow_through_each_transform_to_G(name):
    torch.manual_seed(0)
    G = nn.Sequential(nn.Linear(8, 784), nn.Tanh(), nn.Unflatten(1, (1, 28, 28)))

    class D(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 1))

        def forward(self, x, y=None):
            return self.net(x).squeeze(1)

    score = AugmentedD(D(), pipe(name, 1.0))(G(torch.randn(16, 8))).sum()
    score.backward()
    for param in G.parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0


def test_translation_moves_by_whole_pixels_and_the_background_fills_in():
    x = digits(2)
    moved = geometric(x, torch.tensor([[2.0, 0.0], [0.0, -1.0]]), torch.zeros(2), torch.zeros(2))
    right = torch.full_like(x[0], -1.0)
    right[..., 2:] = x[0, ..., :-2]
    up = torch.full_like(x[1], -1.0)
    up[:, :-1] = x[1, :, 1:]
    assert torch.allclose(moved[0], right, atol=1e-5) and torch.allclose(moved[1], up, atol=1e-5)


def test_cutout_blanks_a_square_of_half_the_side():
    x = torch.ones(1, 1, 28, 28)
    out = pipe("cutout", 1.0)(x)
    assert out.unique().tolist() == [-1.0, 1.0]
    assert (out == -1).sum() <= 14 * 14 and (out == -1).any()


def ada(kimg: int = 1, batch: int = 100) -> Augment:
    aug = build_augment("ada", 1.0, 0.6, kimg, batch, seed=0, device=torch.device("cpu"))
    assert aug is not None and float(aug.p) == 0.0  # ada starts at p = 0
    return aug


def test_ada_raises_p_while_D_overfits_and_lowers_it_otherwise():
    aug, rate = ada(), 100 * ADA_INTERVAL / 1000  # 0.4 per interval at kimg=1, batch 100
    for _ in range(ADA_INTERVAL - 1):
        aug.adapt(torch.tensor(1.0))  # D sure of every real image: the signal 1 > target 0.6
    assert float(aug.p) == 0.0  # p moves once per interval
    aug.adapt(torch.tensor(1.0))
    assert float(aug.p) == pytest.approx(rate)
    for _ in range(2 * ADA_INTERVAL):
        aug.adapt(torch.tensor(1.0))
    assert float(aug.p) == 1.0  # never past 1
    for _ in range(ADA_INTERVAL):
        aug.adapt(torch.tensor(0.2))  # D unsure: below the target
    assert float(aug.p) == pytest.approx(1 - rate)
    assert aug.log() == {"augment_p": pytest.approx(1 - rate), "ada_signal": pytest.approx(0.2)}
    for _ in range(4 * ADA_INTERVAL):
        aug.adapt(torch.tensor(-1.0))
    assert float(aug.p) == 0.0  # never below 0
    assert build_augment("diffaug", 0.5, 0.6, 1, 100, 0, torch.device("cpu")).log() == {}  # fixed p: not logged


def test_the_heldout_signal_is_ds_train_test_auc_and_moves_p():
    """HeldOut's signal: how often D scores a training real above a held-out one. A D that
    knows the training images by heart gives 1 and raises p; a D that scores by anything
    else, however sure it is of reals, gives about 0.5 and lowers it."""
    from mnistgan.train.augment import HeldOut

    train_x, held_u8 = digits(64), torch.from_numpy(tiny_arrays(64, 1)[0])
    known = train_x.flatten(1)

    class Memorising(nn.Module):
        def forward(self, x, y=None):  # a large score on every image: r_t would say "overfitting"
            return 100.0 + (torch.cdist(x.flatten(1), known) < 0.1).any(-1).float()[:, None]

    class Fair(nn.Module):
        def forward(self, x, y=None):
            return 100.0 + x.mean((1, 2, 3))[:, None]  # brightness: no memory of the training images

    def run(D):
        aug = Augment(POLICIES["ada"], 0.0, torch.Generator().manual_seed(0), target=0.6, rate=0.1)
        aug.heldout = HeldOut(held_u8, torch.zeros(64, dtype=torch.long))  # at p = 0: the images untransformed
        signals = [aug.heldout.signal(D, aug, train_x, None, nullcontext) for _ in range(8)]
        for _ in range(ADA_INTERVAL):
            aug.adapt(torch.tensor(-1.0), D, train_x, None)  # sign_real is ignored
        return torch.stack(signals), float(aug.p), aug.log()["ada_signal"]

    signals, p, logged = run(Memorising())
    assert torch.all(signals == 1.0) and p == pytest.approx(0.1) and logged == 1.0
    signals, p, logged = run(Fair())
    assert 0.3 < float(signals.mean()) < 0.7 and p == 0.0 and logged < 0.6


# --- in training ------------------------------------------------------------------------

SETTINGS = ["data.name='tiny'", "train.batch_size=50", "train.log_every=3", "train.grid_size=16", "eval.every=0"]


def _run(tmp_path, tiny, name, *extra, resume=False):
    run_dir = tmp_path / name
    run_dir.mkdir(exist_ok=True)
    cfg = load_config("classic", overrides=[*SETTINGS, "train.epochs=3", *extra])
    return train(cfg, run_dir, sources=Sources(data_dir=tiny[1], download=False), resume=resume), run_dir


def _lines(run_dir):
    """metrics.jsonl without speeds, and without the "start" lines (a resumed run has one more)."""
    rows = [{k: v for k, v in json.loads(line).items() if k != "img_per_s"}
            for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if "start" not in r]


@pytest.mark.parametrize("augment", [["train.augment=ada", "train.ada_signal=train", "train.ada_kimg=1",
                                      "loss.r1_gamma=1", "loss.r1_every=2"],
                                     ["train.augment=ada", "train.ada_kimg=1", "train.ada_target=0.1"],
                                     ["train.augment=diffaug", "train.augment_p=0.5"]])
def test_resume_with_augmentation_is_exact(tmp_path, tiny, monkeypatch, augment):
    from mnistgan.train import fast  # the loop calls train_step through fast.make_step

    whole, whole_dir = _run(tmp_path, tiny, "whole", *augment)
    none, _ = _run(tmp_path, tiny, "none")
    assert not torch.equal(whole.D.net[0].weight, none.D.net[0].weight)  # D saw other images
    real, calls = fast.train_step, [0]

    def crash_at_step_7(*args, **kw):  # inside epoch 2, and inside an ADA interval
        calls[0] += 1
        if calls[0] == 7:
            raise RuntimeError("power cut")
        return real(*args, **kw)

    monkeypatch.setattr(fast, "train_step", crash_at_step_7)
    with pytest.raises(RuntimeError, match="power cut"):  # a mid-epoch state before every step
        _run(tmp_path, tiny, "split", *augment, "train.checkpoint_every_s=0.00006", "train.keep_checkpoints=3")
    monkeypatch.setattr(fast, "train_step", real)
    resumed, split_dir = _run(tmp_path, tiny, "split", *augment, resume=True)
    for a, b in ((whole.G, resumed.G), (whole.D, resumed.D)):
        for x, y in zip(a.state_dict().values(), b.state_dict().values()):
            assert torch.equal(x, y)
    assert torch.equal(whole.augment.p, resumed.augment.p)
    assert _lines(whole_dir) == _lines(split_dir)
    if "train.augment=ada" in augment:
        ps = [line["augment_p"] for line in _lines(whole_dir) if "augment_p" in line]
        assert ps[-1] > 0 and len(set(ps)) > 1  # it moved, and metrics.jsonl has it


def test_the_report_plots_ada_p(tmp_path, tiny):
    pytest.importorskip("matplotlib")
    from mnistgan.eval.report import render_sections

    _, run_dir = _run(tmp_path, tiny, "ada", "train.augment=ada", "train.ada_signal=train", "train.ada_kimg=1")
    html = render_sections(run_dir, ("d_outputs",))["d_outputs"]
    assert 'alt="augmentation probability p against step"' in html and "the mean sign of its scores" in html
    _, heldout = _run(tmp_path, tiny, "heldout", "train.augment=ada")
    assert "above a held-out test image" in render_sections(heldout, ("d_outputs",))["d_outputs"]
    _, plain = _run(tmp_path, tiny, "plain")
    assert "augmentation probability" not in render_sections(plain, ("d_outputs",))["d_outputs"]


def test_what_refuses_augmentation_says_so_in_one_line(tiny):
    with pytest.raises(ConfigError, match="--cuda-graphs does not combine with train.augment"):
        FastPath(cuda_graphs=True).check(torch.device("cuda"), augment="ada")
    with pytest.raises(ConfigError, match="train.augment_p is diffaug's fixed probability"):
        load_config(overrides=["train.augment=ada", "train.augment_p=0.5"])
    with pytest.raises(ConfigError, match="train.augment must be one of none, diffaug, ada, got 'flip'"):
        load_config(overrides=["train.augment=flip"])
    with pytest.raises(ConfigError, match="train.ada_signal must be one of heldout, train, got 'test'"):
        load_config(overrides=["train.augment=ada", "train.ada_signal=test"])
    ada = [*SETTINGS, "loss.label_smoothing=0", "train.augment=ada"]
    wgan = load_config(overrides=[*ada, "loss.name=wgan-gp", "train.ada_signal=train"])
    with pytest.raises(ConfigError, match="set train.ada_signal=heldout, or use train.augment=diffaug with wgan-gp"):
        check_config(wgan)
    check_config(load_config(overrides=[*ada, "loss.name=rpgan", "train.ada_signal=train"]))  # its relative sign
    check_config(load_config(overrides=[*ada, "loss.name=wgan-gp"]))  # held-out: a ranking needs no sign


def test_ada_runs_saved_before_the_held_out_signal_keep_r_t():
    """A config.json (or checkpoint) from before train.ada_signal resumes on the signal it
    trained with; a new ada run gets the held-out one."""
    from mnistgan.config import from_dict

    assert from_dict({"train": {"augment": "ada", "ada_target": 0.6}}).train.ada_signal == "train"
    assert from_dict({"train": {"augment": "ada", "ada_signal": "heldout"}}).train.ada_signal == "heldout"
    assert load_config(overrides=["train.augment=ada"]).train.ada_signal == "heldout"
