"""The evaluation protocol end to end on the tiny dataset: floor, caching, alarms."""

from __future__ import annotations

import pytest
import torch

from mnistgan.data.datasets import to_unit_range
from mnistgan.data.sources import Sources, load_split
from mnistgan.errors import ConfigError
from mnistgan.eval import evaluate as EV
from mnistgan.eval.evaluator import EvaluatorRecipe, build_evaluator
from mnistgan.models import Generator, MLPDiscriminator


class CopyGenerator(Generator):
    """Returns stored images in turn, whatever the noise: a generator that copies."""

    def __init__(self, images: torch.Tensor) -> None:
        super().__init__()
        self.z_dim = 4
        self.images = to_unit_range(images).unsqueeze(1)
        self.anchor = torch.nn.Parameter(torch.zeros(1))  # so the module has a device

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        idx = torch.arange(z.shape[0]) % self.images.shape[0]
        return self.images[idx]


@pytest.fixture
def setup(tiny, tmp_path):
    _, folder = tiny
    src = Sources(data_dir=folder, cache_dir=tmp_path / "cache", download=False)
    ev = build_evaluator(EvaluatorRecipe(dataset="tiny", epochs=4, batch_size=50, max_shift=0), src)
    return src, ev, load_split("tiny", "train", src)


def test_full_evaluation_has_every_section_beside_the_floor(setup):
    src, ev, train = setup
    G = CopyGenerator(train.images[100:])
    D = MLPDiscriminator(hidden=8)
    result, pairs = EV.evaluate(G, ev, src, n=50, D=D)
    assert set(result["metrics"]) == set(EV.METRICS)
    for m in result["metrics"].values():
        assert {"label", "value", "real", "better"} <= set(m)
    assert result["discriminator"]["roc_auc"] is not None
    assert pairs.ndim == 2 and pairs.dtype.name == "uint8"
    # Real images drawn from the training set score near the real floor on FID.
    fid = result["metrics"]["fid_lenet"]
    assert fid["value"] < 5 * fid["real"] + 1


def test_a_copying_generator_is_flagged_memorised(setup):
    src, ev, train = setup
    result, _ = EV.evaluate(CopyGenerator(train.images), ev, src, n=50)
    assert result["memorisation"]["memorised"] and result["memorisation"]["ratio"] < 0.1


def test_a_single_class_generator_is_flagged_collapsed(setup):
    src, ev, train = setup
    ones = train.images[train.labels == 1]
    result, _ = EV.evaluate(CopyGenerator(ones), ev, src, n=50)
    assert result["classes"]["collapsed"] and result["classes"]["classes_covered"] == 1
    assert not result["classes"]["real"]["collapsed"]
    fid_one = result["metrics"]["fid_lenet"]["value"]
    diverse, _ = EV.evaluate(CopyGenerator(train.images[100:]), ev, src, n=50)
    assert fid_one > diverse["metrics"]["fid_lenet"]["value"]


def test_floor_is_cached(setup, monkeypatch):
    src, ev, train = setup
    EV.real_reference(ev, 40, 0, src)
    calls = []
    monkeypatch.setattr(EV, "compute", lambda pair, names: calls.append(names) or {})
    ref = EV.real_reference(ev, 40, 0, src)
    assert calls == [] and set(ref.floor) == set(EV.METRICS)


def test_a_damaged_cache_is_recomputed(setup):
    src, ev, _ = setup
    first = EV.real_reference(ev, 40, 0, src)
    for f in (src.cache_dir / "real").iterdir():
        f.write_bytes(b"garbage")
    again = EV.real_reference(ev, 40, 0, src)
    assert again.floor == first.floor and torch.equal(again.ref.feats, first.ref.feats)


def test_n_larger_than_the_test_split_is_refused(setup):
    src, ev, _ = setup
    with pytest.raises(ConfigError, match="-n must be between"):
        EV.real_reference(ev, 101, 0, src)


def test_light_evaluation_keeps_the_best_checkpoint(setup, tmp_path):
    from mnistgan.config import load_config
    from mnistgan.train.callbacks import KeepBest
    from mnistgan.train.loop import train
    from mnistgan.runfolder import read_metrics

    src, ev, _ = setup
    cfg = load_config(overrides=["data.name='tiny'", "train.batch_size=50", "train.epochs=2", "train.grid_size=4"])
    run = tmp_path / "run"
    run.mkdir()
    train(cfg, run, sources=src, on_epoch_end=KeepBest(EV.light_scorer("tiny", src, n=40, get=lambda name, s: ev), 1))

    evals = [r for r in read_metrics(run) if "eval" in r]
    assert [r["epoch"] for r in evals] == [1, 2]
    assert set(evals[0]["eval"]) == set(EV.LIGHT) | {"classes_covered"} == set(evals[0]["floor"])
    best = min(evals, key=lambda r: r["eval"]["fid_lenet"])
    assert evals[-1]["best"]["epoch"] == best["epoch"]
    assert (run / "checkpoints" / "best.pt").is_file() and (run / "generator-best.safetensors").is_file()


def test_the_pixel_search_finds_the_float64_nearest_image():
    """memorisation's search (float32 blocks, then float64) against brute force in float64, on
    uint8 images of 1 and 3 channels, across block edges; a copy is found at distance 0."""
    import numpy as np

    g = torch.Generator().manual_seed(0)
    for shape in ((28, 28), (3, 28, 28)):
        ref = torch.randint(0, 256, (301, *shape), dtype=torch.uint8, generator=g)
        q = torch.randint(0, 256, (40, *shape), dtype=torch.uint8, generator=g)
        q[0] = ref[257]
        exact = (EV.pixels(q).double()[:, None] - EV.pixels(ref).double()[None]).square().sum(2).sqrt()
        d, i = EV.nearest_pixels(q, ref, chunk=64)
        np.testing.assert_array_equal(i, exact.argmin(1).numpy())
        np.testing.assert_allclose(d, exact.min(1).values.numpy(), rtol=1e-12)
        assert i[0] == 257 and d[0] == 0.0


def test_ds_report_asks_at_most_full_n_images_per_side(setup, monkeypatch):
    """Stacked MNIST evaluates 26,000 samples; D's report stops at FULL_N of each side."""
    src, ev, train = setup
    monkeypatch.setattr(EV, "FULL_N", 20)
    seen = []

    class CountingD(MLPDiscriminator):
        def forward(self, x, y=None):
            seen.append(len(x))
            return super().forward(x, y)

    result, _ = EV.evaluate(CopyGenerator(train.images[100:]), ev, src, n=50, D=CountingD(hidden=8))
    assert result["discriminator"]["n"] == 20 and sum(seen) == 3 * 20


def test_ds_memorisation_is_measured_on_the_images_it_was_shown(setup):
    """A D that scores exactly the images of a data.subset run higher: its train-test AUC is 1
    against the subset it was shown, and only partly so against the whole split. The scores
    (30 and 20) both round to probability 1 in float32: the report must tell them apart."""
    from mnistgan.data.subset import subset_rows

    src, ev, train = setup
    subset = (0.5, 0)
    rows = subset_rows(train.labels, *subset)
    shown = to_unit_range(train.images[rows]).flatten(1)

    class MemorisingD(MLPDiscriminator):
        def forward(self, x, y=None):
            seen = (x.flatten(1)[:, None, :] == shown[None]).all(-1).any(-1)
            return torch.where(seen, 30.0, 20.0).unsqueeze(1)

    G, D = CopyGenerator(train.images[100:]), MemorisingD(hidden=8)
    on_subset, _ = EV.evaluate(G, ev, src, n=50, D=D, subset=subset)
    on_whole, _ = EV.evaluate(G, ev, src, n=50, D=D)
    assert on_subset["discriminator"]["train_test_auc"] == 1.0
    assert 0.6 < on_whole["discriminator"]["train_test_auc"] < 0.9
