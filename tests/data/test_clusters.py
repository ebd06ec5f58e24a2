"""Pseudo-labels for a set without labels: `mnistgan data import --labels clusters`."""

from __future__ import annotations

import numpy as np
import pytest

from mnistgan.cli import main
from mnistgan.data.clusters import cluster_labels
from mnistgan.data.importer import import_dataset
from mnistgan.data.sources import Sources, load_split
from mnistgan.errors import DataError


def bars(groups: list[int], seed: int) -> np.ndarray:
    """A noisy 28x28 image per entry: a bright bar at a row set by its group (0, 1, 2: apart)."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 40, (len(groups), 28, 28)).astype(np.uint8)
    for i, g in enumerate(groups):
        images[i, 2 + 9 * g : 6 + 9 * g, 4:24] = 255
    return images


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """a and b group the items alike, whatever each calls its groups."""
    return len(set(zip(a.tolist(), b.tolist()))) == len(set(a.tolist())) == len(set(b.tolist()))


def test_clusters_find_the_groups_in_both_splits():
    train_groups = np.random.default_rng(0).permutation([0, 1, 2] * 20)
    test_groups = np.array([2, 0, 1, 1, 0, 2])
    train, test = cluster_labels(bars(list(train_groups), 0), bars(list(test_groups), 1), k=3)
    assert same_partition(train, train_groups) and np.bincount(train).tolist() == [20, 20, 20]
    names = {g: train[train_groups == g][0] for g in range(3)}  # the test images join their group's cluster
    assert test.tolist() == [names[g] for g in test_groups]


def test_clusters_take_equal_shares_and_repeat_with_the_seed():
    """A conditional G is sampled with balanced labels: each cluster must hold the same share,
    even where the set's own groups are unequal (60 and 30 images: 45 each, the 30 together)."""
    groups = [0] * 60 + [1] * 30
    train, test = cluster_labels(bars(groups, 0), bars([0, 0, 1, 1, 0], 1), k=2)
    assert np.bincount(train).tolist() == [45, 45] and sorted(np.bincount(test).tolist()) == [2, 3]
    assert len(set(train[60:].tolist())) == 1  # the smaller group is one cluster's core
    again = cluster_labels(bars(groups, 0), bars([0, 0, 1, 1, 0], 1), k=2)
    assert np.array_equal(again[0], train) and np.array_equal(again[1], test)


def test_import_with_cluster_labels(tmp_path):
    """The source's own labels are replaced; the manifest says how the clusters were made; the
    set loads as a labelled one, so that a conditional preset trains on it."""
    cache = tmp_path / "cache"
    groups = [0, 1, 2] * 12
    np.savez(tmp_path / "s.npz", images=bars(groups, 0), labels=np.zeros(len(groups), np.uint8))
    m = import_dataset(tmp_path / "s.npz", "bars", cache, labels="clusters", clusters=3)
    assert m["labels"] == "clusters" and m["clusters"] == {"k": 3, "seed": 0, "dims": 32}  # 32 train images
    assert m["classes"] == ["c0", "c1", "c2"] and sorted(m["per_class"]["train"]) == [10, 11, 11]
    train = load_split("bars", "train", Sources(cache_dir=cache))
    assert train.labels.unique().tolist() == [0, 1, 2]
    rows = (train.images[:, :, 10].float() > 200).float().argmax(1) // 9  # each image's group, from its bar
    assert same_partition(train.labels.numpy(), rows.numpy())


@pytest.mark.parametrize("k, match", [(1, "--clusters 1: give 2 to 256"), (300, "--clusters 300: give 2 to 256"),
                                      (5, r"--clusters 5: give 2 to 4 \(the test split's size\)")])
def test_impossible_cluster_counts_are_refused_and_nothing_is_imported(tmp_path, k, match):
    cache = tmp_path / "cache"
    np.savez(tmp_path / "s.npz", images=bars([0, 1, 2] * 6, 0))  # 18 images: 4 held out to test
    with pytest.raises(DataError, match=match):
        import_dataset(tmp_path / "s.npz", "bars", cache, labels="clusters", clusters=k)
    assert not (cache / "custom" / "bars").exists()


def test_cli_import_with_clusters_says_what_the_labels_are(tmp_path, capsys):
    np.savez(tmp_path / "s.npz", images=bars([0, 1, 2] * 12, 0))
    assert main(["data", "import", str(tmp_path / "s.npz"), "--name", "bars", "--labels", "clusters",
                 "--clusters", "3"]) == 0
    out = capsys.readouterr().out
    assert "labels: 3 equal clusters of the train images, not the source's" in out
    assert "classes (3): c0, c1, c2" in out


def test_cli_clusters_without_cluster_labels_is_refused(tmp_path, capsys):
    np.savez(tmp_path / "s.npz", images=bars([0, 1, 2] * 12, 0))
    assert main(["data", "import", str(tmp_path / "s.npz"), "--name", "bars", "--clusters", "3"]) == 2
    assert capsys.readouterr().err.strip().endswith("--clusters 3 goes with --labels clusters")
