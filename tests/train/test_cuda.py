"""The same loop on a GPU, where one is present (skipped on CPU-only machines)."""

from __future__ import annotations

import pytest
import torch

from mnistgan.config import load_config
from mnistgan.data.sources import Sources
from mnistgan.sample import load_generator
from mnistgan.train.loop import train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

SETTINGS = ["data.name='tiny'", "train.batch_size=50", "train.log_every=3", "train.grid_size=16"]


def test_cuda_training_resumes_exactly_and_its_weights_load_on_the_cpu(tmp_path, tiny):
    _, folder = tiny
    src = Sources(data_dir=folder, download=False)

    def run(name: str, epochs: int, resume: bool = False):
        (tmp_path / name).mkdir(exist_ok=True)
        cfg = load_config(overrides=[*SETTINGS, f"train.epochs={epochs}"])
        return train(cfg, tmp_path / name, sources=src, device="cuda", resume=resume)

    whole = run("whole", 4)
    run("split", 2)
    resumed = run("split", 4, resume=True)
    assert whole.G.net[0].weight.is_cuda
    for a, b in zip(whole.G.state_dict().values(), resumed.G.state_dict().values()):
        assert torch.equal(a, b)
    G = load_generator(tmp_path / "whole")  # saved from the GPU, loaded on the CPU
    assert torch.allclose(G.sample(8, seed=0), whole.G.cpu().sample(8, seed=0), atol=1e-5)
