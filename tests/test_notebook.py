"""examples/tour.ipynb runs top to bottom on the public API, so the two cannot drift apart.

It draws from the shipped `best`, trains two short runs on real MNIST (about a minute on 2
cores in all; the notebook's cells are sized to stay under a minute each there) and exports
the shipped `best` to ONNX.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import SHARED_MNIST

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("onnxruntime")

TOUR = Path(__file__).resolve().parents[1] / "examples" / "tour.ipynb"


def _text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")


def test_the_tour_runs_and_shows_what_it_says(tmp_path, monkeypatch):
    data = os.environ.get("MNISTGAN_DATA") or (str(SHARED_MNIST) if SHARED_MNIST.is_dir() else None)
    if data is None:
        pytest.skip("the tour trains on MNIST: set MNISTGAN_DATA")
    # The kernel inherits the environment (and the private cache) but runs in tmp_path: a
    # relative MNISTGAN_DATA (CI's ../shared/datasets/mnist) must be made absolute first.
    monkeypatch.setenv("MNISTGAN_DATA", str(Path(data).resolve()))
    nb = nbformat.read(TOUR, as_version=4)
    for cell in nb.cells:  # the committed outputs are not what is checked
        if cell.cell_type == "code":
            cell.outputs = []
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError, naming the cell, if any cell fails
    code = [c for c in nb.cells if c.cell_type == "code"]
    out = "\n".join(_text(c) for c in code)
    assert "trained 5 epochs (3000 steps) into runs-tour/00000-classic-mnist" in out
    assert "FID (evaluator features)" in out and "real floor" in out  # the evaluation table
    assert "conditional accuracy at epoch 8:" in out
    assert "onnxruntime matches torch within" in out
    assert "00001 classic-cond-mnist" in out and "## Training" in out  # the runs table and the card
    images = sum(1 for c in code for o in c.get("outputs", []) if "image/png" in o.get("data", {}))
    assert images == 8  # shipped sevens and 0-9, samples, real digits, sevens, 0-9, D's histogram, 0-9 from ONNX
    run = tmp_path / "runs-tour" / "00000-classic-mnist"
    assert (run / "tensorboard").is_dir() and (run / "MODEL_CARD.md").is_file()
    assert (tmp_path / "runs-tour" / "best.onnx").is_file()  # exported from the shipped pretrained:best
