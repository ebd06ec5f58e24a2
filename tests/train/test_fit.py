"""Sizes that follow the dataset: the preset's sizes shrink to fit a small set when the
user has not set them (one info line), an explicit value that does not fit is an error,
and the default settings train, evaluate, report and serve any set from 20 images up."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from mnistgan.cli import main
from mnistgan.config import PRESETS, explicit_keys, load_config
from mnistgan.train.fit import SetSize, fit_to_data
from tests.conftest import tiny_arrays


def import_npz(tmp_path, name: str, n: int, **splits) -> None:
    images, labels = tiny_arrays(n, 0)
    np.savez(tmp_path / f"{name}.npz", images=images, labels=labels, **splits)
    assert main(["data", "import", str(tmp_path / f"{name}.npz"), "--name", name]) == 0


def run_dir(tmp_path, name: str):
    return tmp_path / "runs" / f"00000-classic-{name}"


def test_every_preset_is_unchanged_on_mnist(caplog):
    caplog.set_level(logging.INFO)
    for cfg in PRESETS.values():
        assert fit_to_data(cfg, SetSize("mnist", 60_000, 10_000)) is cfg
    assert "fitted" not in caplog.text


def test_a_packed_d_keeps_whole_packs_when_the_batch_shrinks():
    cfg = load_config(overrides=["model.pack=4"])
    assert fit_to_data(cfg, SetSize("mine", 90, 10)).train.batch_size == 88  # 22 packs of 4


def test_sizes_not_set_follow_the_set_with_one_info_line(caplog):
    caplog.set_level(logging.INFO)
    cfg = fit_to_data(PRESETS["classic-cond"], SetSize("mine", 90, 10))
    assert (cfg.train.batch_size, cfg.train.grid_size, cfg.eval.n) == (90, 90, 10)
    lines = [r.getMessage() for r in caplog.records if "fitted" in r.getMessage()]
    assert lines == ["mine has 90 training and 10 test images; fitted to them: train.batch_size 100 -> 90, "
                     "train.grid_size 100 -> 90, train.grid_every 1 -> 667, eval.n 2000 -> 10, eval.every 5 -> 3335 "
                     "(set them to choose)"]
    # A step of n_critic batches: the batch fits n_critic times.
    wgan = load_config("classic", overrides=["loss.name=wgan-gp", "loss.n_critic=5", "loss.label_smoothing=0"])
    assert fit_to_data(wgan, SetSize("mine", 90, 10)).train.batch_size == 18


def test_the_light_evaluation_and_the_grid_come_as_often_per_image_seen_on_a_smaller_set():
    classic, best = PRESETS["classic"], load_config("best")
    small = fit_to_data(classic, SetSize("mnist", 600, 10_000))
    assert (small.eval.every, small.train.grid_every) == (classic.eval.every * 100, 100)
    assert fit_to_data(best, SetSize("mnist", 6_000, 10_000)).eval.every == best.eval.every * 10
    stacked = fit_to_data(classic, SetSize("stacked-mnist", 128_000, 10_000, 3))
    assert (stacked.eval.every, stacked.train.grid_every) == (classic.eval.every, 1)
    mine = load_config("classic", overrides=["eval.every=2", "train.grid_every=3"])
    kept = fit_to_data(mine, SetSize("mnist", 600, 10_000), frozenset({"eval.every", "train.grid_every"}))
    assert (kept.eval.every, kept.train.grid_every) == (2, 3)


def test_the_keys_the_user_set_are_kept(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text("[eval]\nn = 500\n")
    explicit = explicit_keys(toml, ["train.batch_size=80", "train.epochs=3"])
    assert explicit == {"eval.n", "train.batch_size", "train.epochs"}
    cfg = fit_to_data(load_config("classic", toml, ["train.batch_size=80"]), SetSize("mine", 60, 10), explicit)
    assert (cfg.train.batch_size, cfg.eval.n, cfg.train.grid_size) == (80, 500, 60)


def test_explicit_values_that_do_not_fit_are_still_errors(tmp_path, capsys):
    import_npz(tmp_path, "small", 100)
    runs = ["--outdir", str(tmp_path / "runs"), "--threads", "1", "--set", "data.name=small"]
    assert main(["train", *runs, "--set", "train.batch_size=100"]) == 2
    assert "train.batch_size 100 x loss.n_critic 1 exceeds the 90 training images of small" in capsys.readouterr().err
    assert main(["train", *runs, "--eval-n", "2000"]) == 2
    assert "eval.n must be between 4 and 10 (the size of the small test split), got 2000" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_an_imported_set_of_100_images_end_to_end_with_no_setting_changed(tmp_path, capsys, caplog):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from mnistgan.data.sources import Sources
    from mnistgan.serve.app import create_app

    caplog.set_level(logging.INFO)
    import_npz(tmp_path, "hundred", 100)
    assert "hint: hundred has 90 training images (under 10,000)" in capsys.readouterr().out
    assert main(["train", "--set", "data.name=hundred", "--outdir", str(tmp_path / "runs"), "--threads", "1"]) == 0
    assert "fitted to them: train.batch_size 100 -> 90, train.grid_every 1 -> 667, eval.n 2000 -> 10" in caplog.text
    assert "hint: hundred has 90 training images" in caplog.text  # at the start of training too
    run = run_dir(tmp_path, "hundred")
    saved = json.loads((run / "config.json").read_text())
    assert saved["train"]["batch_size"] == 90 and saved["eval"]["n"] == 10  # the fitted config is the run's
    last = f"epoch_{saved['train']['epochs']:04d}.png"  # the default's length, all of it
    assert (run / "samples" / last).is_file() and (run / "generator-best.safetensors").is_file()
    assert main(["evaluate", str(run), "--threads", "1"]) == 0
    assert "hundred has 10 test images: evaluating 10 samples against them" in caplog.text
    assert json.loads((run / "metrics.json").read_text())["n"] == 10
    assert main(["report", str(run)]) == 0 and (run / "report.html").is_file()
    cache = tmp_path / "xdg-cache" / "mnistgan"
    with TestClient(create_app(tmp_path / "runs", Sources(cache_dir=cache, download=False))) as client:
        assert client.get("/api/sample", params={"n": 9}).status_code == 200
        game = client.get("/api/game/round").json()
        assert client.post("/api/game/guess", json={"game": game["game"], "round": game["round"],
                                                    "guess": "real"}).status_code == 200
        assert client.get("/api/run/sections").status_code == 200


def test_the_smallest_set_20_images_trains_and_evaluates_with_the_defaults(tmp_path, capsys, caplog):
    caplog.set_level(logging.INFO)
    import_npz(tmp_path, "twenty", 20)
    assert "16 train + 4 test images" in capsys.readouterr().out  # the holdout keeps 4 images to score
    args = ["train", "--set", "data.name=twenty", "--outdir", str(tmp_path / "runs"), "--threads", "1"]
    assert main(args) == 0
    assert "train.batch_size 100 -> 16, train.grid_size 64 -> 16, train.grid_every 1 -> 3750, eval.n 2000 -> 4" in caplog.text
    assert main(["evaluate", str(run_dir(tmp_path, "twenty")), "--threads", "1"]) == 0


def test_a_test_split_too_small_to_score_turns_the_light_evaluation_off(tmp_path, caplog, capsys):
    caplog.set_level(logging.INFO)
    (a, ya), (b, yb) = tiny_arrays(30, 0), tiny_arrays(3, 1)
    np.savez(tmp_path / "k.npz", x_train=a, y_train=ya, x_test=b, y_test=yb)  # its own split: 3 test images
    assert main(["data", "import", str(tmp_path / "k.npz"), "--name", "three"]) == 0
    args = ["train", "--set", "data.name=three", "--set", "train.epochs=2", "--outdir", str(tmp_path / "runs")]
    assert main([*args, "--threads", "1"]) == 0
    assert "eval.every 5 -> 0 (under 4 test images: no light evaluation)" in caplog.text
    capsys.readouterr()
    assert main(["evaluate", str(run_dir(tmp_path, "three"))]) == 2
    assert "three has 3 test images, and an evaluation needs at least 4" in capsys.readouterr().err
