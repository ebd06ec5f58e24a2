"""The training state: everything that changes during training, and the one schema that
checkpoints hold (with the config). `TrainState.state_dict` writes it and
`load_state_dict` reads it back; io/state.py puts it on disk."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mnistgan.config import RunConfig
from mnistgan.errors import CheckpointError, first_line
from mnistgan.models import Discriminator, Generator, build_discriminator, build_generator
from mnistgan.train.augment import Augment, build_augment
from mnistgan.train.ema import ema_copy
from mnistgan.train.step import Objective


@dataclass
class EpochProgress:
    """Where a run is inside an epoch: what a mid-epoch checkpoint adds to the state."""

    data_state: torch.Tensor  # data_gen's state at the epoch's start: redraws the same shuffle
    sums: torch.Tensor  # [K] the K logged stats summed since the last metrics line
    epoch_sums: torch.Tensor  # [K] the same, summed over the epoch's earlier lines
    batch: int = 0  # steps done in this epoch
    count: int = 0  # steps since the last metrics line


def grid_labels(n: int, num_classes: int) -> torch.Tensor | None:
    """Labels for an n-image grid of ceil(sqrt(n)) columns: one row per class (row r
    draws class r mod C); None for an unconditional model."""
    if not num_classes:
        return None
    cols = int(np.ceil(np.sqrt(n)))
    return (torch.arange(n) // cols) % num_classes


@dataclass
class TrainState:
    """Everything that changes during training; checkpoints hold exactly this plus the config."""

    G: Generator
    D: Discriminator
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    data_gen: torch.Generator  # CPU: the shuffling order
    noise_gen: torch.Generator  # on the training device: z for each step
    fixed_noise: torch.Tensor  # [grid_size, z_dim]: the same z for every epoch's grid
    fixed_labels: torch.Tensor | None  # [grid_size]: one row per class, or None
    G_ema: Generator | None = None  # the EMA of G's weights (train.ema_halflife > 0)
    epoch: int = 0  # epochs completed
    step: int = 0  # optimizer steps completed
    seconds: float = 0.0  # training time so far, for train.minutes
    progress: EpochProgress | None = None  # inside an epoch; None between epochs
    n_stats: int = 4  # K, how many stats the run's Objective logs (the size of EpochProgress's sums)
    augment: Augment | None = None  # what D sees (train.augment): its p and generator are state

    def networks(self) -> list[tuple[str, torch.nn.Module]]:
        """The named networks whose weights must stay finite."""
        return [("G", self.G), ("D", self.D)] + ([("G_ema", self.G_ema)] if self.G_ema is not None else [])

    @property
    def sampler(self) -> Generator:
        """The generator users get: the EMA one when EMA is on."""
        return self.G_ema if self.G_ema is not None else self.G

    def state_dict(self, cfg: RunConfig) -> dict[str, Any]:
        np_state: tuple[Any, ...] = np.random.get_state(legacy=True)  # type: ignore[assignment]
        p = self.progress
        rng = {
            "data": p.data_state if p else self.data_gen.get_state(),
            "noise": self.noise_gen.get_state(),
            "torch": torch.get_rng_state(),
            "numpy_keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "numpy_pos": int(np_state[2]),
            "python": list(random.getstate()[1]),
        }
        if torch.cuda.is_available():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        saved: dict[str, Any] = {
            "config": cfg.to_json(), "epoch": self.epoch, "step": self.step, "seconds": self.seconds,
            "device": self.fixed_noise.device.type,  # the noise generator's kind: resume on the same
            "G": self.G.state_dict(), "D": self.D.state_dict(),
            "opt_g": _plain_lrs(self.opt_g.state_dict()), "opt_d": _plain_lrs(self.opt_d.state_dict()),
            "rng": rng, "fixed_noise": self.fixed_noise.cpu(),
        }
        if self.G_ema is not None:
            saved["G_ema"] = self.G_ema.state_dict()
        if self.augment is not None:
            saved["augment"] = self.augment.state()
        if p:
            saved["progress"] = {"batch": p.batch, "count": p.count, "sums": p.sums.cpu(),
                                 "epoch_sums": p.epoch_sums.cpu()}
        return saved

    def load_state_dict(self, saved: dict[str, Any], where: Path) -> None:
        """Restore from a checkpoint's dict; CheckpointError if it does not fit this run."""
        try:
            self.G.load_state_dict(saved["G"])
            self.D.load_state_dict(saved["D"])
            if self.G_ema is not None:
                self.G_ema.load_state_dict(saved["G_ema"])
            if self.augment is not None:
                self.augment.load(saved["augment"])
            for opt, key in ((self.opt_g, "opt_g"), (self.opt_d, "opt_d")):
                opt.load_state_dict(saved[key])
                for group in opt.param_groups:  # a runtime choice (train/fast.py), not the run's
                    group["capturable"] = False
            rng = saved["rng"]
            self.data_gen.set_state(rng["data"])
            self.noise_gen.set_state(rng["noise"])
            torch.set_rng_state(rng["torch"])
            np.random.set_state(("MT19937", rng["numpy_keys"].numpy().astype(np.uint32), rng["numpy_pos"], 0, 0.0))
            random.setstate((3, tuple(rng["python"]), None))
            if "cuda" in rng and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(rng["cuda"])
            self.fixed_noise = saved["fixed_noise"].to(self.fixed_noise.device)
            self.epoch, self.step = int(saved["epoch"]), int(saved["step"])
            self.seconds = float(saved.get("seconds", 0.0))
            if "progress" in saved:
                p, device, k = saved["progress"], self.fixed_noise.device, self.n_stats
                if p["sums"].shape != (k,) or p["epoch_sums"].shape != (k,):
                    raise ValueError("bad mid-epoch progress")
                self.progress = EpochProgress(rng["data"], p["sums"].to(device), p["epoch_sums"].to(device),
                                              int(p["batch"]), int(p["count"]))
        except (KeyError, RuntimeError, TypeError, ValueError, AttributeError) as e:
            raise CheckpointError(f"{where}: does not match this model ({first_line(e)})") from None


def init_state(cfg: RunConfig, device: torch.device) -> TrainState:
    """Fresh models and optimizers, every random choice derived from cfg.train.seed."""
    t = cfg.train
    torch.manual_seed(t.seed)
    G = build_generator(cfg.model).to(device)
    D = build_discriminator(cfg.model).to(device)
    fused = device.type in ("cpu", "cuda")  # one kernel per update instead of ~10 per tensor
    obj = Objective.from_config(cfg, device)
    return TrainState(
        G=G,
        D=D,
        opt_g=torch.optim.Adam(G.parameters(), lr=t.lr_g, betas=(t.beta1_g, t.beta2_g), fused=fused),
        opt_d=torch.optim.Adam(D.parameters(), lr=t.lr_d, betas=(t.beta1_d, t.beta2_d), fused=fused),
        data_gen=torch.Generator().manual_seed(t.seed + 1),
        noise_gen=torch.Generator(device).manual_seed(t.seed + 2),
        fixed_noise=G.noise(t.grid_size, t.seed + 3).to(device),
        fixed_labels=grid_labels(t.grid_size, cfg.model.num_classes),
        G_ema=ema_copy(G) if t.ema_halflife else None,
        n_stats=len(obj.stat_names),
        augment=build_augment(t.augment, t.augment_p, t.ada_target, t.ada_kimg, t.batch_size * obj.n_critic,
                              t.seed + 4, device),
    )


def _plain_lrs(saved: dict[str, Any]) -> dict[str, Any]:
    """An optimizer's state dict with float learning rates: a CUDA graph's are device tensors
    (train/fast.py), a runtime choice that a checkpoint does not keep."""
    for group in saved["param_groups"]:  # the dict's own copies of the groups
        group["lr"] = float(group["lr"])
    return saved
