"""Every preset trains bitwise as it did before the refactors that could have moved it.

The classic digests were produced by the code before the model-zoo refactor (commit
5c99a98), the others by the code before the speed work (commit 93552f2), with these very
runs: so the quality table's runs are the same runs. Float results depend on the CPU's
vector instructions (and bf16 on its AMX units), so the pins hold where they were made
(x86-64 with AVX-512 and AMX, as on the project's machines and CI); elsewhere they are
skipped.
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
    "classic": {
        "G": "ed1853280c631eb1fbee1f718ee83b7c94bee44260405fe4195b1f98b7394b4c",
        "D": "b2c17a2d1ead329bf2a0414da3bcbd748b36b8ec7256d5ed969388e08d376a07",
    },
    "classic-cond": {
        "G": "93c435977e219c5c9cb06c82b4738df4d0725e73876eb73086d235257cc5003b",
        "D": "99064097417ddbdc11a4ef58f823efbd260a2ed465776e60ff802d0c9e015fca",
    },
    "dcgan": {
        "G": "30d6247f4b7008fcbb4863fb8cb4cbf8a16cf20d58e665962d3fa96fe932a3a7",
        "D": "1ea0f75746d9cc6e2b23b0b2a720111a46af09dbf75ee16d8f47ad7a6c06500a",
        "G_ema": "9f744e3f84ece49a342d6b94e7a7fb6711742ee215abf3516aba3106631267db",
    },
    "dcgan-cond": {
        "G": "b6bd9fba7c0b25adbd486796357ca03b3524002344f56fcf82f0bf29599af58e",
        "D": "e06f20f69af192327081f2f768df23b4133c7ebdd66a5d65ecb402fa07b34ab0",
        "G_ema": "a840a01bb1f00d93c67ec3a0516372395ef128fd6c35ebec4fbc34e69c2e7b5d",
    },
}


def digest(module: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for name, t in module.state_dict().items():
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def run_preset(preset: str, tmp_path, folder) -> dict[str, str]:
    extra = ["model.channels=8"] if preset.startswith("dcgan") else []  # small convs: a fast test
    cfg = load_config(preset, overrides=["data.name='tiny'", "train.batch_size=50", "train.epochs=3",
                                         "train.grid_size=16", "eval.every=0", *extra])
    state = train(cfg, tmp_path / "run", sources=Sources(data_dir=folder, download=False))
    return {name: digest(net) for name, net in state.networks()}


@pytest.mark.skipif(torch.backends.cpu.get_cpu_capability() != PINNED_CAPABILITY,
                    reason="the pinned digests were made on an AVX-512 CPU")
@pytest.mark.parametrize("preset", list(PINNED))
def test_preset_weights_unchanged(tmp_path, tiny, preset):
    assert run_preset(preset, tmp_path, tiny[1]) == PINNED[preset]
