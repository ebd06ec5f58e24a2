"""The fast paths on the CPU: --compile trains the eager run (to float rounding), and
--cuda-graphs without a GPU is a one-line error. Their GPU side is tests/train/test_cuda.py."""

from __future__ import annotations

import pytest
import torch

from mnistgan.cli import main
from mnistgan.config import load_config
from mnistgan.data.sources import Sources
from mnistgan.train.fast import FastPath
from mnistgan.train.loop import train

SETTINGS = ["data.name='tiny'", "train.batch_size=50", "train.grid_size=16", "eval.every=0", "model.hidden=32",
            "train.epochs=1"]


def test_compiled_modules_train_the_eager_run_to_rounding(tmp_path, tiny):
    cfg = load_config(overrides=SETTINGS)
    src = Sources(data_dir=tiny[1], download=False)
    runs = {}
    for name, fast in (("eager", FastPath()), ("compiled", FastPath(compile=True))):
        (tmp_path / name).mkdir()
        runs[name] = train(cfg, tmp_path / name, sources=src, fast=fast)
    eager, compiled = runs["eager"], runs["compiled"]
    assert compiled.step == eager.step == 4
    for (name, a), b in zip(eager.G.state_dict().items(), compiled.G.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-5), name  # inductor fuses, so the last bits may differ
    assert not isinstance(compiled.G, torch._dynamo.eval_frame.OptimizedModule)  # the raw module holds the state


def test_cuda_graphs_need_a_gpu(tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert main(["train", "--cuda-graphs", "--outdir", str(tmp_path)]) == 2
    assert "--cuda-graphs needs a CUDA device (--device cuda)" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
