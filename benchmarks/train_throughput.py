"""Training throughput: the classic preset vs. a tutorial-style training loop, then every
preset under each fast path.

    python benchmarks/train_throughput.py --data-dir ../shared/datasets/mnist [--epochs 1] [--threads N]

- mnistgan: the library's own path: the split held as one uint8 tensor, batches by
  shuffled index scaled per batch, and train/step.py's train_step (fused Adam, one D
  pass over [real; fake]).
- tutorial: the way most tutorials write it: a Dataset returning one PIL image at a
  time, per-item ToTensor and Normalize (re-implemented op for op, since torchvision
  does not import beside this torch build), a DataLoader with batch 100, and the
  textbook step (sigmoid + BCELoss, separate D passes, plain Adam).
Same models, same initial weights, same batch size. Prints images/s over whole epochs
and the median over 100-step windows, the ratio, and what the data pipelines alone cost.

Then, for every preset, the library's step (--steps steps after 5 warm-up steps) in fp32
and bf16 autocast, and for convolutional presets also with channels_last tensors; each
row's ratio is against the same preset's fp32 row, measured in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset

from mnistgan.config import PRESETS, RunConfig, apply_overrides, load_config
from mnistgan.data.datasets import batches, to_unit_range
from mnistgan.data.sources import Sources, load_split
from mnistgan.train.state import init_state
from mnistgan.train.step import Objective, train_step


def to_tensor(pic: Image.Image) -> torch.Tensor:
    """torchvision.transforms.ToTensor for a mode-L PIL image."""
    img = torch.from_numpy(np.array(pic, np.uint8, copy=True))
    img = img.view(pic.size[1], pic.size[0], 1).permute((2, 0, 1)).contiguous()
    return img.to(dtype=torch.float32).div(255)


def normalize(t: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """torchvision.transforms.Normalize."""
    m = torch.as_tensor(mean, dtype=t.dtype, device=t.device)
    s = torch.as_tensor(std, dtype=t.dtype, device=t.device)
    if (s == 0).any():
        raise ValueError("std evaluated to zero")
    return t.sub_(m[:, None, None]).div_(s[:, None, None])


class TutorialMNIST(Dataset):
    """One PIL image per __getitem__, transformed item by item (like torchvision.datasets.MNIST)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        img = Image.fromarray(self.images[i].numpy(), mode="L")
        return normalize(to_tensor(img), (0.5,), (0.5,)), int(self.labels[i])


def tutorial_step(G: nn.Module, D: nn.Module, opt_g, opt_d, real: torch.Tensor, z: torch.Tensor) -> None:
    criterion = nn.BCELoss()
    ones, zeros = torch.ones(real.shape[0]), torch.zeros(real.shape[0])
    fake = G(z)
    loss_d = criterion(torch.sigmoid(D(real)), ones) + criterion(torch.sigmoid(D(fake.detach())), zeros)
    D.zero_grad()
    loss_d.backward()
    opt_d.step()
    loss_g = criterion(torch.sigmoid(D(fake)), ones)
    G.zero_grad()
    loss_g.backward()
    opt_g.step()


def timed(epoch_batches: Callable[[], Iterable[torch.Tensor]], step: Callable[[torch.Tensor], None] | None,
          epochs: int, batch: int) -> tuple[float, float]:
    """(img/s over all epochs, median img/s over 100-step windows)."""
    windows, steps = [], 0
    start = tick = time.perf_counter()
    for _ in range(epochs):
        for real in epoch_batches():
            if step is not None:
                step(real)
            steps += 1
            if steps % 100 == 0:
                now = time.perf_counter()
                windows.append(100 * batch / (now - tick))
                tick = now
    return steps * batch / (time.perf_counter() - start), statistics.median(windows)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data-dir", default="../shared/datasets/mnist")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--steps", type=int, default=100, help="steps per preset row (default: 100)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    cfg = load_config("classic")
    B, z_dim = cfg.train.batch_size, cfg.model.z_dim
    split = load_split("mnist", "train", Sources(data_dir=Path(args.data_dir), download=False))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {B}, {args.epochs} epoch(s) each")

    ours = init_state(cfg, torch.device("cpu"))
    ours_batches = lambda: (to_unit_range(b).unsqueeze(1) for b in batches(split.images, B, ours.data_gen))  # noqa: E731

    obj = Objective.from_config(cfg, torch.device("cpu"))

    def ours_step(real: torch.Tensor) -> None:
        z = torch.randn(B, z_dim, generator=ours.noise_gen)
        train_step(ours.G, ours.D, ours.opt_g, ours.opt_d, obj, real, None, z)

    tut = init_state(cfg, torch.device("cpu"))  # same initial weights
    t = cfg.train
    opt_g = torch.optim.Adam(tut.G.parameters(), lr=t.lr_g, betas=(t.beta1_g, t.beta2_g))
    opt_d = torch.optim.Adam(tut.D.parameters(), lr=t.lr_d, betas=(t.beta1_d, t.beta2_d))
    loader = DataLoader(TutorialMNIST(split.images, split.labels), batch_size=B, shuffle=True, drop_last=True)
    tut_batches = lambda: (x for x, _ in loader)  # noqa: E731

    def tut_step(real: torch.Tensor) -> None:
        tutorial_step(tut.G, tut.D, opt_g, opt_d, real, torch.randn(B, z_dim))

    rows = [
        ("tutorial (training)", timed(tut_batches, tut_step, args.epochs, B)),
        ("mnistgan (training)", timed(ours_batches, ours_step, args.epochs, B)),
        ("tutorial data pipeline only", timed(tut_batches, None, 1, B)),
        ("mnistgan data pipeline only", timed(ours_batches, None, 1, B)),
    ]
    print(f"{'':<30}{'img/s (overall)':>16}{'img/s (median)':>16}")
    for name, (overall, med) in rows:
        print(f"{name:<30}{overall:>16,.0f}{med:>16,.0f}")
    (t_all, t_med), (o_all, o_med) = rows[0][1], rows[1][1]
    print(f"training ratio mnistgan / tutorial: {o_all / t_all:.2f}x overall, {o_med / t_med:.2f}x median")
    print(f"data pipeline ratio: {rows[3][1][0] / rows[2][1][0]:.0f}x")
    preset_table(split, args.steps)


def preset_speed(cfg: RunConfig, split, steps: int, channels_last: bool) -> float:
    """Images/s of the library's step for `cfg`, median over windows of 10 steps."""
    state, obj = init_state(cfg, torch.device("cpu")), Objective.from_config(cfg, torch.device("cpu"))
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    state.G.to(memory_format=fmt)
    state.D.to(memory_format=fmt)
    B, k = cfg.train.batch_size, obj.n_critic
    index = torch.arange(split.images.shape[0])
    conditional = cfg.model.num_classes > 0
    times = []
    for i, idx in enumerate(batches(index, B * k, state.data_gen)):
        if i == steps + 5:
            break
        start = time.perf_counter()
        real = to_unit_range(split.images[idx]).unsqueeze(1).contiguous(memory_format=fmt)
        z = torch.randn(B * k, cfg.model.z_dim, generator=state.noise_gen)
        train_step(state.G, state.D, state.opt_g, state.opt_d, obj, real, split.labels[idx] if conditional else None,
                   z, step=i)
        if i >= 5:
            times.append(time.perf_counter() - start)
    windows = [sum(times[j : j + 10]) for j in range(0, len(times) - 9, 10)]
    return B * k * 10 / statistics.median(windows)


def preset_table(split, steps: int) -> None:
    print(f"\nevery preset: the library's step, {steps} steps, img/s (median of 10-step windows)")
    print(f"{'preset':<14}{'precision':<11}{'memory':<15}{'img/s':>9}{'vs fp32':>9}")
    for name, cfg in PRESETS.items():
        conv = cfg.model.arch == "dcgan"
        variants = [("fp32", False), ("bf16", False)] + ([("fp32", True), ("bf16", True)] if conv else [])
        base = None
        for precision, cl in variants:
            speed = preset_speed(apply_overrides(cfg, [f"train.precision='{precision}'"]), split, steps, cl)
            base = base or speed
            mark = " (preset)" if precision == cfg.train.precision and not cl else ""
            print(f"{name:<14}{precision:<11}{'channels_last' if cl else 'NCHW':<15}{speed:>9,.0f}"
                  f"{speed / base:>8.2f}x{mark}")


if __name__ == "__main__":
    main()
