"""The command line as a user meets it: train, sample, data, and one-line errors."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from mnistgan.cli import main
from mnistgan.eval import evaluator as E
from tests.conftest import TINY_RUN

TINY = TINY_RUN


@pytest.fixture
def run_dir(tiny_run):
    return tiny_run


def test_train_makes_a_numbered_run_and_resume_extends_it(run_dir, tiny, capsys):
    _, folder = tiny
    assert (run_dir / "samples" / "epoch_0002.png").is_file()
    assert main(["train", "--resume", str(run_dir), "--set", "train.epochs=3", "--data-dir", str(folder)]) == 0
    assert (run_dir / "samples" / "epoch_0003.png").is_file()
    assert "trained 3 epochs" in capsys.readouterr().out


def test_sample_png_and_npz_are_seeded(run_dir, tmp_path):
    a, b, c = tmp_path / "a.npz", tmp_path / "b.npz", tmp_path / "c.npz"
    for out, seed in ((a, "1"), (b, "1"), (c, "2")):
        assert main(["sample", str(run_dir), "-n", "10", "--seed", seed, "--out", str(out)]) == 0
    ia, ib, ic = (np.load(p)["images"] for p in (a, b, c))
    assert ia.shape == (10, 28, 28) and ia.dtype == np.uint8
    assert np.array_equal(ia, ib) and not np.array_equal(ia, ic)
    png = tmp_path / "g.png"
    assert main(["sample", str(run_dir / "checkpoints" / "state-000002.pt"), "-n", "4", "--out", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_errors_are_one_line_without_traceback(tmp_path, capsys):
    bad = tmp_path / "generator.safetensors"
    bad.write_bytes(b"garbage")
    assert main(["sample", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mnistgan: error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert main(["train", "--set", "train.epochs=-1", "--outdir", str(tmp_path)]) == 2
    assert "train.epochs must be between 1 and 100000" in capsys.readouterr().err


def test_data_verify_fetch_and_info(tiny, capsys):
    _, folder = tiny
    assert main(["data", "fetch", "tiny", "--data-dir", str(folder)]) == 0  # already there: no download
    assert f"tiny: verified in {folder}" in capsys.readouterr().out
    assert main(["data", "verify", "tiny", "--data-dir", str(folder)]) == 0
    assert capsys.readouterr().out.count("ok ") == 4
    assert main(["data", "info", "tiny", "--data-dir", str(folder)]) == 0
    assert "tiny train: (200, 28, 28)" in capsys.readouterr().out


def test_python_dash_m_works():
    out = subprocess.run([sys.executable, "-m", "mnistgan", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("mnistgan ")


def test_resume_of_a_damaged_run_folder_is_a_clear_error(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{not json")
    assert main(["train", "--resume", str(run)]) == 2
    assert "not a valid config file" in capsys.readouterr().err


def test_a_bad_device_is_refused_before_any_work(tmp_path, capsys):
    assert main(["train", "--device", "gpu0", "--outdir", str(tmp_path / "runs")]) == 2
    assert "not a torch device" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()  # no empty run folder left behind


def test_training_keeps_the_best_generator_by_default(run_dir):
    from mnistgan.runfolder import read_best, read_metrics

    assert read_best(run_dir) == {"epoch": 2, "fid_lenet": read_best(run_dir)["fid_lenet"]}  # evaluated after the last
    assert (run_dir / "generator-best.safetensors").is_file() and (run_dir / "checkpoints" / "best.pt").is_file()
    assert [r["epoch"] for r in read_metrics(run_dir) if "eval" in r] == [2]


def test_sample_and_evaluate_use_the_best_generator_unless_last(run_dir, tmp_path, caplog):
    import json

    import torch

    from mnistgan.config import read_config
    from mnistgan.sample import load_discriminator, load_generator, resolve
    from mnistgan.io.weights import save_generator

    # Make epoch 1 the best: its weights become generator-best.safetensors.
    first = run_dir / "checkpoints" / "state-000001.pt"
    G1 = load_generator(first)
    save_generator(run_dir / "generator-best.safetensors", G1, read_config(run_dir / "config.json"), 1)
    (run_dir / "checkpoints" / "best.pt").write_bytes(first.read_bytes())
    (run_dir / "checkpoints" / "best.json").write_text(json.dumps({"epoch": 1, "fid_lenet": 1.5}))
    assert resolve(run_dir).name == "generator-best.safetensors"
    assert resolve(run_dir, last=True).name == "generator.safetensors"
    outs = {}
    for flag in ([], ["--last"]):
        out = tmp_path / f"s{len(flag)}.npz"
        with caplog.at_level("INFO", logger="mnistgan"):
            assert main(["sample", str(run_dir), "-n", "8", "--out", str(out), *flag]) == 0
        outs[bool(flag)] = np.load(out)["images"]
    assert "using the best generator: epoch 1" in caplog.text and "--last for the final one" in caplog.text
    from mnistgan.sample import sample_uint8

    assert np.array_equal(outs[False], sample_uint8(G1, 8, seed=0))
    assert not np.array_equal(outs[False], outs[True])
    D_best, D_last = load_discriminator(run_dir), load_discriminator(run_dir, last=True)
    assert not all(torch.equal(a, b) for a, b in zip(D_best.state_dict().values(), D_last.state_dict().values()))


def test_evaluator_info_names_the_shipped_one(capsys):
    assert main(["evaluator", "info", "--dataset", "fashion-mnist"]) == 0
    out = capsys.readouterr().out
    assert '"origin": "shipped"' in out and "in use: the shipped fashion-mnist evaluator, test accuracy 9" in out


def test_evaluator_build_says_whether_the_rebuild_matches_the_shipped_weights(monkeypatch, capsys):
    shipped = E.load_shipped(E.EvaluatorRecipe("mnist"))
    monkeypatch.setattr(E, "train_evaluator", lambda recipe, sources: (shipped.net, shipped.test_accuracy))
    assert main(["evaluator", "build"]) == 0  # the same weights, saved into the cache: the same bytes
    assert "bitwise identical to the shipped weights" in capsys.readouterr().out
    monkeypatch.setattr(E, "train_evaluator", lambda recipe, sources: (E.EvaluatorNet(), 0.1))
    assert main(["evaluator", "build", "--force"]) == 0
    out = capsys.readouterr().out
    assert "built into the cache" in out and "test accuracy 10.00%" in out
    assert "differs from the shipped weights" in out and "stay in use" in out
    assert main(["evaluator", "info"]) == 0
    assert "in use: the shipped mnist evaluator" in capsys.readouterr().out


def test_evaluator_without_shipped_weights_is_built_into_the_cache(tiny, capsys):
    _, folder = tiny
    assert main(["evaluator", "info", "--dataset", "tiny"]) == 1
    assert "no tiny evaluator shipped or built yet" in capsys.readouterr().out
    assert main(["evaluator", "build", "--dataset", "tiny", "--data-dir", str(folder)]) == 0
    assert "no shipped tiny evaluator: this cached one is in use" in capsys.readouterr().out
    assert main(["evaluator", "info", "--dataset", "tiny"]) == 0
    assert "in use: the cached tiny evaluator" in capsys.readouterr().out


def test_presets_lists_every_preset_one_line_each(capsys):
    from mnistgan.config import ALIASES, PRESETS

    assert main(["presets"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out] == [*PRESETS, *ALIASES]


def test_a_signal_between_steps_still_gets_its_one_line(monkeypatch, capsys):
    """E.g. Ctrl-C just after a run finished, while it printed its summary: no step to name."""
    import signal

    from mnistgan import cli
    from mnistgan.train.stop import Stopped

    def interrupted(args):
        raise Stopped(signal.SIGINT)

    monkeypatch.setattr(cli, "cmd_presets", interrupted)
    assert main(["presets"]) == 128 + signal.SIGINT
    assert capsys.readouterr().err == "mnistgan: interrupted by SIGINT; nothing was left half-written\n"


@pytest.fixture
def cond_run(tiny, tmp_path):
    _, folder = tiny
    assert main(["train", *TINY, "--preset", "dcgan-cond", "--set", "model.channels=4", "--set", "train.grid_size=20",
                 "--outdir", str(tmp_path / "runs"), "--data-dir", str(folder)]) == 0
    return tmp_path / "runs" / "00000-dcgan-cond-tiny"


def test_sample_draws_a_chosen_digit_and_one_row_per_digit(cond_run, tmp_path, capsys):
    from PIL import Image

    out = tmp_path / "sevens.npz"
    assert main(["sample", str(cond_run), "--digit", "7", "-n", "5", "--out", str(out)]) == 0
    assert np.load(out)["labels"].tolist() == [7] * 5
    rows = tmp_path / "rows.npz"
    assert main(["sample", str(cond_run), "--digits", "2-4,9", "-n", "3", "--out", str(rows)]) == 0
    got = np.load(rows)
    assert got["labels"].tolist() == [2, 2, 2, 3, 3, 3, 4, 4, 4, 9, 9, 9] and got["images"].shape == (12, 28, 28)
    # the same noise in every row: only the label differs
    assert not np.array_equal(got["images"][0], got["images"][3])
    grid = tmp_path / "rows.png"
    assert main(["sample", str(cond_run), "--digits", "0-9", "--out", str(grid)]) == 0
    assert Image.open(grid).size == (10 * 30 + 2, 10 * 30 + 2)  # 10 rows of 10 (28 px + 2 px padding)
    capsys.readouterr()
    assert main(["sample", str(cond_run), "--digit", "12"]) == 2
    assert "between 0 and 9" in capsys.readouterr().err


def test_digit_from_an_unconditional_run_is_a_clear_error(run_dir, capsys):
    assert main(["sample", str(run_dir), "--digits", "0-9"]) == 2
    err = capsys.readouterr().err
    assert "unconditional" in err and len(err.strip().splitlines()) == 1
