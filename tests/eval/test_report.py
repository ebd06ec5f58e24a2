"""The HTML report: self-contained, every image decodable, the numbers present, and
graceful when `mnistgan evaluate` or --eval-every has not been run."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from mnistgan.errors import MnistganError
from mnistgan.eval.report import render_sections, write_report
from mnistgan.images import make_grid, save_png

N_GRIDS = 4
DATA_URI = re.compile(r'src="data:(image/[a-z]+);base64,([A-Za-z0-9+/=]+)"')


def _metric(label: str, value: float, real: float, better: str, std: float | None = None,
            real_std: float | None = None) -> dict[str, Any]:
    return {"label": label, "value": value, "std": std, "real": real, "real_std": real_std, "better": better,
            "about": f"what it & <co> measure at {value}"}


def evaluation(collapsed: bool = False) -> dict[str, Any]:
    """A metrics.json following the schema written by `mnistgan evaluate`."""
    return {
        "source": "runs/00000-classic-mnist/generator.safetensors", "dataset": "mnist",
        "epoch": 4, "n": 10000, "seed": 0,
        "evaluator": {"sha256": "ab" * 32, "test_accuracy": 0.993},
        "metrics": {
            "fid_lenet": _metric("FID (MNIST classifier features)", 5.123, 0.4321, "lower"),
            "kid_lenet": _metric("KID (MNIST classifier features)", 0.004, 0.00012, "lower", 0.0003, 0.0001),
            "mnist_score": _metric("MNIST score (classifier IS)", 9.01, 9.8764, "higher", 0.05, 0.03),
            "precision": _metric("Precision (k-NN manifold)", 0.71, 0.8123, "higher"),
        },
        "classes": {
            "names": [str(i) for i in range(10)],
            "fractions": [0.5, 0.5] + [0.0] * 8 if collapsed else [0.1] * 10,
            "real_fractions": [0.098] * 5 + [0.102] * 5,
            "classes_covered": 2 if collapsed else 10,
            "kl_to_real": 1.61 if collapsed else 0.0123,
            "collapsed": collapsed,
            "real": {"fractions": [0.1] * 10, "classes_covered": 10, "kl_to_real": 0.0004, "collapsed": False},
        },
        "memorisation": {"gen_to_train_median": 6.1, "test_to_train_median": 6.3, "ratio": 0.9683,
                         "memorised": False, "pairs_png": "nearest_pairs.png", "n": 1000,
                         "closest_distances": [1.5, 1.6]},
        "discriminator": {"accuracy": 0.71, "roc_auc": 0.7789, "mean_d_real": 0.6, "mean_d_fake": 0.35,
                          "train_test_gap": 0.01},
    }


def make_run(root: Path, *, evaluated: bool = True, eval_lines: bool = True, collapsed: bool = False) -> Path:
    """A synthetic run folder with N_GRIDS epochs of 20 training steps each."""
    run = root / "00000-classic-mnist"
    (run / "samples").mkdir(parents=True)
    (run / "config.json").write_text(json.dumps(
        {"preset": "classic", "data": {"name": "mnist"}, "train": {"epochs": 5}}))
    rng = np.random.default_rng(0)
    lines = []
    for epoch in range(1, N_GRIDS + 1):
        for step in range((epoch - 1) * 20 + 5, epoch * 20 + 1, 5):
            lines.append({"epoch": epoch, "step": step, "d_loss": 1.2 + 0.1 * rng.standard_normal(),
                          "g_loss": 0.9 + 0.1 * rng.standard_normal(), "d_real": 0.6, "d_fake": 0.4,
                          "img_per_s": 1000.0})
        if eval_lines and epoch % 2 == 0:
            lines.append({"epoch": epoch, "step": epoch * 20, "eval_n": 2000,
                          "eval": {"fid_lenet": 20.0 / epoch, "mnist_score": 7.0 + epoch / 4, "classes_covered": 10},
                          "floor": {"fid_lenet": 0.9, "mnist_score": 9.7, "classes_covered": 10}})
        # distinct grids: PIL would merge identical consecutive GIF frames
        digits = rng.integers(0, 256, (16, 28, 28), dtype=np.uint8)
        save_png(run / "samples" / f"epoch_{epoch:04d}.png", make_grid(digits))
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    if evaluated:
        (run / "metrics.json").write_text(json.dumps(evaluation(collapsed)))
        save_png(run / "nearest_pairs.png", rng.integers(0, 256, (60, 120), dtype=np.uint8))
    return run


def embedded_images(text: str) -> list[tuple[str, Image.Image]]:
    images = []
    for mime, data in DATA_URI.findall(text):
        im = Image.open(io.BytesIO(base64.b64decode(data, validate=True)))
        im.load()  # decodes the pixels, not just the header
        assert f"image/{im.format.lower()}" == mime
        images.append((mime, im))
    return images


@pytest.fixture(scope="module")
def full_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    run = make_run(tmp_path_factory.mktemp("full"))
    out = write_report(run)
    return out, out.read_text(encoding="utf-8")


def test_writes_default_path_and_is_self_contained(full_report: tuple[Path, str]) -> None:
    out, text = full_report
    assert out.name == "report.html" and out.parent.name == "00000-classic-mnist"
    assert text.startswith("<!DOCTYPE html>")
    for ref in ('src="http', "src='http", 'href="http', "<script src", "<link", "url(", "@import"):
        assert ref not in text, ref
    img_tags = re.findall(r"<img\b[^>]*>", text)
    assert img_tags and all(DATA_URI.search(tag) for tag in img_tags)


def test_every_embedded_image_decodes(full_report: tuple[Path, str]) -> None:
    _, text = full_report
    images = embedded_images(text)
    assert len(images) == len(re.findall(r"<img\b", text))
    gifs = [im for mime, im in images if mime == "image/gif"]
    assert len(gifs) == 1 and gifs[0].n_frames == N_GRIDS
    # final grid x3, N_GRIDS strip grids, 2 loss/D plots, 3 eval curves, classes, pairs
    assert len(images) == 1 + N_GRIDS + 1 + 2 + 3 + 1 + 1
    final = images[0][1]
    grid = make_grid(np.zeros((16, 28, 28), np.uint8))
    assert final.size == (grid.shape[1] * 3, grid.shape[0] * 3)


def test_contains_metrics_floors_and_discriminator(full_report: tuple[Path, str]) -> None:
    _, text = full_report
    assert "<h1>00000-classic-mnist</h1>" in text and "mnist" in text and "4 of 5" in text
    for label in ("FID (evaluator features)", "KID (evaluator features)", "Classifier score (IS)", "Precision (k=3)"):
        assert label in text  # today's names, though the file stored older ones
    assert "MNIST classifier features" not in text and "k-NN manifold" not in text
    assert ">0.4321<" in text  # floor without std
    assert "9.876 ± 0.03" in text  # floor with std, 4 significant digits
    assert "0.00012 ± 0.0001" in text
    assert "5.123" in text and "lower ↓" in text and "higher ↑" in text
    assert "0.7789" in text  # ROC AUC
    assert "0.9683" in text  # memorisation ratio
    assert "ab" * 32 in text and "99.3%" in text
    assert "what it &amp; &lt;co&gt; measure at 5.123" in text  # "about", escaped
    assert "0.0004" in text  # KL of real test images
    assert 'id="collapsed-warning"' not in text and "Mode collapse:" not in text
    assert 'id="memorised-warning"' not in text
    assert "mnistgan evaluate" not in text.split("<footer>")[0].split("How to read")[1].split("</p>", 1)[1]


def test_collapsed_warning(tmp_path: Path) -> None:
    text = write_report(make_run(tmp_path, collapsed=True)).read_text(encoding="utf-8")
    assert 'id="collapsed-warning"' in text and "collapsed" in text
    assert "2/10 classes covered" in text and "1.61" in text


def test_html_escapes_text(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    ev = evaluation()
    ev["metrics"]["from_a_newer_version"] = _metric("<b>bold</b> & co", 1.0, 2.0, "lower")  # its file's name shows
    (run / "metrics.json").write_text(json.dumps(ev))
    text = write_report(run, tmp_path / "elsewhere.html").read_text(encoding="utf-8")
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; co" in text and "<b>bold</b>" not in text


def test_metrics_json_without_discriminator(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    ev = evaluation()
    ev["discriminator"] = None  # evaluated from generator.safetensors: no D to ask
    (run / "metrics.json").write_text(json.dumps(ev))
    text = write_report(run).read_text(encoding="utf-8")
    assert "no discriminator report" in text and "0.7789" not in text
    assert "FID (evaluator features)" in text


def test_without_evaluation_or_eval_lines(tmp_path: Path) -> None:
    run = make_run(tmp_path, evaluated=False, eval_lines=False)
    out = write_report(run, tmp_path / "r.html")
    assert out == tmp_path / "r.html" and not (run / "report.html").exists()
    text = out.read_text(encoding="utf-8")
    assert f"mnistgan evaluate {run}" in text
    assert "mnistgan train --eval-every N" in text
    assert 'class="missing"' in text
    images = embedded_images(text)  # grids, GIF, loss and D plots are still there
    assert len(images) == 1 + N_GRIDS + 1 + 2


def test_bare_run_folder(tmp_path: Path) -> None:
    """Only a metrics.jsonl with no usable lines: every section explains itself."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text('{"epoch": 1, "st')  # torn line
    text = write_report(run).read_text(encoding="utf-8")
    assert "<img" not in text
    assert text.count('class="missing"') >= 8


def test_missing_run_folder(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-run"
    with pytest.raises(MnistganError) as e:
        write_report(missing)
    assert str(missing) in str(e.value) and "\n" not in str(e.value)


def test_folder_without_metrics_jsonl(tmp_path: Path) -> None:
    with pytest.raises(MnistganError) as e:
        write_report(tmp_path)
    assert str(tmp_path) in str(e.value) and "metrics.jsonl" in str(e.value) and "\n" not in str(e.value)


def test_health_events_and_the_best_generator_are_shown(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    with open(run / "metrics.jsonl", "a") as fh:
        fh.write(json.dumps({"event": "d_won", "epoch": 3, "step": 60,
                             "message": "epoch 3: the discriminator has won <now>"}) + "\n")
    (run / "checkpoints").mkdir()
    (run / "checkpoints" / "best.json").write_text(json.dumps({"epoch": 2, "fid_lenet": 10.0}))
    (run / "generator-best.safetensors").write_bytes(b"")  # the section reads only that it is there
    text = write_report(run).read_text(encoding="utf-8")
    assert 'id="health-warning"' in text and "the discriminator has won &lt;now&gt;" in text
    assert "The best generator by the light evaluation: epoch 2" in text
    assert "after epoch 2 (the best generator)" in text and "after epoch 4 (final)" in text


def test_a_healthy_run_says_so(tmp_path: Path) -> None:
    text = write_report(make_run(tmp_path)).read_text(encoding="utf-8")
    assert "No health events" in text and 'id="health-warning"' not in text


def test_header_names_a_time_budget(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    cfg = json.loads((run / "config.json").read_text())
    cfg["train"]["minutes"] = 10
    (run / "config.json").write_text(json.dumps(cfg))
    assert "time budget 10 min" in write_report(run).read_text(encoding="utf-8")
    assert "time budget" not in write_report(make_run(tmp_path / "plain")).read_text(encoding="utf-8")


# --- what the report says about a missing best generator: only what the folder shows ---------

def _health(run: Path) -> str:
    return render_sections(run, ["health"])["health"]


def _set_eval_every(run: Path, every: int) -> None:
    cfg = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps(cfg | {"eval": {"every": every, "n": 2000}}))


def _record_best(run: Path, epoch: int, fid: float) -> None:
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    lines = [r | {"best": {"epoch": epoch, "fid_lenet": fid}} if "eval" in r else r for r in lines]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))


def test_a_run_copied_without_checkpoints_still_has_its_best_generator(tmp_path: Path) -> None:
    """The issue's case: eval.every=1, metrics.jsonl records the best epoch, the best
    generator is there, checkpoints/ was not copied."""
    run = make_run(tmp_path)
    _set_eval_every(run, 1)
    _record_best(run, 4, 5.0)
    (run / "generator-best.safetensors").write_bytes(b"")
    text = _health(run)
    assert "The best generator by the light evaluation: epoch 4, FID 5" in text
    assert "eval.every=0" not in text and "was off" not in text


def test_the_light_evaluation_is_called_off_only_when_the_config_says_so(tmp_path: Path) -> None:
    run = make_run(tmp_path, eval_lines=False)
    _set_eval_every(run, 0)
    assert "the light evaluation was off: <code>eval.every=0</code>" in _health(run)
    assert "eval.every=0" in render_sections(run, ["eval_curves"])["eval_curves"]
    _set_eval_every(run, 5)
    for text in (_health(run), render_sections(run, ["eval_curves"])["eval_curves"]):
        assert "eval.every=5" in text and "was off" not in text and "eval.every=0" not in text


def test_a_missing_best_file_is_named(tmp_path: Path) -> None:
    run = make_run(tmp_path)  # eval lines, but no best recorded anywhere and no best generator
    _set_eval_every(run, 2)
    text = _health(run)
    assert "generator-best.safetensors" in text and "checkpoints/best.json" in text and "was off" not in text
    _record_best(run, 4, 5.0)  # the best is recorded, its generator file is not there
    text = _health(run)
    assert "epoch 4" in text and "<code>generator-best.safetensors</code> is missing" in text


def test_without_a_config_the_report_does_not_guess(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    (run / "config.json").unlink()
    text = _health(run)
    assert "config.json</code> is missing or unreadable" in text and "was off" not in text


def test_an_evaluated_run_missing_its_pairs_image_names_the_file(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    (run / "nearest_pairs.png").unlink()
    text = render_sections(run, ["memorisation"])["memorisation"]
    assert "nearest_pairs.png is missing" in text and "not been evaluated" not in text
    (run / "metrics.json").write_text("{torn")
    for name in ("metrics", "memorisation"):
        assert "metrics.json is unreadable" in render_sections(run, [name])[name]


def test_a_trained_run_copied_without_checkpoints(tiny_run: Path, tmp_path: Path) -> None:
    """A real run (light evaluation on), copied without checkpoints/: the report, `sample`'s
    line and `mnistgan runs` all still know its best generator."""
    from mnistgan.runtable import list_runs
    from mnistgan.sample import describe

    copy = tmp_path / "copied" / tiny_run.name
    shutil.copytree(tiny_run, copy, ignore=shutil.ignore_patterns("checkpoints"))
    best = json.loads((tiny_run / "checkpoints" / "best.json").read_text())
    assert f"The best generator by the light evaluation: epoch {best['epoch']}" in _health(copy)
    assert describe(copy).startswith(f"using the best generator: epoch {best['epoch']}")
    assert list_runs(copy.parent)[0].best_epoch == best["epoch"]
