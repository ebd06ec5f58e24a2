"""The metric registry's contract: every registered metric that the data allows shows up in
`evaluate`'s output, the light evaluation, the report and the model card; the others are
skipped everywhere. Parametrised over the registry, so a new metric is tested by being there."""

from __future__ import annotations

import html
import json

import pytest

from mnistgan.cli import main
from mnistgan.data import datasets
from mnistgan.eval import registry as R
from mnistgan.eval.report import render_report
from mnistgan.runfolder import read_metrics
from tests.conftest import TINY_RUN, write_tiny

# What the tiny set and a conditional G can feed: one channel, labelled.
HAVE = R.available(labelled=True, conditional=True)


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A conditional tiny run, trained, evaluated and reported once for every metric."""
    tmp = tmp_path_factory.mktemp("registry")
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(datasets.DATASETS, "tiny", write_tiny(tmp / "data"))
        mp.setenv("XDG_CACHE_HOME", str(tmp / "xdg-cache"))
        data = ["--data-dir", str(tmp / "data")]
        assert main(["train", *TINY_RUN, "--set", "model.num_classes=10", "--outdir", str(tmp / "runs"), *data]) == 0
        run = tmp / "runs" / "00000-classic-tiny"
        assert main(["evaluate", str(run), "-n", "60", *data]) == 0
        return {"result": json.loads((run / "metrics.json").read_text()),
                "light": [r for r in read_metrics(run) if "eval" in r][-1],
                "report": render_report(run), "card": (run / "MODEL_CARD.md").read_text()}


@pytest.mark.parametrize("key", list(R.metrics()))
def test_every_metric_shows_up_where_the_registry_says(key: str, outputs: dict) -> None:
    m = R.get(key)
    result, light = outputs["result"], outputs["light"]
    if not m.needs <= HAVE:  # e.g. modes without per-channel labels: skipped, not shown empty
        assert key not in result["metrics"] and key not in light["eval"] and key not in light["floor"]
        assert m.read(result) == (None, None)
        return
    value, floor = m.read(result)
    assert value is not None and floor is not None, "evaluate's output"
    assert (key in result["metrics"]) == (R.EVALUATE in m.shown)
    if R.LIGHT in m.shown:
        assert key in light["eval"] and key in light["floor"], "the light evaluation"
    assert html.escape(m.label) in outputs["report"], "the report"
    assert m.label in outputs["card"] or f"| {m.short} |" in outputs["card"], "the model card"


def test_a_metric_is_registered_once_with_a_direction() -> None:
    with pytest.raises(ValueError, match="registered twice"):
        R.metric("fid_lenet", label="x", better="lower", about="", needs=(), shown=())(lambda p: (0.0, None))
    with pytest.raises(ValueError, match="better"):
        R.metric("new", label="x", better="up", about="", needs=(), shown=())
    assert "new" not in R.metrics()


def test_unlabelled_data_skips_the_class_metrics() -> None:
    have = R.available(labelled=False, conditional=True)
    assert set(R.metrics(R.EVALUATE, have)) == {"fid_lenet", "kid_lenet", "precision", "recall", "density", "coverage"}
    assert set(R.metrics(R.LIGHT, have)) == {"fid_lenet", "precision", "recall"}


def test_old_keys_keep_their_names() -> None:
    assert R.label("some_metric_of_a_newer_version") == "some_metric_of_a_newer_version"
    assert R.get(R.BEST_BY).key == "fid_lenet"  # the key of best.json


def test_a_file_reads_under_todays_names() -> None:
    """metrics.json stores each metric's name; an older file (or a shipped model's) is shown under
    today's, and a key this version does not know under the one its file stored."""
    assert R.long_label("fid_lenet", "FID (MNIST classifier features)") == R.get("fid_lenet").label
    assert R.long_label("from_a_newer_version", "Its name") == "Its name"
    assert R.long_label("from_a_newer_version", None) == "from_a_newer_version"
    # every set is scored by its own evaluator (Fashion-MNIST's, an import's), so no name says MNIST
    assert not [m.label for m in R.metrics(R.EVALUATE, R.available(labelled=True, conditional=True)).values()
                if "MNIST" in m.label]
