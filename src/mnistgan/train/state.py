"""The training state: everything that changes during training, and the one schema that
checkpoints hold (with the config): `state_to_save` writes it, `restore_state` reads it."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from mnistgan.config import RunConfig
from mnistgan.errors import CheckpointError
from mnistgan.models import Generator, build_discriminator, build_generator


@dataclass
class EpochProgress:
    """Where a run is inside an epoch: what a mid-epoch checkpoint adds to the state."""

    data_state: torch.Tensor  # data_gen's state at the epoch's start: redraws the same shuffle
    sums: torch.Tensor  # [4] d_loss, g_loss, D(x), D(G(z)) summed since the last metrics line
    epoch_sums: torch.Tensor  # [4] the same, summed over the epoch's earlier lines
    batch: int = 0  # batches done in this epoch
    count: int = 0  # steps since the last metrics line


@dataclass
class TrainState:
    """Everything that changes during training; checkpoints hold exactly this plus the config."""

    G: Generator
    D: nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    data_gen: torch.Generator  # CPU: the shuffling order
    noise_gen: torch.Generator  # on the training device: z for each step
    fixed_noise: torch.Tensor  # [grid_size, z_dim]: the same z for every epoch's grid
    epoch: int = 0  # epochs completed
    step: int = 0  # optimizer steps completed
    progress: EpochProgress | None = None  # inside an epoch; None between epochs


def init_state(cfg: RunConfig, device: torch.device) -> TrainState:
    """Fresh models and optimizers, every random choice derived from cfg.train.seed."""
    t = cfg.train
    torch.manual_seed(t.seed)
    G = build_generator(cfg.model).to(device)
    D = build_discriminator(cfg.model).to(device)
    fused = device.type in ("cpu", "cuda")  # one kernel per update instead of ~10 per tensor
    return TrainState(
        G=G,
        D=D,
        opt_g=torch.optim.Adam(G.parameters(), lr=t.lr_g, betas=(t.beta1, t.beta2), fused=fused),
        opt_d=torch.optim.Adam(D.parameters(), lr=t.lr_d, betas=(t.beta1, t.beta2), fused=fused),
        data_gen=torch.Generator().manual_seed(t.seed + 1),
        noise_gen=torch.Generator(device).manual_seed(t.seed + 2),
        fixed_noise=G.noise(t.grid_size, t.seed + 3).to(device),
    )


def state_to_save(state: TrainState, cfg: RunConfig) -> dict[str, Any]:
    np_state: tuple[Any, ...] = np.random.get_state(legacy=True)  # type: ignore[assignment]
    p = state.progress
    rng = {
        "data": p.data_state if p else state.data_gen.get_state(),
        "noise": state.noise_gen.get_state(),
        "torch": torch.get_rng_state(),
        "numpy_keys": torch.from_numpy(np_state[1].astype(np.int64)),
        "numpy_pos": int(np_state[2]),
        "python": list(random.getstate()[1]),
    }
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    saved = {
        "config": cfg.to_json(), "epoch": state.epoch, "step": state.step,
        "G": state.G.state_dict(), "D": state.D.state_dict(),
        "opt_g": state.opt_g.state_dict(), "opt_d": state.opt_d.state_dict(),
        "rng": rng, "fixed_noise": state.fixed_noise.cpu(),
    }
    if p:
        saved["progress"] = {"batch": p.batch, "count": p.count, "sums": p.sums.cpu(), "epoch_sums": p.epoch_sums.cpu()}
    return saved


def restore_state(state: TrainState, saved: dict[str, Any], where: Path) -> None:
    try:
        state.G.load_state_dict(saved["G"])
        state.D.load_state_dict(saved["D"])
        state.opt_g.load_state_dict(saved["opt_g"])
        state.opt_d.load_state_dict(saved["opt_d"])
        rng = saved["rng"]
        state.data_gen.set_state(rng["data"])
        state.noise_gen.set_state(rng["noise"])
        torch.set_rng_state(rng["torch"])
        np.random.set_state(("MT19937", rng["numpy_keys"].numpy().astype(np.uint32), rng["numpy_pos"], 0, 0.0))
        random.setstate((3, tuple(rng["python"]), None))
        if "cuda" in rng and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])
        state.fixed_noise = saved["fixed_noise"].to(state.fixed_noise.device)
        state.epoch, state.step = int(saved["epoch"]), int(saved["step"])
        if "progress" in saved:
            p, device = saved["progress"], state.fixed_noise.device
            if p["sums"].shape != (4,) or p["epoch_sums"].shape != (4,):
                raise ValueError("bad mid-epoch progress")
            state.progress = EpochProgress(rng["data"], p["sums"].to(device), p["epoch_sums"].to(device),
                                           int(p["batch"]), int(p["count"]))
    except (KeyError, RuntimeError, TypeError, ValueError, AttributeError) as e:
        raise CheckpointError(f"{where}: does not match this model ({str(e).splitlines()[0][:160]})") from None
