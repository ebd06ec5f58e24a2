"""Stacked MNIST (data/stacked.py): built deterministically from the verified base set,
stored as index triples under a manifest, materialised as [N, 3, 28, 28] at load."""

from __future__ import annotations

import dataclasses
import gzip
import json

import numpy as np
import pytest

from mnistgan.cli import main
from mnistgan.data import datasets
from mnistgan.data.sources import Sources, load_split, locate, verify_all
from mnistgan.data.idx import encode_idx
from mnistgan.errors import DataError

from ..conftest import SHARED_MNIST


def test_building_twice_gives_the_same_manifest_digests(tiny_stacked, tmp_path):
    _, folder = tiny_stacked
    manifests = []
    for cache in ("a", "b"):
        built = locate("tiny-stacked", Sources(data_dir=folder, cache_dir=tmp_path / cache, download=False))
        manifests.append(json.loads((built / "manifest.json").read_text()))
    assert manifests[0]["files"] == manifests[1]["files"]
    assert manifests[0]["base"] == "tiny" and manifests[0]["channels"] == 3
    assert set(manifests[0]["files"]) == {f.name for f in tiny_stacked[0].all_files()}
    assert manifests[0]["splits"]["train"]["count"] == 300


def test_a_split_is_three_base_images_and_the_label_their_three_digits(tiny_stacked, tmp_path):
    _, folder = tiny_stacked
    src = Sources(data_dir=folder, cache_dir=tmp_path, download=False)
    stacked, base = load_split("tiny-stacked", "test", src), load_split("tiny", "test", src)
    assert stacked.images.shape == (120, 3, 28, 28) and stacked.images.dtype == base.images.dtype
    for i in range(5):
        digits = [int(stacked.labels[i]) // 100, int(stacked.labels[i]) // 10 % 10, int(stacked.labels[i]) % 10]
        for c in range(3):
            match = (base.images == stacked.images[i, c]).flatten(1).all(1).nonzero().squeeze(1)
            assert int(base.labels[match[0]]) == digits[c]
    triples = (tmp_path / "tiny-stacked" / "test-triples-idx2-int.gz").stat().st_size
    assert triples < stacked.images.numel() / 20  # indices, not pixels


def test_a_pinned_digest_that_the_build_misses_is_refused_and_nothing_written(tiny_stacked, tmp_path, monkeypatch):
    spec, folder = tiny_stacked
    name = spec.files["train"][0].name
    pinned = dataclasses.replace(spec.files["train"][0], sha256="0" * 64)
    monkeypatch.setitem(datasets.DATASETS, "tiny-stacked",
                        dataclasses.replace(spec, files={**spec.files, "train": (pinned, spec.files["train"][1])}))
    with pytest.raises(DataError, match=f"the built {name} does not match its pinned sha256"):
        locate("tiny-stacked", Sources(data_dir=folder, cache_dir=tmp_path, download=False))
    assert not (tmp_path / "tiny-stacked").exists()


def test_a_tampered_file_fails_verify_and_is_rebuilt_on_load(tiny_stacked, tmp_path):
    _, folder = tiny_stacked
    src = Sources(data_dir=folder, cache_dir=tmp_path, download=False)
    built = locate("tiny-stacked", src)
    labels = built / "train-labels-idx1-short.gz"
    labels.write_bytes(gzip.compress(encode_idx(np.zeros(300, np.int16))))
    problems = {path.name: problem for path, problem in verify_all("tiny-stacked", src)}
    assert "checksum mismatch" in problems[labels.name]
    assert load_split("tiny-stacked", "train", src).images.shape == (300, 3, 28, 28)  # rebuilt
    assert all(problem is None for _, problem in verify_all("tiny-stacked", src))


def test_cli_fetch_builds_and_verify_checks(tiny_stacked, capsys):
    _, folder = tiny_stacked
    assert main(["data", "fetch", "tiny-stacked", "--data-dir", str(folder)]) == 0
    assert "tiny-stacked: verified in" in capsys.readouterr().out
    assert main(["data", "verify", "tiny-stacked", "--data-dir", str(folder)]) == 0
    assert capsys.readouterr().out.count("ok ") == 4


@pytest.mark.skipif(not SHARED_MNIST.is_dir(), reason="needs ../shared/datasets/mnist")
def test_stacked_mnist_builds_from_the_real_mnist_to_its_pinned_digests(tmp_path):
    src = Sources(data_dir=SHARED_MNIST, cache_dir=tmp_path, download=False)
    test = load_split("stacked-mnist", "test", src)  # builds both splits, checked against the pins
    assert test.images.shape == (26_000, 3, 28, 28)
    assert test.labels.bincount(minlength=1000).min() > 0  # every one of the 1000 modes is there
    assert all(problem is None for _, problem in verify_all("stacked-mnist", src))
