"""MODEL_CARD.md: written at the end of training, refreshed by `evaluate`, and saying what a
person receiving the weights needs to know."""

from __future__ import annotations

import hashlib
import json

import pytest

from mnistgan.card import render_card
from mnistgan.cli import main
from mnistgan.models import build_discriminator, build_generator
from mnistgan.config import read_config
from tests.conftest import TINY_RUN, write_idx_set

TINY = TINY_RUN


@pytest.fixture
def run(tiny_run):
    return tiny_run


def _sections(text: str) -> list[str]:
    return [line[3:] for line in text.splitlines() if line.startswith("## ")]


def test_training_writes_the_card(run):
    text = (run / "MODEL_CARD.md").read_text()
    assert text.startswith("# Model card: 00000-classic-tiny")
    assert _sections(text) == ["What it is", "Data", "Training", "Metrics", "Samples", "Known limits", "How to load it"]
    model = read_config(run / "config.json").model
    n_g = sum(p.numel() for p in build_generator(model).parameters())
    n_d = sum(p.numel() for p in build_discriminator(model).parameters())
    assert f"generator {n_g:,}; discriminator {n_d:,}" in text
    sha = hashlib.sha256((run / "generator-best.safetensors").read_bytes()).hexdigest()
    assert "`generator-best.safetensors`: the best generator by the light evaluation (epoch 2" in text and sha in text
    assert '"batch_size": 50' in text  # the full config
    assert "2 epochs of 2, 8 steps of batch 50" in text and "Status: finished (epochs)" in text
    assert "The light evaluation during training at epoch 2" in text and "| FID |" in text
    assert "![the fixed-noise grid at epoch 2](samples/epoch_0002.png)" in text
    assert "unknown until `mnistgan evaluate` has run" in text
    assert f"mnistgan sample {run} -n 64" in text and f'mnistgan.load_generator("{run}")' in text
    assert f"mnistgan export {run} --format onnx" in text and "--digit" not in text



def test_the_cards_onnx_command_works(run, capsys):
    pytest.importorskip("onnxruntime")
    command = next(line for line in (run / "MODEL_CARD.md").read_text().splitlines() if line.startswith("mnistgan export"))
    assert main(command.split()[1:]) == 0
    assert (run / "generator.onnx").is_file()


def test_evaluate_refreshes_it_with_the_metrics_beside_the_floor_and_the_limits(run, tiny, capsys):
    _, folder = tiny
    with (run / "metrics.jsonl").open("a") as f:  # a health event the card must name
        f.write(json.dumps({"epoch": 2, "step": 8, "event": "d_won", "message": "epoch 2: D has won"}) + "\n")
    assert main(["evaluate", str(run), "-n", "60", "--data-dir", str(folder)]) == 0
    assert f"refreshed {run / 'MODEL_CARD.md'}" in capsys.readouterr().out
    text = (run / "MODEL_CARD.md").read_text()
    result = json.loads((run / "metrics.json").read_text())
    fid = result["metrics"]["fid_lenet"]
    assert f"| {fid['label']} | {fid['value']:.4g} | {fid['real']:.4g} | lower |" in text
    assert "Health event `d_won` at epoch 2: epoch 2: D has won" in text
    c = result["classes"]
    skewed = [n for n, g, r in zip(c["names"], c["fractions"], c["real_fractions"]) if r and not 0.5 <= g / r <= 2]
    assert ("Class skew" in text) == bool(skewed)
    for name in skewed:
        assert f"{name} (" in text
    assert "unknown until" not in text


def test_a_conditional_run_on_an_imported_set(tmp_path):
    src = write_idx_set(tmp_path / "k", n_train=200, n_test=50)
    assert main(["data", "import", str(src), "--name", "kmnist-like"]) == 0
    assert main(["train", "--preset", "classic-cond", "--set", "data.name=kmnist-like", "--set", "train.batch_size=50",
                 "--set", "train.epochs=1", "--set", "train.grid_size=10", "--eval-n", "40",
                 "--outdir", str(tmp_path / "runs")]) == 0
    run = tmp_path / "runs" / "00000-classic-cond-kmnist-like"
    text = (run / "MODEL_CARD.md").read_text()
    assert "conditional on 10 classes" in text and f"mnistgan sample {run} --digit 7" in text
    assert "`kmnist-like`: imported on" in text and f"from `{src.resolve()}` (idx)" in text
    assert "200 training and 50 test images, the source's own train/test split" in text
    assert "one row per class" in text
    assert render_card(run).count("imported with `mnistgan data import`; its manifest was not found") == 1
