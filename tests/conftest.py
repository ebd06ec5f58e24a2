"""Shared fixtures: a tiny generated dataset registered under the name "tiny"."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest

from mnistgan.data import datasets
from mnistgan.data.datasets import DatasetSpec, FileSpec
from mnistgan.data.idx import encode_idx

SHARED_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "mnist"


def tiny_arrays(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n 28x28 uint8 'digits': a bright bar whose position encodes the label."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    images = rng.integers(0, 30, (n, 28, 28)).astype(np.uint8)
    for i, y in enumerate(labels):
        images[i, 2 + 2 * y : 5 + 2 * y, 4:24] = 255
    return images, labels


def write_tiny(folder: Path, n_train: int = 200, n_test: int = 100) -> DatasetSpec:
    """Write a tiny dataset in MNIST's file layout and return a spec whose checksums match."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for split, prefix, n, seed in (("train", "train", n_train, 0), ("test", "t10k", n_test, 1)):
        images, labels = tiny_arrays(n, seed)
        pair = []
        for kind, arr in (("images-idx3", images), ("labels-idx1", labels)):
            raw = encode_idx(arr)
            name = f"{prefix}-{kind}-ubyte.gz"
            (folder / name).write_bytes(gzip.compress(raw, mtime=0))
            pair.append(FileSpec(name, hashlib.sha256(raw).hexdigest(), arr.shape))
        files[split] = (pair[0], pair[1])
    return DatasetSpec(name="tiny", files=files, mirrors=(), system_dirs=(),
                       classes=tuple(str(i) for i in range(10)))


@pytest.fixture
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[DatasetSpec, Path]:
    """A registered dataset "tiny" in tmp_path/data; returns (spec, folder)."""
    folder = tmp_path / "data"
    spec = write_tiny(folder)
    monkeypatch.setitem(datasets.DATASETS, "tiny", spec)
    return spec, folder


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's default cache goes to a temp folder, never the user's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
