"""data.subset: a seeded, class-balanced part of the training split, recorded in the config."""

from __future__ import annotations

import json
import logging

import pytest
import torch

from mnistgan.cli import main
from mnistgan.config import load_config
from mnistgan.errors import ConfigError
from mnistgan.data.subset import subset_count, subset_rows
from tests.conftest import TINY_RUN


def test_a_share_or_a_count_each_class_keeping_its_share():
    labels = torch.arange(1000) % 10  # 100 per class
    labels[:50] = 3  # class 3 is larger
    for subset, k in ((0.1, 100), (0.01, 10), (250, 250), (1.0, 1000)):
        rows = subset_rows(labels, subset, seed=0)
        assert rows.shape == (k,) and torch.equal(rows, rows.unique())  # sorted, no repeats
        counts, full = labels[rows].bincount(minlength=10), labels.bincount()
        assert (counts.double() - full.double() * k / 1000).abs().max() < 1  # each class its share, rounded
    assert torch.equal(subset_rows(labels, 0.1, seed=0), subset_rows(labels, 0.1, seed=0))
    assert not torch.equal(subset_rows(labels, 0.1, seed=0), subset_rows(labels, 0.1, seed=1))
    assert subset_rows(torch.zeros(50, dtype=torch.int64), 7, seed=0).shape == (7,)  # unlabelled: plain random


def test_a_subset_that_cannot_be_drawn_is_one_line():
    assert subset_count(60_000, 0.01) == 600 and subset_count(5, 0.01) == 1
    with pytest.raises(ConfigError, match="up to the 200 of the training split, got 300"):
        subset_count(200, 300)
    with pytest.raises(ConfigError, match="got 2.5"):
        subset_count(200, 2.5)
    with pytest.raises(ConfigError, match="data.subset must be a share"):
        load_config(overrides=["data.subset=0"])


def test_training_on_a_subset_is_recorded_and_memorisation_searches_it(tiny, tmp_path, caplog, capsys):
    caplog.set_level(logging.INFO)
    runs = tmp_path / "runs"
    args = ["train", *TINY_RUN, "--set", "data.subset=0.25", "--set", "data.subset_seed=3",
            "--set", "train.batch_size=25", "--eval-n", "20", "--outdir", str(runs), "--data-dir", str(tiny[1])]
    assert main(args) == 0
    run = runs / "00000-classic-tiny"
    saved = json.loads((run / "config.json").read_text())["data"]
    assert saved == {"name": "tiny", "subset": 0.25, "subset_seed": 3}
    assert "trained 2 epochs (4 steps)" in capsys.readouterr().out  # 50 of the 200 images: 2 steps an epoch
    assert main(["evaluate", str(run), "-n", "20", "--data-dir", str(tiny[1])]) == 0
    assert json.loads((run / "metrics.json").read_text())["memorisation"]["train_images"] == 50
    # A batch too big for the subset is an error that names it.
    assert main([*args, "--set", "train.batch_size=60"]) == 2
    assert "exceeds the 50 training images of tiny (data.subset)" in capsys.readouterr().err
