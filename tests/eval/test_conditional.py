"""Metrics for class-conditional generators: the pure functions against hand-computed
values, then the evaluation of generators that follow or ignore their labels, on the
tiny dataset (a bar whose position encodes the label), the table and the report."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from mnistgan.cli import format_table
from mnistgan.data.datasets import to_unit_range
from mnistgan.data.sources import Sources
from mnistgan.errors import ConfigError
from mnistgan.eval import evaluate as EV
from mnistgan.eval.conditional import TooFewSamples, conditional_accuracy, per_class_fid
from mnistgan.eval.evaluator import EvaluatorRecipe, build_evaluator
from mnistgan.eval.report import render_report
from mnistgan.models import Generator
from mnistgan.sample import sample_uint8
from tests.eval.test_evaluate import CopyGenerator
from tests.eval.test_report import evaluation, make_run


def bars(labels: torch.Tensor, seed: int) -> torch.Tensor:
    """uint8 [n, 28, 28] drawn like tests/conftest.py's tiny dataset: a bar at rows 2+2y..4+2y."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 30, (len(labels), 28, 28)).astype(np.uint8)
    for i, y in enumerate(labels.tolist()):
        images[i, 2 + 2 * y : 5 + 2 * y, 4:24] = 255
    return torch.from_numpy(images)


class BarGenerator(Generator):
    """A conditional generator with the planned interface (num_classes, sample(digit=),
    labels()). follows=False: it draws a random class whatever it is asked for."""

    def __init__(self, follows: bool = True) -> None:
        super().__init__()
        self.z_dim, self.num_classes, self.follows = 4, 10, follows
        self.anchor = torch.nn.Parameter(torch.zeros(1))  # so the module has a device

    def labels(self, n: int, digit: int | None = None) -> torch.Tensor:
        return torch.arange(n) % self.num_classes if digit is None else torch.full((n,), digit)

    def sample(self, n: int, seed: int = 0, digit: int | None = None, batch_size: int = 1000) -> torch.Tensor:
        drawn = self.labels(n, digit)
        if not self.follows:
            drawn = torch.randint(0, self.num_classes, (n,), generator=torch.Generator().manual_seed(seed + 1))
        return to_unit_range(bars(drawn, seed)).unsqueeze(1)  # [n, 1, 28, 28] in [-1, 1]


@pytest.fixture
def setup(tiny, tmp_path):
    _, folder = tiny
    src = Sources(data_dir=folder, cache_dir=tmp_path / "cache", download=False)
    return src, build_evaluator(EvaluatorRecipe(dataset="tiny", epochs=4, batch_size=50, max_shift=0), src)


# --- the pure functions ----------------------------------------------------------------


def test_conditional_accuracy_is_the_share_whose_argmax_is_the_label():
    probs = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    assert conditional_accuracy(probs, [0, 0, 0, 1]) == pytest.approx(3 / 4)
    assert conditional_accuracy(probs, torch.tensor([1, 0, 1, 0])) == 0.0
    assert conditional_accuracy(probs.numpy(), np.array([0, 1, 0, 1])) == 1.0


def test_conditional_accuracy_refuses_bad_labels():
    probs = torch.tensor([[0.9, 0.1], [0.2, 0.8]])
    with pytest.raises(ValueError, match="3 labels for 2 samples"):
        conditional_accuracy(probs, [0, 1, 1])
    with pytest.raises(ValueError, match=r"must lie in 0\.\.1, got 0\.\.2"):
        conditional_accuracy(probs, [0, 2])
    with pytest.raises(ValueError, match="integer class indices"):
        conditional_accuracy(probs, [0.0, 1.0])


def test_per_class_fid_matches_hand_computed_values():
    # 1-d features: FID = (mu_g - mu_r)^2 + (sd_g - sd_r)^2, unbiased variances.
    # class 0: gen {0, 2} (mean 1, var 2) vs real {1, 3} (mean 2, var 2): 1 + 0 = 1
    # class 1: gen {0, 2} (mean 1, var 2) vs real {0, 4} (mean 2, var 8): 1 + (sqrt2 - 2 sqrt2)^2 = 3
    # class 2: the same set on both sides: 0. Labels interleaved, so grouping is tested too.
    gen = torch.tensor([[0.0], [0.0], [2.0], [5.0], [2.0], [7.0]])
    gen_labels = torch.tensor([0, 1, 0, 2, 1, 2])
    real = torch.tensor([[7.0], [4.0], [1.0], [0.0], [3.0], [5.0]])
    real_labels = torch.tensor([2, 1, 0, 1, 0, 2])
    fids = per_class_fid(gen, gen_labels, real, real_labels, num_classes=3)
    assert fids == pytest.approx([1.0, 3.0, 0.0], abs=1e-9)


def test_per_class_fid_names_a_class_with_too_few_samples():
    feats, labels = torch.randn(6, 3, generator=torch.Generator().manual_seed(0)), torch.tensor([0, 0, 0, 1, 1, 1])
    with pytest.raises(TooFewSamples, match="class 1 has 1 generated sample"):
        per_class_fid(feats[:4], labels[:4], feats, labels, num_classes=2)
    with pytest.raises(ValueError, match="class 2 has 0 generated sample"):
        per_class_fid(feats, labels, feats, labels, num_classes=3)
    with pytest.raises(ValueError, match="class 0 has 1 real sample"):
        per_class_fid(feats, labels, feats[2:], labels[2:], num_classes=2)


# --- generators that follow or ignore their labels -----------------------------------------


def test_accuracy_is_near_1_when_g_follows_its_labels_and_near_a_tenth_when_not(setup):
    _, ev = setup
    n = 1000
    for follows, low, high in ((True, 0.95, 1.0), (False, 0.06, 0.14)):
        G = BarGenerator(follows)
        _, probs = ev.embed(torch.from_numpy(sample_uint8(G, n, seed=3)))  # softmax [n, 10]
        assert low <= conditional_accuracy(probs, G.labels(n)) <= high, follows


def test_evaluate_adds_the_conditional_section(setup):
    src, ev = setup
    good, _ = EV.evaluate(BarGenerator(True), ev, src, n=100)
    bad, _ = EV.evaluate(BarGenerator(False), ev, src, n=100)
    cond, wrong = good["conditional"], bad["conditional"]
    assert set(cond) == {"accuracy", "floor_accuracy", "per_class_fid", "per_class_floor"}
    assert len(cond["per_class_fid"]) == len(cond["per_class_floor"]) == 10
    assert all(math.isfinite(v) and v >= 0 for v in cond["per_class_fid"] + cond["per_class_floor"])
    assert cond["accuracy"] > 0.9 and cond["floor_accuracy"] > 0.9 and wrong["accuracy"] < 0.3
    # the floor depends on the real data only; a G that mixes the classes is far from each one
    assert wrong["per_class_floor"] == cond["per_class_floor"]
    assert np.mean(wrong["per_class_fid"]) > 3 * np.mean(cond["per_class_fid"])
    assert max(cond["per_class_floor"]) < min(wrong["per_class_fid"])  # real test, grouped by true label
    json.dumps(good)  # metrics.json must hold it

    table = format_table(good)
    assert f"conditional accuracy {cond['accuracy']:.2%} (real {cond['floor_accuracy']:.2%})" in table
    assert f"0: {cond['per_class_fid'][0]:.4g} / {cond['per_class_floor'][0]:.4g}" in table


def test_an_unconditional_generator_has_no_conditional_section(setup):
    src, ev = setup
    G = CopyGenerator(bars(torch.arange(100) % 10, 0))
    assert G.num_classes == 0
    result, _ = EV.evaluate(G, ev, src, n=40)
    assert result["conditional"] is None
    assert "conditional accuracy" not in format_table(result)
    light = EV.evaluate_light(G, ev, src, n=40)
    assert "cond_accuracy" not in light["eval"] and "cond_accuracy" not in light["floor"]


def test_light_evaluation_has_the_conditional_accuracy_beside_its_floor(setup):
    src, ev = setup
    light = EV.evaluate_light(BarGenerator(True), ev, src, n=100)
    assert light["eval"]["cond_accuracy"] > 0.9 and light["floor"]["cond_accuracy"] > 0.9
    wrong = EV.evaluate_light(BarGenerator(False), ev, src, n=100)
    assert wrong["eval"]["cond_accuracy"] < 0.3 and wrong["floor"] == light["floor"]


def test_too_few_samples_per_class_is_a_config_error(setup):
    src, ev = setup
    with pytest.raises(ConfigError, match=r"class 0 has 1 generated sample.*raise -n \(now 10\)"):
        EV.evaluate(BarGenerator(True), ev, src, n=10)  # one sample of each class


# --- the HTML report ------------------------------------------------------------------------


def test_report_shows_the_conditional_section_only_when_present(tmp_path):
    run = make_run(tmp_path)
    assert 'id="conditional"' not in render_report(run)
    metrics = evaluation() | {"conditional": {"accuracy": 0.9512, "floor_accuracy": 0.9934,
                                              "per_class_fid": [1.5 + i for i in range(10)],
                                              "per_class_floor": [0.25 + i / 100 for i in range(10)]}}
    (run / "metrics.json").write_text(json.dumps(metrics))
    text = render_report(run)
    assert 'id="conditional"' in text and "95.12%" in text and "99.34%" in text
    assert "<th>class</th><th>FID</th><th>real floor</th>" in text
    assert '<tr><td>3</td><td class="num">4.5</td><td class="num">0.28</td></tr>' in text
