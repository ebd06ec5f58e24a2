import gzip

import numpy as np
import pytest
import torch

from mnistgan.data.datasets import batches, read_split, to_uint8, to_unit_range
from mnistgan.data.idx import encode_idx
from mnistgan.data.sources import Sources, load_split
from mnistgan.errors import DataError


def test_load_split_holds_uint8_tensors(tiny):
    spec, folder = tiny
    s = load_split("tiny", "train", Sources(data_dir=folder, download=False))
    assert s.images.dtype == torch.uint8 and s.images.shape == (200, 28, 28)
    assert s.labels.dtype == torch.int64 and s.labels.shape == (200,)
    assert s.source == folder


def test_checksum_mismatch_is_an_error_naming_the_file(tiny):
    spec, folder = tiny
    path = folder / spec.files["train"][0].name
    images = np.zeros((200, 28, 28), np.uint8)  # same shape, different content
    path.write_bytes(gzip.compress(encode_idx(images)))
    with pytest.raises(DataError, match="checksum mismatch") as e:
        read_split(folder, spec, "train")
    assert str(path) in str(e.value)


def test_mismatched_image_and_label_counts(tiny, monkeypatch):
    spec, folder = tiny
    lab = spec.files["train"][1]
    raw = encode_idx(np.zeros(150, np.uint8))
    (folder / lab.name).write_bytes(gzip.compress(raw))
    import dataclasses, hashlib

    bad_lab = dataclasses.replace(lab, sha256=hashlib.sha256(raw).hexdigest(), shape=(150,))
    spec2 = dataclasses.replace(spec, files={**spec.files, "train": (spec.files["train"][0], bad_lab)})
    with pytest.raises(DataError, match="150 labels for 200 images"):
        read_split(folder, spec2, "train")


def test_unknown_dataset_and_split(tiny):
    with pytest.raises(DataError, match="unknown dataset"):
        load_split("nope", "train")
    with pytest.raises(DataError, match="unknown split"):
        load_split("tiny", "valid")


def test_pixel_scaling_roundtrip():
    x = torch.arange(256, dtype=torch.uint8)
    y = to_unit_range(x)
    assert y.min() == -1 and y.max() == 1
    assert torch.equal(to_uint8(y), x)


def test_batches_are_a_seeded_permutation_dropping_the_tail():
    images = torch.arange(250, dtype=torch.int64).view(250, 1, 1).expand(250, 28, 28).to(torch.uint8)
    idx = torch.arange(250)
    got = list(batches(idx, 100, torch.Generator().manual_seed(0)))
    assert [b.shape[0] for b in got] == [100, 100]
    seen = torch.cat(got)
    assert seen.unique().numel() == 200  # no repeats within an epoch
    again = list(batches(idx, 100, torch.Generator().manual_seed(0)))
    assert all(torch.equal(a, b) for a, b in zip(got, again))
    other = list(batches(idx, 100, torch.Generator().manual_seed(1)))
    assert not torch.equal(got[0], other[0])
    assert next(batches(images, 10, torch.Generator())).shape == (10, 28, 28)
