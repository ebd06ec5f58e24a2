"""Training throughput of the classic preset vs. a tutorial-style data pipeline.

    python benchmarks/train_throughput.py --data-dir ../shared/datasets/mnist [--epochs 1]

Both sides run the same models and the same train_step; only the data pipeline differs:
- mnistgan: the split held as one uint8 tensor, batches by shuffled index, scaled per batch;
- baseline: a Dataset returning one PIL image at a time, a per-item ToTensor/Normalize-style
  transform, and a DataLoader with batch 100, the way most tutorials write it.
Prints images/s (overall and the median over 100-step windows) and the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from mnistgan.config import load_config
from mnistgan.data.datasets import batches, to_unit_range
from mnistgan.data.sources import Sources, load_split
from mnistgan.train.loop import init_state
from mnistgan.train.step import train_step


class TutorialMNIST(Dataset):
    """One PIL image per __getitem__, transformed item by item."""

    def __init__(self, images: np.ndarray, labels: np.ndarray) -> None:
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        img = Image.fromarray(self.images[i], mode="L")
        x = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).unsqueeze(0)  # ToTensor
        x = (x - 0.5) / 0.5  # Normalize((0.5,), (0.5,))
        return x, int(self.labels[i])


def timed_epochs(batch_iter, state, cfg, epochs: int) -> tuple[float, float]:
    """(overall img/s, median img/s over 100-step windows)."""
    B, z_dim = cfg.train.batch_size, cfg.model.z_dim
    windows, steps, total_imgs = [], 0, 0
    start = tick = time.perf_counter()
    for _ in range(epochs):
        for real in batch_iter():
            z = torch.randn(B, z_dim, generator=state.noise_gen)
            train_step(state.G, state.D, state.opt_g, state.opt_d, real, z)
            steps += 1
            total_imgs += B
            if steps % 100 == 0:
                now = time.perf_counter()
                windows.append(100 * B / (now - tick))
                tick = now
    return total_imgs / (time.perf_counter() - start), statistics.median(windows)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data-dir", default="../shared/datasets/mnist")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    cfg = load_config("classic")
    split = load_split("mnist", "train", Sources(data_dir=Path(args.data_dir), download=False))
    B = cfg.train.batch_size
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {B}, {args.epochs} epoch(s) each")

    state = init_state(cfg, torch.device("cpu"))
    ours = lambda: (to_unit_range(b).unsqueeze(1) for b in batches(split.images, B, state.data_gen))  # noqa: E731
    ours_rate, ours_med = timed_epochs(ours, state, cfg, args.epochs)

    state = init_state(cfg, torch.device("cpu"))
    loader = DataLoader(TutorialMNIST(split.images.numpy(), split.labels.numpy()), batch_size=B,
                        shuffle=True, drop_last=True)
    base = lambda: (x for x, _ in loader)  # noqa: E731
    base_rate, base_med = timed_epochs(base, state, cfg, args.epochs)

    print(f"{'pipeline':<28}{'img/s (overall)':>16}{'img/s (median)':>16}")
    print(f"{'tutorial DataLoader (PIL)':<28}{base_rate:>16,.0f}{base_med:>16,.0f}")
    print(f"{'mnistgan (tensor batches)':<28}{ours_rate:>16,.0f}{ours_med:>16,.0f}")
    print(f"ratio mnistgan / tutorial: {ours_rate / base_rate:.2f}x overall, {ours_med / base_med:.2f}x median")


if __name__ == "__main__":
    main()
