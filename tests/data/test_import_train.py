"""Imported sets train end to end: a KMNIST-like IDX set and a PNG folder, both generated
here, then evaluated (labelled: with their own evaluator; unlabelled: on MNIST's features)."""

from __future__ import annotations

import json

import numpy as np

from mnistgan.cli import main
from tests.conftest import tiny_arrays, write_idx_set, write_png_set

TINY = ["--set", "train.batch_size=20", "--set", "train.epochs=2", "--set", "train.grid_size=9", "--eval-n", "20"]


def test_kmnist_like_idx_set_trains_and_gets_its_own_evaluator(tmp_path, capsys):
    src = write_idx_set(tmp_path / "kmnist", n_train=300, n_test=60)
    assert main(["data", "import", str(src), "--name", "kmnist-like"]) == 0
    assert main(["train", *TINY, "--set", "data.name=kmnist-like", "--outdir", str(tmp_path / "runs")]) == 0
    run = tmp_path / "runs" / "00000-classic-kmnist-like"
    assert (run / "samples" / "epoch_0002.png").is_file() and (run / "generator-best.safetensors").is_file()
    evals = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if '"eval"' in line]
    assert evals and "mnist_score" in evals[-1]["eval"]  # its own classifier, trained on its labels
    capsys.readouterr()
    assert main(["evaluator", "build", "--dataset", "kmnist-like"]) == 0
    out = capsys.readouterr().out
    assert "found in the cache" in out and "test accuracy" in out  # built once, by the light evaluation
    assert main(["evaluate", str(run), "-n", "40"]) == 0
    result = json.loads((run / "metrics.json").read_text())
    assert result["dataset"] == "kmnist-like" and result["evaluator"]["dataset"] == "kmnist-like"
    assert result["classes"]["names"] == [str(i) for i in range(10)]


def test_png_folder_trains_conditionally(tmp_path, capsys):
    src = write_png_set(tmp_path / "pngs", per_class=50)
    assert main(["data", "import", str(src), "--name", "shapes", "--invert"]) == 0
    assert main(["train", *TINY, "--preset", "classic-cond", "--set", "data.name=shapes",
                 "--set", "model.num_classes=3", "--eval-n", "12", "--outdir", str(tmp_path / "runs")]) == 0
    run = tmp_path / "runs" / "00000-classic-cond-shapes"
    evals = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if '"eval"' in line]
    assert "cond_accuracy" in evals[-1]["eval"]
    assert main(["sample", str(run), "--digit", "2", "-n", "4", "--out", str(tmp_path / "twos.npz")]) == 0
    assert np.load(tmp_path / "twos.npz")["labels"].tolist() == [2, 2, 2, 2]


def test_unlabelled_set_is_scored_on_mnist_features_and_says_so(tmp_path, capsys):
    images, _ = tiny_arrays(330, 0)
    np.savez(tmp_path / "u.npz", images=images)
    assert main(["data", "import", str(tmp_path / "u.npz"), "--name", "unlab"]) == 0
    assert "no labels: runs on it are scored with FID" in capsys.readouterr().out
    assert main(["evaluator", "build", "--dataset", "unlab"]) == 2
    assert "unlab has no labels, so no evaluator can be trained" in capsys.readouterr().err
    assert main(["train", *TINY, "--set", "data.name=unlab", "--preset", "classic-cond",
                 "--outdir", str(tmp_path / "runs")]) == 2
    assert "has no labels, so a conditional model cannot train on it" in capsys.readouterr().err
    assert main(["train", *TINY, "--set", "data.name=unlab", "--outdir", str(tmp_path / "runs")]) == 0
    run = tmp_path / "runs" / "00000-classic-unlab"
    evals = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if '"eval"' in line]
    assert set(evals[-1]["eval"]) == {"fid_lenet", "precision", "recall"}
    capsys.readouterr()
    assert main(["evaluate", str(run), "-n", "20"]) == 0
    out = capsys.readouterr().out
    assert "unlab has no labels: FID, KID, precision/recall and density/coverage are on the MNIST evaluator's" in out
    result = json.loads((run / "metrics.json").read_text())
    assert result["classes"] is None and "mnist_score" not in result["metrics"]
    assert result["evaluator"]["dataset"] == "mnist"



def test_the_report_of_an_unlabelled_run_says_what_is_missing_and_why(tmp_path, capsys):
    from mnistgan.eval.report import render_report

    images, _ = tiny_arrays(330, 0)
    np.savez(tmp_path / "u.npz", images=images)
    assert main(["data", "import", str(tmp_path / "u.npz"), "--name", "unlab"]) == 0
    assert main(["train", *TINY, "--set", "data.name=unlab", "--outdir", str(tmp_path / "runs")]) == 0
    run = tmp_path / "runs" / "00000-classic-unlab"
    assert main(["evaluate", str(run), "-n", "20"]) == 0
    page = render_report(run)
    assert "unlab has no labels: FID, KID, precision/recall and density/coverage are on the MNIST" in page


def test_a_set_whose_test_images_copy_its_training_images(tmp_path, capsys):
    images, _ = tiny_arrays(20, 0)
    np.savez(tmp_path / "dup.npz", images=np.tile(images, (15, 1, 1)))  # every image 15 times
    assert main(["data", "import", str(tmp_path / "dup.npz"), "--name", "dup"]) == 0
    assert "warning: 30 of the 30 test images are exact copies of training images" in capsys.readouterr().out
    assert main(["train", *TINY, "--set", "data.name=dup", "--outdir", str(tmp_path / "runs")]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "runs" / "00000-classic-dup"), "-n", "20"]) == 0
    assert "memorisation: not measurable: most test images are copies of training images" in capsys.readouterr().out


def test_a_cluster_labelled_set_trains_conditionally_and_is_scored_against_its_source(tmp_path, capsys):
    """A set without labels, imported twice: as it is, and labelled by clusters. A conditional
    model trains on the second; `evaluate --against` scores it on the first's test split and
    evaluator, beside (not over) its own metrics, and without the class sections its cluster
    labels would make meaningless there."""
    images, _ = tiny_arrays(330, 0)
    np.savez(tmp_path / "u.npz", images=images)
    assert main(["data", "import", str(tmp_path / "u.npz"), "--name", "unlab"]) == 0
    assert main(["data", "import", str(tmp_path / "u.npz"), "--name", "unlab-km", "--labels", "clusters",
                 "--clusters", "3"]) == 0
    assert main(["train", *TINY, "--preset", "classic-cond", "--set", "data.name=unlab-km",
                 "--set", "model.num_classes=3", "--eval-n", "12", "--outdir", str(tmp_path / "runs")]) == 0
    run = tmp_path / "runs" / "00000-classic-cond-unlab-km"
    assert main(["evaluate", str(run), "-n", "20"]) == 0
    own = (run / "metrics.json").read_bytes()
    assert json.loads(own)["conditional"] is not None  # its own set: "draws the cluster asked"
    assert "3 equal clusters of the images (c0, c1, c2;" in (run / "MODEL_CARD.md").read_text()  # not digits
    capsys.readouterr()
    assert main(["evaluate", str(run), "-n", "20", "--against", "unlab"]) == 0
    assert "metrics-unlab.json" in capsys.readouterr().out
    result = json.loads((run / "metrics-unlab.json").read_text())
    assert result["dataset"] == "unlab" and result["trained_on"] == "unlab-km"
    assert result["evaluator"]["dataset"] == "mnist" and "fid_lenet" in result["metrics"]
    assert result["conditional"] is None and result["discriminator"] is None
    assert (run / "metrics.json").read_bytes() == own and (run / "nearest_pairs-unlab.png").is_file()
    assert main(["evaluate", str(run), "--against", "no-such-set"]) == 2
    assert "no-such-set" in capsys.readouterr().err
