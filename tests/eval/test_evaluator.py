"""The evaluator classifier: augmentation, determinism, shipped weights, caching, tamper checks, accuracy."""

from __future__ import annotations

import dataclasses
import hashlib
import shutil

import pytest
import torch

from mnistgan.data.sources import Sources, load_split
from mnistgan.errors import CheckpointError
from mnistgan.eval import evaluator as E

from ..conftest import SHARED_MNIST


def test_random_shift_moves_each_image_within_bounds():
    x = torch.full((50, 1, 28, 28), -1.0)
    x[:, 0, 14, 14] = 1.0
    y = E.random_shift(x, 2, torch.Generator().manual_seed(0))
    assert y.shape == x.shape
    pos = [divmod(int(i), 28) for i in y.view(50, -1).argmax(1)]
    assert all(abs(r - 14) <= 2 and abs(c - 14) <= 2 for r, c in pos)
    assert len(set(pos)) > 5  # offsets differ per image
    assert torch.equal(E.random_shift(x, 0, torch.Generator()), x)


def _recipe() -> E.EvaluatorRecipe:
    return E.EvaluatorRecipe(dataset="tiny", epochs=4, batch_size=50, max_shift=0)  # shifts would mix the bar classes


def test_build_is_deterministic_cached_and_accurate(tiny, tmp_path, monkeypatch):
    _, folder = tiny
    a = E.build_evaluator(_recipe(), Sources(data_dir=folder, cache_dir=tmp_path / "a", download=False))
    b = E.build_evaluator(_recipe(), Sources(data_dir=folder, cache_dir=tmp_path / "b", download=False))
    assert a.sha256 == b.sha256  # bitwise the same weights from the same recipe
    assert a.test_accuracy > 0.9  # the tiny classes are bars at different heights
    other = E.build_evaluator(dataclasses.replace(_recipe(), seed=1),
                              Sources(data_dir=folder, cache_dir=tmp_path / "c", download=False))
    assert other.sha256 != a.sha256

    def no_training(*args, **kwargs):
        raise AssertionError("should have used the cache")

    monkeypatch.setattr(E, "train_evaluator", no_training)
    cached = E.get_evaluator("tiny", Sources(data_dir=folder, cache_dir=tmp_path / "a"), _recipe())
    assert cached.sha256 == a.sha256 and cached.test_accuracy == a.test_accuracy
    assert cached.origin == "cached" and cached.path == next((tmp_path / "a" / "evaluators").glob("*.safetensors"))
    feats, probs = cached.embed(torch.zeros(3, 28, 28, dtype=torch.uint8))
    assert feats.shape == (3, E.FEATURE_DIM) and feats.dtype == torch.float64
    assert torch.allclose(probs.sum(1), torch.ones(3, dtype=torch.float64))


def test_tampered_cached_weights_are_refused(tiny, tmp_path):
    _, folder = tiny
    src = Sources(data_dir=folder, cache_dir=tmp_path, download=False)
    E.build_evaluator(_recipe(), src)
    weights = next((tmp_path / "evaluators").glob("*.safetensors"))
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="sha256 does not match"):
        E.get_evaluator("tiny", src, _recipe())


def _no_training(*args, **kwargs):
    raise AssertionError("should have used the shipped weights")


@pytest.mark.parametrize("dataset, floor", [("mnist", 0.993), ("fashion-mnist", 0.90)])
def test_shipped_evaluator_matches_its_manifest_and_is_used_without_training(dataset, floor, tmp_path, monkeypatch):
    entry = E.shipped_manifest()[dataset]
    weights = E.SHIPPED_DIR / f"{dataset}.safetensors"
    assert hashlib.sha256(weights.read_bytes()).hexdigest() == entry["sha256"]
    assert entry["recipe"] == dataclasses.asdict(E.EvaluatorRecipe(dataset=dataset))  # the default recipe ships
    monkeypatch.setattr(E, "train_evaluator", _no_training)
    ev = E.get_evaluator(dataset, Sources(cache_dir=tmp_path, download=False))
    assert (ev.origin, ev.path, ev.sha256) == ("shipped", weights, entry["sha256"])
    assert ev.test_accuracy == entry["test_accuracy"] >= floor
    assert not (tmp_path / "evaluators").exists()


def test_another_recipe_is_built_not_taken_from_the_shipped_weights(tmp_path, monkeypatch):
    class Training(Exception):
        pass

    def training(recipe, sources):
        raise Training(recipe)

    monkeypatch.setattr(E, "train_evaluator", training)
    with pytest.raises(Training):
        E.get_evaluator("mnist", Sources(cache_dir=tmp_path, download=False), E.EvaluatorRecipe("mnist", seed=1))


def test_a_tampered_or_missing_shipped_evaluator_is_refused_in_one_line(tmp_path, monkeypatch):
    folder = tmp_path / "weights"
    shutil.copytree(E.SHIPPED_DIR, folder)  # a copy: the package's own files stay untouched
    monkeypatch.setattr(E, "SHIPPED_DIR", folder)
    monkeypatch.setattr(E, "train_evaluator", _no_training)
    src = Sources(cache_dir=tmp_path / "cache", download=False)
    assert E.get_evaluator("mnist", src).path == folder / "mnist.safetensors"  # the copy itself loads

    weights = folder / "mnist.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError) as err:
        E.get_evaluator("mnist", src)
    assert str(err.value) == f"{weights}: sha256 does not match the shipped manifest; reinstall mnistgan"

    weights.unlink()
    with pytest.raises(CheckpointError, match="unreadable shipped evaluator .*; reinstall mnistgan$") as err:
        E.get_evaluator("mnist", src)
    assert "\n" not in str(err.value)


@pytest.mark.skipif(not SHARED_MNIST.is_dir(), reason="needs ../shared/datasets/mnist")
def test_the_shipped_mnist_evaluator_reads_real_test_digits(tmp_path):
    src = Sources(data_dir=SHARED_MNIST, cache_dir=tmp_path, download=False)
    test = load_split("mnist", "test", src)
    _, probs = E.get_evaluator("mnist", src).embed(test.images[:500])
    assert (probs.argmax(1) == test.labels[:500]).double().mean() >= 0.99


@pytest.mark.slow
@pytest.mark.skipif(not SHARED_MNIST.is_dir(), reason="needs ../shared/datasets/mnist")
def test_mnist_evaluator_reaches_99_3_percent(tmp_path):
    ev = E.build_evaluator(E.EvaluatorRecipe("mnist"), Sources(data_dir=SHARED_MNIST, cache_dir=tmp_path))
    assert ev.test_accuracy >= 0.993


@pytest.mark.slow
def test_fashion_evaluator_reaches_90_percent(tmp_path):
    src = Sources(cache_dir=tmp_path, download=False)  # Debian's dataset-fashion-mnist
    ev = E.build_evaluator(E.EvaluatorRecipe("fashion-mnist"), src)
    assert ev.test_accuracy >= 0.90
