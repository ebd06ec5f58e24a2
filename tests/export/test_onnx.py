"""ONNX export: every preset's generator runs in onnxruntime, with torch not even
importable, and matches torch on a seeded batch; EMA weights are the ones exported."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from mnistgan.cli import main  # noqa: E402
from mnistgan.config import PRESETS, ModelConfig  # noqa: E402
from mnistgan.export.onnx import TOLERANCE, export_onnx, fold_parametrizations, inputs_for  # noqa: E402
from mnistgan.io.state import load_state  # noqa: E402
from mnistgan.io.weights import save_generator  # noqa: E402
from mnistgan.models import build_discriminator, build_generator  # noqa: E402

# onnxruntime and numpy alone: docs/how-to/export.md's lines, with torch made unimportable
RUN_WITHOUT_TORCH = r"""
import sys, json
sys.modules["torch"] = None  # any `import torch` now fails
import numpy as np, onnxruntime as ort
model, feeds_file, out_file = sys.argv[1:]
session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
feeds = dict(np.load(feeds_file))
(images,) = session.run(["images"], feeds)
meta = session.get_modelmeta().custom_metadata_map
np.savez(out_file, images=images)
print(json.dumps({"inputs": [i.name for i in session.get_inputs()], "meta": meta}))
"""


def tiny_generator(preset: str) -> tuple[torch.nn.Module, object]:
    """The preset's architecture at tiny widths, with BatchNorm statistics that are not
    the defaults (a few training-mode passes), so folding them into the graph is tested."""
    cfg = PRESETS[preset]
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, z_dim=8, hidden=16, channels=4))
    torch.manual_seed(0)
    G = build_generator(cfg.model)
    G.train()
    with torch.no_grad():
        for i in range(3):
            G(torch.randn(32, 8) * 2 + 0.5, G.labels(32))
    return G.eval(), cfg


def run_without_torch(model: Path, feeds: dict[str, np.ndarray], tmp_path: Path) -> tuple[np.ndarray, dict]:
    np.savez(tmp_path / "feeds.npz", **feeds)
    out = subprocess.run([sys.executable, "-c", RUN_WITHOUT_TORCH, str(model), str(tmp_path / "feeds.npz"),
                          str(tmp_path / "out.npz")], capture_output=True, text=True, check=True)
    return np.load(tmp_path / "out.npz")["images"], json.loads(out.stdout)


@pytest.mark.parametrize("preset", list(PRESETS))
def test_every_preset_matches_torch_in_onnxruntime_without_torch(preset, tmp_path):
    G, cfg = tiny_generator(preset)
    weights = tmp_path / "generator.safetensors"
    save_generator(weights, G, cfg, epoch=3)
    out, diff = export_onnx(weights, tmp_path / "g.onnx")
    assert diff <= TOLERANCE
    for n, seed in ((1, 5), (37, 6)):  # a dynamic batch: sizes other than the traced one
        feeds = inputs_for(G, n, seed)
        got, info = run_without_torch(out, feeds, tmp_path)
        want = G.sample(n, seed=seed).numpy()
        assert got.shape == (n, 1, 28, 28) and got.dtype == np.float32
        assert np.abs(got - want).max() <= 1e-4
        assert got.min() >= -1 and got.max() <= 1
    assert info["inputs"] == (["z", "label"] if G.num_classes else ["z"])
    assert info["meta"]["mnistgan.z_dim"] == "8" and info["meta"]["mnistgan.epoch"] == "3"
    assert info["meta"]["mnistgan.num_classes"] == str(G.num_classes) and info["meta"]["mnistgan.preset"] == preset


def test_the_residual_generator_matches_torch_in_onnxruntime(tmp_path):
    cfg = dataclasses.replace(PRESETS["classic-cond"], model=ModelConfig(arch="resnet", z_dim=8, channels=16,
                                                                          num_classes=10))
    torch.manual_seed(0)
    G = build_generator(cfg.model).eval()
    with torch.no_grad():  # its blocks start as the identity (fix-up): give every branch weights
        for p in G.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    weights = tmp_path / "generator.safetensors"
    save_generator(weights, G, cfg, epoch=1)
    out, diff = export_onnx(weights, tmp_path / "g.onnx")
    got, _ = run_without_torch(out, inputs_for(G, 7, 3), tmp_path)
    assert diff <= TOLERANCE and np.abs(got - G.sample(7, seed=3).numpy()).max() <= 1e-4


@pytest.mark.parametrize("g_cond", ["concat", "cbn"])
def test_each_way_of_conditioning_g_matches_torch_in_onnxruntime(g_cond, tmp_path):
    cfg = dataclasses.replace(PRESETS["dcgan-cond"], model=ModelConfig(arch="dcgan", z_dim=8, channels=4,
                                                                        num_classes=10, g_cond=g_cond))
    torch.manual_seed(0)
    G = build_generator(cfg.model).eval()
    with torch.no_grad():  # cbn starts label-blind (gain 1, bias 0): give every class weights of its own
        for p in G.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    weights = tmp_path / "generator.safetensors"
    save_generator(weights, G, cfg, epoch=1)
    out, diff = export_onnx(weights, tmp_path / "g.onnx")
    got, _ = run_without_torch(out, inputs_for(G, 7, 3), tmp_path)
    assert diff <= TOLERANCE and np.abs(got - G.sample(7, seed=3).numpy()).max() <= 1e-4


def test_the_label_input_draws_the_requested_digit(tmp_path):
    G, cfg = tiny_generator("dcgan-cond")
    weights = tmp_path / "generator.safetensors"
    save_generator(weights, G, cfg, epoch=1)
    out, _ = export_onnx(weights, tmp_path / "g.onnx")
    z = G.noise(4, 0).numpy()
    sevens, _ = run_without_torch(out, {"z": z, "label": np.full(4, 7, dtype=np.int64)}, tmp_path)
    assert np.abs(sevens - G.sample(4, seed=0, digit=7).numpy()).max() <= 1e-4
    threes, _ = run_without_torch(out, {"z": z, "label": np.full(4, 3, dtype=np.int64)}, tmp_path)
    assert np.abs(sevens - threes).max() > 1e-3


def test_spectral_norm_folds_into_plain_weights():
    cfg = dataclasses.replace(PRESETS["dcgan"].model, channels=4, spectral_norm=True)
    torch.manual_seed(0)
    D = build_discriminator(cfg).train()
    x = torch.randn(5, 1, 28, 28)
    D(x)  # one power iteration: the stored vectors now differ from their initial values
    D.eval()
    folded = fold_parametrizations(D)
    assert not any(hasattr(m, "parametrizations") for m in folded.modules())
    assert torch.allclose(folded(x), D(x), atol=1e-6)


def test_cli_exports_a_run_with_its_ema_weights(tiny, tmp_path, capsys):
    _, folder = tiny
    args = ["train", "--preset", "dcgan", "--set", "data.name=tiny", "--set", "model.channels=4",
            "--set", "train.batch_size=50", "--set", "train.epochs=1", "--set", "train.grid_size=4",
            "--set", "train.precision=fp32", "--set", "train.ema_halflife=10000", "--set", "train.ema_rampup=0", "--eval-every", "0",
            "--outdir", str(tmp_path / "runs"), "--data-dir", str(folder)]
    assert main(args) == 0
    run = tmp_path / "runs" / "00000-dcgan-tiny"
    assert main(["export", str(run), "--format", "onnx"]) == 0
    assert "onnxruntime matches torch" in capsys.readouterr().out
    state = load_state(run / "checkpoints" / "state-000001.pt")
    images = {}
    for key in ("G", "G_ema"):
        G = build_generator(ModelConfig(arch="dcgan", channels=4))
        G.load_state_dict(state[key])
        images[key] = G.eval().sample(8, seed=0).numpy()
    got, _ = run_without_torch(run / "generator.onnx", inputs_for(G, 8, 0), tmp_path)
    assert np.abs(got - images["G_ema"]).max() <= 1e-4
    assert np.abs(got - images["G"]).max() > 1e-3  # the EMA, not the raw weights


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["export", str(tmp_path / "nope")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    G, cfg = tiny_generator("classic")
    save_generator(tmp_path / "g.safetensors", G, cfg, epoch=1)
    (tmp_path / "dir").mkdir()
    assert main(["export", str(tmp_path / "g.safetensors"), "--out", str(tmp_path / "dir")]) == 2
    assert "a folder; --out needs a file name" in capsys.readouterr().err
