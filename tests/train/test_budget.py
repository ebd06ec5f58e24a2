"""A time budget too short for the machine says so, in the log, metrics.jsonl, `runs` and the card."""

from __future__ import annotations

import json

import pytest

from mnistgan.cli import main
from mnistgan.config import MAX_EPOCHS
from mnistgan.runtable import list_runs
from mnistgan.train.budget import budget_event

from ..conftest import TINY_RUN


def _event(**kw):
    args = dict(minutes=8, seconds_done=0.0, epoch=0, epochs=40, images_per_epoch=60_000, img_per_s=74.0,
                precision="bf16") | kw
    return budget_event(**args)


def test_a_budget_under_one_epoch_is_flagged_with_its_projection():
    e = _event()  # best at 74 img/s (bf16 emulated on an AVX2 CPU): 8 minutes cover 0.6 epochs
    assert e.event == "budget" and e.values["epochs_covered"] == pytest.approx(0.59, abs=0.01)
    assert "74 img/s (bf16)" in e.message and "stops after epoch 1" in e.message and "\n" not in e.message


def test_a_budget_under_a_tenth_of_the_planned_epochs_is_flagged():
    assert _event(img_per_s=400.0) is not None  # 3.2 of 40 epochs
    assert _event(img_per_s=1_000.0) is None  # 8 of 40
    assert _event(minutes=0) is None  # no budget


def test_a_run_that_the_budget_alone_ends_is_flagged_only_under_one_epoch():
    # train.epochs=100000 (the bound) with train.minutes: the README's own-data command
    assert _event(img_per_s=1_000.0, epochs=MAX_EPOCHS) is None  # 8 epochs
    assert _event(epochs=MAX_EPOCHS) is not None  # 0.6 epochs


def test_the_projection_counts_what_is_already_spent():
    assert _event(img_per_s=5_000.0) is None  # 40 epochs in 8 minutes
    late = _event(img_per_s=5_000.0, seconds_done=470.0, epoch=39, epochs=400)  # 10 s left: a sixth of an epoch
    assert late is not None and "stops after epoch 40" in late.message


def test_a_run_whose_budget_is_too_short_warns_and_runs_and_the_card_show_it(tmp_path, tiny, caplog):
    runs = tmp_path / "runs"
    # 1e-5 minutes (0.6 ms) at tiny-run speeds covers far less than one epoch.
    assert main(["train", *TINY_RUN, "--set", "train.minutes=0.00001", "--set", "train.log_every=1",
                 "--outdir", str(runs), "--data-dir", str(tiny[1])]) == 0
    assert "warning: the time budget is short for this machine" in caplog.text
    run = runs / "00000-classic-tiny"
    events = [r for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines()) if r.get("event")]
    assert [e["event"] for e in events] == ["budget"]
    row = list_runs(runs)[0]
    assert row.status == "finished" and "health events: budget" in row.detail
    assert "Health event `budget` at epoch 1" in (run / "MODEL_CARD.md").read_text()
