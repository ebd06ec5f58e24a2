"""Fast paths for the training step: torch.compile and CUDA graphs, applied once.

Runtime options, not part of a run's identity: a run may be resumed with or without
them. The compiled modules compute; the raw ones in TrainState hold the weights that
the optimizers, the EMA and the checkpoints see (they share parameters).

- compile: torch.compile of G and D (inductor). On a GPU it fuses the elementwise work
  into few kernels; on this project's 2-core CPU it measured slower than eager for the
  classic MLP (benchmarks/train_throughput.py), so it is off by default.
- cuda_graphs: the whole step, both optimizer updates included (capturable Adam), is
  captured once into a CUDA graph over static input buffers and replayed every step, so
  a step costs one launch instead of ~100. Real images, labels and noise are drawn
  outside the graph, with the run's own generators, and copied in: the stream of random
  numbers is the eager path's, so seeds and exact resume hold.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from mnistgan.errors import ConfigError
from mnistgan.losses import Stats
from mnistgan.train.augment import AugmentedD
from mnistgan.train.state import TrainState
from mnistgan.train.step import Objective, train_step

# (real [kB, 1, 28, 28], labels [kB] | None, noise [kB, z_dim], steps done) -> the step's stats
StepFn = Callable[[torch.Tensor, torch.Tensor | None, torch.Tensor, int], Stats]


@dataclass(frozen=True)
class FastPath:
    compile: bool = False
    cuda_graphs: bool = False

    def check(self, device: torch.device, world_size: int = 1, augment: str = "none") -> None:
        if self.cuda_graphs and device.type != "cuda":
            raise ConfigError("--cuda-graphs needs a CUDA device (--device cuda)")
        if self.cuda_graphs and world_size > 1:
            raise ConfigError("--cuda-graphs does not combine with multi-process training: the gradient "
                              "all-reduce runs between the graph's phases")
        if self.cuda_graphs and augment != "none":
            raise ConfigError("--cuda-graphs does not combine with train.augment: the augmentation draws from its "
                              "own generator inside the step, which a graph would replay unchanged")


def make_step(state: TrainState, obj: Objective, fast: FastPath) -> StepFn:
    """The step the loop calls: train_step over (compiled) G and D, (graphed) if asked;
    D sees every image through the augmentation when train.augment is on (train/augment.py)."""
    G, D = state.G, state.D
    if fast.compile:
        G, D = torch.compile(G), torch.compile(D)
    if state.augment is not None:
        D = AugmentedD(D, state.augment)

    def step(real: torch.Tensor, y: torch.Tensor | None, z: torch.Tensor, i: int) -> Stats:
        return train_step(G, D, state.opt_g, state.opt_d, obj, real, y, z, step=i)

    if fast.cuda_graphs:
        return GraphedStep(step, [state.opt_g, state.opt_d], obj.lazy_due)
    return step


class GraphedStep:
    """A step function captured as CUDA graphs, one per variant (which lazy penalties run
    in it), after `warmup` eager steps on a side stream (cuBLAS handles,
    the optimizers' state and the autotuning all exist before capture). Every call is a
    real training step: the warm-up steps and the replays run the same kernels."""

    def __init__(self, step: StepFn, optimizers: list[torch.optim.Optimizer],
                 variant: Callable[[int], tuple[bool, ...]], warmup: int = 3) -> None:
        for opt in optimizers:  # Adam's step counter and bias correction stay on the GPU
            for group in opt.param_groups:
                group["capturable"] = True
        self.step, self.variant, self.warmup = step, variant, warmup
        self.graphs: dict[tuple[bool, ...], tuple[torch.cuda.CUDAGraph, Stats]] = {}
        self.inputs: tuple[torch.Tensor, torch.Tensor | None, torch.Tensor] | None = None

    def __call__(self, real: torch.Tensor, y: torch.Tensor | None, z: torch.Tensor, i: int) -> Stats:
        if self.warmup > 0:
            self.warmup -= 1
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                stats = self.step(real, y, z, i)
            torch.cuda.current_stream().wait_stream(side)
            return stats
        key = self.variant(i)
        if self.inputs is None:  # static buffers: every replay reads its inputs from here
            self.inputs = (real.clone(), None if y is None else y.clone(), z.clone())
        static_real, static_y, static_z = self.inputs
        static_real.copy_(real)
        if static_y is not None:
            static_y.copy_(y)
        static_z.copy_(z)
        if key not in self.graphs:
            graph = torch.cuda.CUDAGraph()  # its own memory pool: the variants replay in any order
            with torch.cuda.graph(graph):
                stats = self.step(static_real, static_y, static_z, i)
            self.graphs[key] = (graph, stats)
        graph, stats = self.graphs[key]
        graph.replay()
        return stats
