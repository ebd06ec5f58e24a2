"""The classic preset trains bitwise as it did before the model-zoo refactor.

The digests below were produced by the pre-refactor code (commit 5c99a98) with this very
run. Float results depend on the CPU's vector instructions, so the pin holds where it was
made (x86-64 with AVX-512, as on the project's machines and CI); elsewhere it is skipped.
"""

from __future__ import annotations

import hashlib

import pytest
import torch

from mnistgan.config import load_config
from mnistgan.data.sources import Sources
from mnistgan.train.loop import train

PINNED_CAPABILITY = "AVX512"
PINNED = {
    "G": "ed1853280c631eb1fbee1f718ee83b7c94bee44260405fe4195b1f98b7394b4c",
    "D": "b2c17a2d1ead329bf2a0414da3bcbd748b36b8ec7256d5ed969388e08d376a07",
}


def digest(module: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for name, t in module.state_dict().items():
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def run_classic(tmp_path, folder) -> dict[str, str]:
    cfg = load_config("classic", overrides=["data.name='tiny'", "train.batch_size=50", "train.epochs=3",
                                             "train.grid_size=16", "eval.every=0"])
    state = train(cfg, tmp_path / "run", sources=Sources(data_dir=folder, download=False))
    return {"G": digest(state.G), "D": digest(state.D)}


@pytest.mark.skipif(torch.backends.cpu.get_cpu_capability() != PINNED_CAPABILITY,
                    reason="the pinned digests were made on an AVX-512 CPU")
def test_classic_weights_unchanged(tmp_path, tiny):
    assert run_classic(tmp_path, tiny[1]) == PINNED
