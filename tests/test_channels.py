"""Images of 3 channels end to end (issue 20): a tiny Stacked MNIST run trains, samples
RGB PNGs and [N, 3, 28, 28] npz files, exports to ONNX, serves colour grids and reports;
a model never meets data of the other channel count without a one-line error."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from mnistgan.cli import main
from mnistgan.config import load_config
from mnistgan.data.sources import Sources, load_split
from mnistgan.errors import ConfigError
from mnistgan.train.loop import train

from .conftest import STACKED_RUN as RUN
from .conftest import write_png_set


def test_a_three_channel_run_end_to_end(stacked_run, tiny_stacked, tmp_path, capsys):
    cfg = json.loads((stacked_run / "config.json").read_text())
    assert cfg["model"]["img_channels"] == 3 and cfg["eval"]["n"] == 120  # from the dataset
    light = [json.loads(x) for x in (stacked_run / "metrics.jsonl").read_text().splitlines() if '"eval_n"' in x]
    assert light and {"fid_lenet", "modes", "mode_kl"} <= set(light[-1]["eval"]) <= set(light[-1]["floor"])
    assert "classes_covered" not in light[-1]["eval"]  # its classes are the modes
    assert Image.open(stacked_run / "samples" / "epoch_0002.png").mode == "RGB"
    png, npz = tmp_path / "s.png", tmp_path / "s.npz"
    assert main(["sample", str(stacked_run), "-n", "4", "--out", str(png)]) == 0
    assert main(["sample", str(stacked_run), "-n", "4", "--out", str(npz)]) == 0
    assert Image.open(png).mode == "RGB"
    assert np.load(npz)["images"].shape == (4, 3, 28, 28)
    onnx = tmp_path / "g.onnx"
    assert main(["export", str(stacked_run), "--out", str(onnx)]) == 0
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx), providers=["CPUExecutionProvider"])
    (images,) = session.run(["images"], {"z": np.zeros((2, 64), np.float32)})
    assert images.shape == (2, 3, 28, 28)
    assert main(["report", str(stacked_run)]) == 0
    assert (stacked_run / "report.html").is_file()
    capsys.readouterr()
    assert main(["evaluate", str(stacked_run), "-n", "100", "--data-dir", str(tiny_stacked[1])]) == 0
    out = capsys.readouterr().out
    assert "Modes covered (Stacked MNIST)" in out and "PacDCGAN2" in out  # beside the published rows
    result = json.loads((stacked_run / "metrics.json").read_text())
    assert 1 <= result["metrics"]["modes"]["value"] <= 100 and result["metrics"]["modes"]["real"] >= 1
    assert result["classes"] is None and result["conditional"] is None
    assert "Modes covered" in (stacked_run / "MODEL_CARD.md").read_text()


def test_serve_draws_colour_grids(stacked_run, tiny_stacked):
    from fastapi.testclient import TestClient

    from mnistgan.serve.app import create_app

    sources = Sources(data_dir=tiny_stacked[1], download=False)
    with TestClient(create_app(stacked_run.parent, sources), raise_server_exceptions=False) as client:
        reply = client.get("/api/sample", params={"n": 4})
        assert reply.status_code == 200
        assert Image.open(io.BytesIO(reply.content)).mode == "RGB"
        round_ = client.get("/api/game/round")
        assert round_.status_code == 200 and round_.json()["image"].startswith("data:image/png")


def test_a_channel_mismatch_is_one_line_naming_both_counts(tiny_stacked, tmp_path, capsys):
    folder = tiny_stacked[1]
    assert main(["train", *RUN, "--set", "model.img_channels=1", "--outdir", str(tmp_path / "runs"),
                 "--data-dir", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "model.img_channels is 1 but tiny-stacked has 3-channel images" in err
    cfg = load_config("classic", overrides=["data.name='tiny-stacked'", "eval.every=0"])  # grey model, RGB data
    with pytest.raises(ConfigError, match="model.img_channels is 1 but tiny-stacked has 3-channel images"):
        train(cfg, tmp_path / "run", sources=Sources(data_dir=folder, download=False))


def test_a_grey_generator_meets_three_channel_data_with_one_line(tiny_run, tiny_stacked, tmp_path, capsys):
    """A 1-channel run whose config is pointed at a 3-channel set, by hand."""
    cfg = json.loads((tiny_run / "config.json").read_text())
    cfg["data"]["name"] = "tiny-stacked"
    (tiny_run / "config.json").write_text(json.dumps(cfg))
    capsys.readouterr()
    assert main(["train", "--resume", str(tiny_run), "--data-dir", str(tiny_stacked[1])]) == 2
    assert "model.img_channels is 1 but tiny-stacked has 3-channel images" in capsys.readouterr().err


@pytest.mark.parametrize("colour", [False, True])
def test_data_import_of_an_rgb_folder_is_grey_unless_asked(tmp_path, colour, capsys):
    src = write_png_set(tmp_path / "pngs", per_class=4)
    for path in src.rglob("*.png"):  # tint every image: a red digit on white
        im = np.asarray(Image.open(path).convert("RGB")).copy()
        im[..., 1:] = np.maximum(im[..., 1:], 200)
        Image.fromarray(im).save(path)
    args = ["data", "import", str(src), "--name", "tinted", "--invert"] + (["--colour"] if colour else [])
    assert main(args) == 0
    capsys.readouterr()
    images = load_split("tinted", "train", Sources(cache_dir=tmp_path / "xdg-cache" / "mnistgan", download=False)).images
    if colour:
        assert images.shape[1:] == (3, 28, 28)
        assert (images[:, 0].float().mean() > 2 * images[:, 1].float().mean())  # red ink stays red
    else:
        assert images.shape[1:] == (28, 28)


def test_a_packed_d_run_end_to_end(tiny_stacked, tmp_path, capsys):
    """PacGAN (model.pack=2) on Stacked MNIST: trains, resumes its D, evaluates D over packs,
    and the web app says why its D gives no verdict on one image."""
    from fastapi.testclient import TestClient

    from mnistgan.serve.app import create_app

    folder, runs = tiny_stacked[1], tmp_path / "runs"
    assert main(["train", *RUN, "--set", "model.pack=2", "--outdir", str(runs), "--data-dir", str(folder)]) == 0
    run = runs / "00000-classic-tiny-stacked"
    assert main(["train", "--resume", str(run), "--set", "train.epochs=3", "--data-dir", str(folder)]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(run), "-n", "100", "--data-dir", str(folder)]) == 0
    d = json.loads((run / "metrics.json").read_text())["discriminator"]
    assert d is not None and 0 <= d["accuracy"] <= 1 and d["roc_auc"] is not None
    with TestClient(create_app(runs, Sources(data_dir=folder, download=False)), raise_server_exceptions=False) as c:
        info = c.get("/api/info").json()
        assert info["discriminator"] is False and "packs of 2 images" in info["d_missing"]
