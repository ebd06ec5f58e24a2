"""Training throughput of every preset, beside two references measured in the same run.

    python benchmarks/train_throughput.py --data-dir ../shared/datasets/mnist [--device cuda]
        [--presets classic,dcgan,classic+model.hidden=1024] [--steps 20] [--rounds 9] [--threads N]

For each preset and each fast path of the library (fp32, bf16 autocast, channels_last,
torch.compile, CUDA graphs, and on a GPU 8 steps per graph), images/s of the library's
own step, fed the way the loop feeds it (the preset's data.name's training split, stacked-mnist's 3
channels too, resident on the device, shuffled by index, noise from the run's generator, EMA when
the preset has it), beside
- the tutorial loop: the way most tutorials write it: a Dataset returning one PIL image at
  a time, per-item ToTensor and Normalize (re-implemented op for op, since torchvision
  does not import beside this torch build), a DataLoader, and the textbook step (sigmoid
  + BCELoss, separate D passes, plain Adam); same models, same batch size;
- the bound from the step's own matrix work (benchmarks/bound.py): every matrix product
  and convolution of one step of that precision, replayed alone at its shapes (on a GPU,
  captured in a CUDA graph, so launch overhead is not counted either).
All rows of a preset are measured interleaved, window by window (--rounds windows of
--steps steps each), and the median window is reported: on a noisy machine every row
sees the same noise. Ratios: "x tutorial" and "of bound" (the bound's time over ours).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from bound import record, replayer
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset

from mnistgan.hardware import machine_line
from mnistgan.config import PRESETS, RunConfig, apply_overrides, explicit_keys
from mnistgan.data.datasets import batches
from mnistgan.data.sources import Sources, Split, load_split
from mnistgan.models import Discriminator
from mnistgan.tensors import as_input
from mnistgan.train.augment import HeldOut
from mnistgan.train.ema import ema_beta, update_ema
from mnistgan.train.fast import FastPath, Feed, make_feed, make_step
from mnistgan.train.fit import SetSize, fit_to_data
from mnistgan.train.state import init_state
from mnistgan.train.step import Objective

Run = Callable[[int], None]  # runs n training steps


def to_tensor(pic: Image.Image) -> torch.Tensor:
    """torchvision.transforms.ToTensor for a mode-L or RGB PIL image."""
    img = torch.from_numpy(np.array(pic, np.uint8, copy=True))
    img = img.view(pic.size[1], pic.size[0], len(pic.getbands())).permute((2, 0, 1)).contiguous()
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
        x = self.images[i].numpy()  # [28, 28] grey, or [3, 28, 28] (stacked-mnist)
        img = Image.fromarray(x) if x.ndim == 2 else Image.fromarray(x.transpose(1, 2, 0))
        c = len(img.getbands())
        return normalize(to_tensor(img), (0.5,) * c, (0.5,) * c), int(self.labels[i])


def tutorial_step(G: nn.Module, D: Discriminator, opt_g, opt_d, real: torch.Tensor, y: torch.Tensor | None,
                  z: torch.Tensor) -> None:
    criterion = nn.BCELoss()
    scores = real.shape[0] // D.pack  # one per pack of images with model.pack (PacGAN)
    ones = torch.ones(scores, device=real.device)
    zeros = torch.zeros(scores, device=real.device)
    fake = G(z, y)
    loss_d = criterion(torch.sigmoid(D(real, y)), ones) + criterion(torch.sigmoid(D(fake.detach(), y)), zeros)
    D.zero_grad()
    loss_d.backward()
    opt_d.step()
    loss_g = criterion(torch.sigmoid(D(fake, y)), ones)
    G.zero_grad()
    loss_g.backward()
    opt_g.step()


@dataclass(frozen=True)
class Variant:
    """One way to run the library's step: a row of the table."""

    label: str
    precision: str = "fp32"
    fast: FastPath = FastPath()
    channels_last: bool = False


def variants(cfg: RunConfig, device: torch.device, compile_on_cpu: bool) -> list[Variant]:
    rows = [Variant("fp32"), Variant("bf16", "bf16")]
    if cfg.model.arch == "dcgan":
        rows.append(Variant("bf16 channels_last", "bf16", channels_last=True))
    if device.type == "cuda":
        graphs = FastPath(cuda_graphs=True)
        k8 = FastPath(cuda_graphs=True, steps_per_graph=8)
        rows += [Variant("compile", fast=FastPath(compile=True)), Variant("cuda graphs", fast=graphs),
                 Variant("bf16 cuda graphs", "bf16", fast=graphs),
                 Variant("compile + cuda graphs", fast=FastPath(compile=True, cuda_graphs=True)),
                 Variant("cuda graphs, 8 steps", fast=k8), Variant("bf16 cuda graphs, 8 steps", "bf16", fast=k8)]
    elif compile_on_cpu:
        rows.append(Variant("compile", fast=FastPath(compile=True)))
    return rows


def endless(epoch: Callable[[], Iterable]) -> Iterator:
    """Batches from epoch() after epoch(), for as long as asked."""
    while True:
        yield from epoch()


def library_run(cfg: RunConfig, images: torch.Tensor, labels: torch.Tensor, path: Variant) -> Run:
    """n steps of the library's step, fed as train/loop.py's run_epoch feeds it."""
    cfg = apply_overrides(cfg, [f"train.precision='{path.precision}'"])
    device = images.device
    state, obj = init_state(cfg, device), Objective.from_config(cfg, device)
    if cfg.train.ada_heldout:  # the training split stands in for the test's
        state.augment.heldout = HeldOut(images, labels)  # type: ignore[union-attr]
    if path.fast.steps_per_graph > 1:
        return feed_run(make_feed(state, obj, cfg, path.fast, images, labels))
    fmt = torch.channels_last if path.channels_last else torch.contiguous_format
    state.G.to(memory_format=fmt)
    state.D.to(memory_format=fmt)
    step = make_step(state, obj, path.fast)
    t, per_step = cfg.train, cfg.train.batch_size * obj.n_critic
    index = torch.arange(images.shape[0], device=device)
    feed = endless(lambda: batches(index, per_step, state.data_gen))

    def run(n: int) -> None:
        for _ in range(n):
            idx = next(feed)
            real = as_input(images[idx]).contiguous(memory_format=fmt)
            z = torch.randn(per_step, cfg.model.z_dim, generator=state.noise_gen, device=device)
            y = labels[idx] if cfg.model.num_classes else None
            stats = step(real, y, z, state.step)
            state.step += 1
            if state.augment is not None:
                state.augment.adapt(stats["sign_real"], state.D, real, y, obj.amp)
            if state.G_ema is not None:
                update_ema(state.G_ema, state.G, ema_beta(t.batch_size, state.step * t.batch_size, t.ema_halflife,
                                                          t.ema_rampup))

    return run


def feed_run(feed: Feed) -> Run:
    """n steps from a k-step feed, in calls of up to k steps, epoch after epoch."""
    left = 0  # steps left in the feed's epoch

    def run(n: int) -> None:
        nonlocal left
        while n > 0:
            if left == 0:
                left = feed.start_epoch(0)
            m = min(feed.k, n, left)
            feed(m)
            n, left = n - m, left - m

    return run


def tutorial_run(cfg: RunConfig, split, device: torch.device) -> Run:
    """n steps of the tutorial loop (the preset's models; fp32, as tutorials run)."""
    state = init_state(apply_overrides(cfg, ["train.precision='fp32'"]), device)
    t = cfg.train
    opt_g = torch.optim.Adam(state.G.parameters(), lr=t.lr_g, betas=(t.beta1_g, t.beta2_g))
    opt_d = torch.optim.Adam(state.D.parameters(), lr=t.lr_d, betas=(t.beta1_d, t.beta2_d))
    loader = DataLoader(TutorialMNIST(split.images, split.labels), batch_size=t.batch_size, shuffle=True,
                        drop_last=True)
    feed = endless(lambda: loader)

    def run(n: int) -> None:
        for _ in range(n):
            real, y = (x.to(device) for x in next(feed))
            z = torch.randn(t.batch_size, cfg.model.z_dim, device=device)
            tutorial_step(state.G, state.D, opt_g, opt_d, real, y if cfg.model.num_classes else None, z)

    return run


def bound_run(cfg: RunConfig, images: torch.Tensor, labels: torch.Tensor, precision: str) -> Run:
    """n replays of the matrix ops of one library step at `precision`."""
    one = library_run(cfg, images, labels, Variant(precision, precision))
    one(3)  # past the first steps (optimizer state made, autotuning done)
    replayed = replayer(record(lambda: one(1)))
    # On a GPU, the graph's replay: a method of `replayed`, which holds the tensors it reads.
    replay = replayed.graphed() if images.device.type == "cuda" else replayed

    def run(n: int) -> None:
        for _ in range(n):
            replay()

    return run


def interleaved(runs: dict[str, Run], steps: int, rounds: int, device: torch.device) -> dict[str, float]:
    """Median seconds per step of each run, over `rounds` windows of `steps` steps,
    the runs taking turns window by window."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    times: dict[str, list[float]] = {name: [] for name in runs}
    for name, run in runs.items():  # warm-up: compilation, graph capture, first allocations
        run(5)
    for _ in range(rounds):
        for name, run in runs.items():
            sync()
            start = time.perf_counter()
            run(steps)
            sync()
            times[name].append((time.perf_counter() - start) / steps)
    return {name: statistics.median(t) for name, t in times.items()}


def preset_table(name: str, cfg: RunConfig, split, device: torch.device, steps: int, rounds: int,
                 compile_on_cpu: bool) -> None:
    images, labels = split.images.to(device), split.labels.to(device)
    rows = variants(cfg, device, compile_on_cpu)
    runs: dict[str, Run] = {"tutorial loop": tutorial_run(cfg, split, device)}
    for precision in sorted({r.precision for r in rows}):
        runs[f"bound {precision}"] = bound_run(cfg, images, labels, precision)
    for row in rows:
        runs[row.label] = library_run(cfg, images, labels, row)
    sec = interleaved(runs, steps, rounds, device)
    per_step = cfg.train.batch_size * cfg.loss.n_critic
    speed = {k: per_step / v for k, v in sec.items()}
    tut = speed["tutorial loop"]
    print(f"\n{name} on {device.type}, batch {cfg.train.batch_size}, preset precision {cfg.train.precision}:")
    print(f"  {'path':<24}{'img/s':>11}{'x tutorial':>12}{'of bound':>10}")
    print(f"  {'tutorial loop':<24}{tut:>11,.0f}{1:>11.2f}x{'':>10}")
    for row in rows:
        bound = sec[f"bound {row.precision}"] / sec[row.label]
        print(f"  {row.label:<24}{speed[row.label]:>11,.0f}{speed[row.label] / tut:>11.2f}x{bound:>9.0%}")
    for precision in sorted({r.precision for r in rows}):
        print(f"  {'(bound ' + precision + ': matmuls only)':<24}{speed[f'bound {precision}']:>11,.0f}")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser()
    p.add_argument("--data-dir", default="../shared/datasets/mnist")
    p.add_argument("--device", default="cpu")
    p.add_argument("--presets", default=",".join(PRESETS),
                   help="comma-separated (default: all); a variant is PRESET+key=value+..., e.g. classic+model.hidden=1024")
    p.add_argument("--steps", type=int, default=50, help="steps per window (default: 50)")
    p.add_argument("--rounds", type=int, default=9, help="windows per row (default: 9)")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--compile-on-cpu", action="store_true", help="add torch.compile rows on the CPU too")
    return p


def main() -> None:
    args = parser().parse_args()
    torch.set_num_threads(args.threads)
    print(machine_line(args.device), flush=True)
    device = torch.device(args.device)
    sources = Sources(data_dir=Path(args.data_dir), download=False)
    splits: dict[str, Split] = {}  # each preset's data.name (stacked-mnist: 3 channels), loaded once
    where = torch.cuda.get_device_name() if device.type == "cuda" else f"{torch.get_num_threads()} CPU threads"
    print(f"torch {torch.__version__}, {where}; {args.rounds} windows of {args.steps} steps per row, medians")
    for name in args.presets.split(","):
        preset, *overrides = name.split("+")  # a variant: PRESET+key=value+...
        cfg = apply_overrides(PRESETS[preset], overrides)
        cfg = fit_to_data(cfg, SetSize.of(cfg.data, sources.cache_dir), explicit_keys(None, overrides))
        if cfg.data.name not in splits:
            splits[cfg.data.name] = load_split(cfg.data.name, "train", sources)
        preset_table(name, cfg, splits[cfg.data.name], device, args.steps, args.rounds, args.compile_on_cpu)


if __name__ == "__main__":
    main()
