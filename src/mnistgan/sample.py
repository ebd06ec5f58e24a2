"""Loading a trained generator from a run folder, weights file or checkpoint, and sampling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from mnistgan.config import RunConfig
from mnistgan.data.datasets import to_uint8
from mnistgan.errors import CheckpointError
from mnistgan.images import make_grid, save_png, upscale
from mnistgan.models import Generator, build_discriminator, build_generator
from mnistgan.train import checkpoint


def resolve(path: str | Path) -> Path:
    """A run folder means its generator.safetensors, else its newest training state."""
    path = Path(path)
    if path.is_dir():
        weights = path / "generator.safetensors"
        if weights.is_file():
            return weights
        states = checkpoint.list_states(path)
        if not states:
            raise CheckpointError(f"{path}: no generator.safetensors or checkpoint in this folder")
        return states[-1]
    if not path.exists():
        raise CheckpointError(f"{path}: no such file or folder")
    return path


def load_generator_and_config(path: str | Path, device: str | torch.device = "cpu") -> tuple[Generator, RunConfig]:
    src = resolve(path)
    if src.suffix == ".safetensors":
        weights, cfg = checkpoint.load_generator_file(src)
    else:
        state = checkpoint.load_state(src)
        weights, cfg = state["G"], checkpoint.config_of(state, src)
    G = build_generator(cfg.model)
    try:
        G.load_state_dict(weights)
    except RuntimeError as e:
        raise CheckpointError(f"{src}: weights do not fit the model in its config ({str(e).splitlines()[0][:160]})") from None
    return G.to(device).eval(), cfg


def epoch_of(path: str | Path) -> int | None:
    """The epoch a generator file or training state was saved at."""
    src = resolve(path)
    if src.suffix == ".safetensors":
        return checkpoint.generator_epoch(src)
    return int(checkpoint.load_state(src)["epoch"])


def load_generator(path: str | Path, device: str | torch.device = "cpu") -> Generator:
    """A trained generator, in eval mode. `G.sample(n, seed=0)` gives [n, 1, 28, 28] in [-1, 1]."""
    return load_generator_and_config(path, device)[0]


def sample_uint8(G: Generator, n: int, seed: int = 0) -> np.ndarray:
    """n images as uint8 [n, 28, 28], 0 = black background as in MNIST."""
    return to_uint8(G.sample(n, seed=seed)).cpu().numpy()[:, 0]


def write_samples(G: Generator, out: Path, n: int = 64, seed: int = 0, fmt: str | None = None,
                  scale: int = 1) -> Path:
    """Write n samples as a PNG grid or as an .npz holding `images` uint8 [n, 28, 28]."""
    fmt = fmt or ("npz" if out.suffix == ".npz" else "png")
    images = sample_uint8(G, n, seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "npz":
        np.savez_compressed(out, images=images, seed=np.int64(seed))
    elif fmt == "png":
        save_png(out, upscale(make_grid(images), scale))
    else:
        raise ValueError(f"unknown format {fmt!r} (png or npz)")
    return out


def load_discriminator(path: str | Path, device: str | torch.device = "cpu") -> torch.nn.Module | None:
    """The trained D from a run folder's newest training state or a state file; None for a
    weights-only generator file (it holds no D)."""
    path = Path(path)
    states = checkpoint.list_states(path) if path.is_dir() else [path] if path.suffix == ".pt" else []
    if not states:
        return None
    state = checkpoint.load_state(states[-1])
    D = build_discriminator(checkpoint.config_of(state, states[-1]).model)
    try:
        D.load_state_dict(state["D"])
    except RuntimeError as e:
        raise CheckpointError(f"{states[-1]}: D weights do not fit its config ({str(e).splitlines()[0][:160]})") from None
    return D.to(device).eval()
