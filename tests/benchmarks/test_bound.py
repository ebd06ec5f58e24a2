"""benchmarks/bound.py: the replayer of a step's matrix ops. Its random stand-ins replay
the recorded calls exactly, it keeps them alive as long as anything can replay them (a
CUDA graph reads them at fixed addresses), and on a GPU a captured replay survives the
next capture's empty_cache() (dcgan-cond's bound once died there with an illegal memory
access)."""

from __future__ import annotations

import gc
import sys
import weakref
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))  # the benchmarks are scripts

from bound import MATRIX_OPS, Replay, record, replayer  # noqa: E402
from train_throughput import Variant, library_run  # noqa: E402

from mnistgan.config import PRESETS, apply_overrides  # noqa: E402
from mnistgan.data.sources import Sources, load_split  # noqa: E402

SMALL = {"classic": ["model.hidden=32", "train.batch_size=20"],
         "dcgan-cond": ["model.channels=4", "train.batch_size=20"]}
# R1 and R2 every step: in fp32 their double backward multiplies expanded (stride-0) gradients
R1R2 = ["loss.name=rpgan", "loss.r1_gamma=0.1", "loss.r2_gamma=0.1", "loss.r1_every=1", "loss.r2_every=1"]


def _calls(tiny, preset: str, precision: str, device: str = "cpu", extra: list[str] = ()):
    split = load_split("tiny", "train", Sources(data_dir=tiny[1], download=False))
    cfg = apply_overrides(PRESETS[preset], [*SMALL[preset], *extra])
    one = library_run(cfg, split.images.to(device), split.labels.to(device), Variant(precision, precision))
    one(1)
    return record(lambda: one(1))


@pytest.mark.parametrize("preset, precision, extra", [("classic", "fp32", []), ("dcgan-cond", "bf16", []),
                                                      ("dcgan-cond", "fp32", []), ("dcgan-cond", "fp32", R1R2)])
def test_the_replay_runs_the_recorded_ops_at_their_layouts(tiny, preset, precision, extra):
    """Replayed under the recorder, the stand-ins give back the very calls recorded:
    the same ops, shapes, strides, dtypes and arguments (output masks, transposed flags)."""
    calls = _calls(tiny, preset, precision, extra=extra)
    assert calls and {func for func, _, _ in calls} <= MATRIX_OPS
    if preset.startswith("dcgan"):  # forward and backward of the convolutions, transposed ones included
        convs = [args for func, args, _ in calls if func is torch.ops.aten.convolution.default]
        assert any(args[6] for args in convs) and any(not args[6] for args in convs)
        assert any(func is torch.ops.aten.convolution_backward.default for func, _, _ in calls)
    assert record(replayer(calls)) == calls


def test_what_can_replay_keeps_the_stand_ins_alive(tiny):
    """The function the benchmark keeps (the replay, or on a GPU the graph's replay) holds
    the tensors it reads: dropping everything else frees none of them."""
    replay = replayer(_calls(tiny, "dcgan-cond", "fp32"))
    alive = [weakref.ref(t) for t in replay.inputs()]
    keep = replay.__call__
    del replay
    gc.collect()
    assert all(ref() is not None for ref in alive)
    keep()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_captured_replay_survives_the_next_capture(tiny):
    replay = replayer(_calls(tiny, "dcgan-cond", "bf16", "cuda")).graphed()
    other = Replay(_calls(tiny, "dcgan-cond", "fp32", "cuda")).graphed()  # its capture empties the cache
    gc.collect()
    torch.cuda.empty_cache()
    for _ in range(3):
        replay()
        other()
    torch.cuda.synchronize()
