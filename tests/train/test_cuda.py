"""The same loop on a GPU, and its fast paths (skipped on CPU-only machines)."""

from __future__ import annotations

import pytest
import torch

from mnistgan.config import load_config
from mnistgan.data.sources import Sources
from mnistgan.sample import load_generator
from mnistgan.train.fast import FastPath
from mnistgan.train.loop import train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

SETTINGS = ["data.name='tiny'", "train.batch_size=50", "train.log_every=3", "train.grid_size=16", "eval.every=0"]
GRAPHS = FastPath(cuda_graphs=True)


def _train(tmp_path, tiny, name: str, epochs: int, *extra: str, resume: bool = False, fast: FastPath = FastPath(),
           preset: str = "classic"):
    (tmp_path / name).mkdir(exist_ok=True)
    cfg = load_config(preset, overrides=[*SETTINGS, f"train.epochs={epochs}", *extra])
    return train(cfg, tmp_path / name, sources=Sources(data_dir=tiny[1], download=False), device="cuda",
                 resume=resume, fast=fast)


def _same(a, b) -> None:
    for (name, x), y in zip(a.G.state_dict().items(), b.G.state_dict().values()):
        assert torch.equal(x, y), name
    for (name, x), y in zip(a.D.state_dict().items(), b.D.state_dict().values()):
        assert torch.equal(x, y), name


def test_cuda_training_resumes_exactly_and_its_weights_load_on_the_cpu(tmp_path, tiny):
    whole = _train(tmp_path, tiny, "whole", 4)
    _train(tmp_path, tiny, "split", 2)
    _same(whole, _train(tmp_path, tiny, "split", 4, resume=True))
    assert whole.G.net[0].weight.is_cuda
    G = load_generator(tmp_path / "whole")  # saved from the GPU, loaded on the CPU
    assert torch.allclose(G.sample(8, seed=0), whole.G.cpu().sample(8, seed=0), atol=1e-5)


@pytest.mark.parametrize("extra", [[], ["train.precision='bf16'"], ["loss.name='hinge'", "loss.label_smoothing=0",
                                                                     "loss.r1_gamma=1", "loss.r1_every=2"]])
def test_cuda_graphs_train_the_eager_run_and_resume_exactly(tmp_path, tiny, extra):
    """A graph replays the eager step's kernels: the same weights, bitwise; also across a
    resume (which warms up eagerly again) and with R1 (a second graph for its steps)."""
    eager = _train(tmp_path, tiny, "eager", 4, *extra)
    graphed = _train(tmp_path, tiny, "graphs", 4, *extra, fast=GRAPHS)
    _same(eager, graphed)
    _train(tmp_path, tiny, "split", 2, *extra, fast=GRAPHS)
    _same(eager, _train(tmp_path, tiny, "split", 4, *extra, resume=True, fast=GRAPHS))


@pytest.mark.parametrize("preset", ["classic", "dcgan-cond"])
def test_compiled_training_matches_eager_closely(tmp_path, tiny, preset):
    """torch.compile fuses kernels, so floats may round differently: close, not equal."""
    extra = ["model.channels=8"] if preset.startswith("dcgan") else []
    eager = _train(tmp_path, tiny, "eager", 1, *extra, preset=preset)
    compiled = _train(tmp_path, tiny, "compiled", 1, *extra, preset=preset, fast=FastPath(compile=True, cuda_graphs=True))
    for x, y in zip(eager.G.state_dict().values(), compiled.G.state_dict().values()):
        assert torch.allclose(x.float(), y.float(), atol=1e-3)


def test_dcgan_resumes_exactly_on_the_gpu(tmp_path, tiny):
    extra = ["model.channels=8"]
    whole = _train(tmp_path, tiny, "whole", 3, *extra, preset="dcgan-cond")
    _train(tmp_path, tiny, "split", 1, *extra, preset="dcgan-cond")
    _same(whole, _train(tmp_path, tiny, "split", 3, *extra, resume=True, preset="dcgan-cond"))


@pytest.mark.parametrize("preset, extra", [("classic", []), ("dcgan-cond", ["model.channels=8"])])
def test_k_steps_per_graph_train_the_eager_run_and_resume_exactly(tmp_path, tiny, preset, extra):
    """Four steps per replay, their rows gathered and their noise drawn inside the graph
    (the noise generator registered with it): the eager per-step run, bitwise, and a
    resume (eager warm-up, then new graphs) continues it exactly on the same GPU."""
    k4 = FastPath(cuda_graphs=True, steps_per_graph=4)
    eager = _train(tmp_path, tiny, "eager", 4, *extra, preset=preset)
    graphed = _train(tmp_path, tiny, "graphs", 4, *extra, preset=preset, fast=k4)
    _same(eager, graphed)
    assert torch.equal(eager.noise_gen.get_state(), graphed.noise_gen.get_state())
    _train(tmp_path, tiny, "split", 2, *extra, preset=preset, fast=k4)
    resumed = _train(tmp_path, tiny, "split", 4, *extra, preset=preset, fast=k4, resume=True)
    _same(graphed, resumed)
    assert torch.equal(graphed.noise_gen.get_state(), resumed.noise_gen.get_state())


@pytest.mark.parametrize("k", [1, 4])
def test_cuda_graphs_follow_a_falling_learning_rate_and_resume_exactly(tmp_path, tiny, k):
    """train.lr_decay_start under --cuda-graphs (best's schedule): a replay reads the rates the
    schedule fills into 0-d tensors on the GPU (fused Adam reads them there), so the run follows
    the eager one to the fp32 rounding of its rates (on the CPU, a run that kept its first rates
    ends ~1e-3 away: tests/train/test_schedule.py) and resumes exactly."""
    fast, decay = FastPath(cuda_graphs=True, steps_per_graph=k), "train.lr_decay_start=0.5"
    eager = _train(tmp_path, tiny, "eager", 4, decay)
    graphed = _train(tmp_path, tiny, "graphs", 4, decay, fast=fast)
    for (name, x), y in zip(eager.G.state_dict().items(), graphed.G.state_dict().values()):
        assert torch.allclose(x, y, rtol=0, atol=1e-5), name
    assert [float(g["lr"]) for opt in (graphed.opt_g, graphed.opt_d) for g in opt.param_groups] == [0, 0]
    _train(tmp_path, tiny, "split", 2, decay, fast=fast)
    _same(graphed, _train(tmp_path, tiny, "split", 4, decay, fast=fast, resume=True))
