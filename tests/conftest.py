"""Shared fixtures: a tiny generated dataset registered under the name "tiny"."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mnistgan.data import datasets
from mnistgan.data.datasets import DatasetSpec, FileSpec
from mnistgan.data.idx import encode_idx
from mnistgan.data.spec import stacked_spec

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


def write_idx_set(folder: Path, n_train: int = 120, n_test: int = 40, test: bool = True, size: int = 28) -> Path:
    """A KMNIST-like set in MNIST's file names: 10 classes, IDX .gz (the test split optional)."""
    folder.mkdir(parents=True, exist_ok=True)
    splits = [("train", n_train, 0)] + ([("t10k", n_test, 1)] if test else [])
    for prefix, n, seed in splits:
        images, labels = tiny_arrays(n, seed)
        if prefix == "t10k" and size != 28:
            images = np.zeros((n, size, size), np.uint8)
        (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(encode_idx(images)))
        (folder / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(encode_idx(labels)))
    return folder


def draw(kind: int, size: tuple[int, int], offset: tuple[int, int] = (0, 0)) -> Image.Image:
    """A dark 'digit' on a light background (as scanned or drawn on paper): 0 a ring, 1 a bar, 2 a cross."""
    w, h = size
    im = Image.new("RGB", size, (250, 250, 245))
    d = ImageDraw.Draw(im)
    ox, oy = offset
    box = (w // 4 + ox, h // 5 + oy, 3 * w // 4 + ox, 4 * h // 5 + oy)
    if kind == 0:
        d.ellipse(box, outline=(10, 10, 10), width=max(2, w // 12))
    elif kind == 1:
        d.line((w // 2 + ox, box[1], w // 2 + ox, box[3]), fill=(0, 0, 0), width=max(2, w // 10))
    else:
        d.line(box, fill=(0, 0, 0), width=max(2, w // 12))
        d.line((box[0], box[3], box[2], box[1]), fill=(0, 0, 0), width=max(2, w // 12))
    return im


def write_png_set(folder: Path, per_class: int = 12, split: bool = False) -> Path:
    """Class subfolders 0, 1, 2 of PNG (and JPEG) files of mixed sizes, dark on light."""
    sizes = [(40, 40), (64, 48), (33, 57), (100, 100)]
    for sub, n in (zip(["train", "test"], [per_class, 4]) if split else [("", per_class)]):
        for kind in range(3):
            d = folder / sub / str(kind)
            d.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                im = draw(kind, sizes[i % len(sizes)], offset=(i % 3 - 1, i % 2))
                im.save(d / f"{i:03d}.{'jpg' if i % 5 == 4 else 'png'}")
    return folder


@pytest.fixture
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[DatasetSpec, Path]:
    """A registered dataset "tiny" in tmp_path/data; returns (spec, folder)."""
    folder = tmp_path / "data"
    spec = write_tiny(folder)
    monkeypatch.setitem(datasets.DATASETS, "tiny", spec)
    return spec, folder


@pytest.fixture
def tiny_stacked(tiny: tuple[DatasetSpec, Path], monkeypatch: pytest.MonkeyPatch) -> tuple[DatasetSpec, Path]:
    """A Stacked MNIST of "tiny", registered as "tiny-stacked" (300 training and 120 test
    images of 3 channels, no pinned digests: built in the cache on first use); returns
    (spec, the tiny set's folder)."""
    spec = stacked_spec("tiny-stacked", "tiny", {"train": 300, "test": 120}, {})
    monkeypatch.setitem(datasets.DATASETS, "tiny-stacked", spec)
    return spec, tiny[1]


# `mnistgan train` settings for a tiny Stacked MNIST run: 2 epochs of 6 steps, a 9-image grid.
STACKED_RUN = ["--set", "data.name=tiny-stacked", "--set", "train.batch_size=50", "--set", "train.epochs=2",
               "--set", "train.grid_size=9", "--set", "train.checkpoint_every_s=0"]


@pytest.fixture
def stacked_run(tiny_stacked: tuple[DatasetSpec, Path], tmp_path: Path) -> Path:
    """A finished classic run folder on tiny-stacked (3 channels), trained by the CLI."""
    from mnistgan.cli import main

    assert main(["train", *STACKED_RUN, "--outdir", str(tmp_path / "runs"), "--data-dir", str(tiny_stacked[1])]) == 0
    return tmp_path / "runs" / "00000-classic-tiny-stacked"


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's default cache goes to a temp folder, never the user's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


# `mnistgan train` settings for a tiny run: 2 epochs of 4 steps on the tiny dataset, a 9-image grid
# and the generator after every epoch, a checkpoint at every epoch end.
TINY_RUN = ["--set", "data.name=tiny", "--set", "train.batch_size=50", "--set", "train.epochs=2",
            "--set", "train.grid_size=9", "--set", "train.grid_every=1", "--set", "train.checkpoint_every_s=0",
            "--eval-n", "50"]


@pytest.fixture
def tiny_run(tiny: tuple[DatasetSpec, Path], tmp_path: Path) -> Path:
    """A finished classic run folder on the tiny dataset, trained by the CLI (for tests that
    read, resume, evaluate or export a run)."""
    from mnistgan.cli import main

    assert main(["train", *TINY_RUN, "--outdir", str(tmp_path / "runs"), "--data-dir", str(tiny[1])]) == 0
    return tmp_path / "runs" / "00000-classic-tiny"
