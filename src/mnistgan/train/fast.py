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
  numbers is the eager path's, so seeds and exact resume hold. A falling learning rate
  (train.lr_decay_start) is held in 0-d device tensors that the schedule fills in place, so
  each replay reads the rate of its step (`hold_lrs_in_tensors`).
- steps_per_graph = k > 1: k steps per call (`KStepFeed`), each gathering its batch from
  the epoch's shuffle held on the device, drawing its noise from the run's noise
  generator and updating the EMA, with no host work in between. With cuda_graphs the k
  steps are captured as one graph (the noise generator registered with it, so each replay
  draws what the eager steps would); without, they run eagerly, on any device, and train
  the per-step run exactly (tests/train/test_fast.py).

The loop takes its steps from a feed (`make_feed`): `StepFeed` (one step per call, the
step from `make_step`) or `KStepFeed`. A feed draws the epoch's shuffle from the run's
data generator at `start_epoch`, and advances `state.step`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from mnistgan.config import RunConfig
from mnistgan.errors import ConfigError
from mnistgan.losses import Stats
from mnistgan.tensors import as_input
from mnistgan.train.augment import AugmentedD
from mnistgan.train.distributed import World
from mnistgan.train.ema import ema_beta, update_ema, update_ema_by
from mnistgan.train.state import TrainState
from mnistgan.train.step import Objective, train_step

MAX_STEPS_PER_GRAPH = 1000

# (real [kB, 1, 28, 28], labels [kB] | None, noise [kB, z_dim], steps done) -> the step's stats
StepFn = Callable[[torch.Tensor, torch.Tensor | None, torch.Tensor, int], Stats]


@dataclass(frozen=True)
class FastPath:
    compile: bool = False
    cuda_graphs: bool = False
    steps_per_graph: int = 1  # k steps per call (KStepFeed): one graph of k steps with cuda_graphs

    def check(self, device: torch.device, world_size: int = 1, augment: str = "none") -> None:
        if self.cuda_graphs and device.type != "cuda":
            raise ConfigError("--cuda-graphs needs a CUDA device (--device cuda)")
        if self.cuda_graphs and world_size > 1:
            raise ConfigError("--cuda-graphs does not combine with multi-process training: the gradient "
                              "all-reduce runs between the graph's phases")
        if self.cuda_graphs and augment != "none":
            raise ConfigError("--cuda-graphs does not combine with train.augment: the augmentation draws from its "
                              "own generator inside the step, which a graph would replay unchanged")
        if not 1 <= self.steps_per_graph <= MAX_STEPS_PER_GRAPH:
            raise ConfigError(f"--steps-per-graph must be between 1 and {MAX_STEPS_PER_GRAPH}, "
                              f"got {self.steps_per_graph}")
        if self.steps_per_graph > 1 and world_size > 1:
            raise ConfigError("--steps-per-graph does not combine with multi-process training: each step's "
                              "gradients are averaged over the processes")


def ready_for_capture(optimizers: list[torch.optim.Optimizer], lr_tensors: bool) -> None:
    """Adam's step counter and bias correction stay on the GPU (capturable); with lr_tensors (a
    falling learning rate, train.lr_decay_start) the rates too (`hold_lrs_in_tensors`)."""
    for opt in optimizers:
        for group in opt.param_groups:
            group["capturable"] = True
    if lr_tensors:
        hold_lrs_in_tensors(optimizers)


def hold_lrs_in_tensors(optimizers: list[torch.optim.Optimizer]) -> None:
    """Each learning rate as a 0-d tensor on its parameters' device, which the schedule fills
    in place (train/schedule.py): a graph's replay reads the rate of its step, where a float
    stays the one it was captured with. Checkpoints keep floats (train/state.py)."""
    for opt in optimizers:
        for group in opt.param_groups:
            if not isinstance(group["lr"], torch.Tensor):
                group["lr"] = torch.tensor(float(group["lr"]), device=group["params"][0].device)


def make_step(state: TrainState, obj: Objective, fast: FastPath, lr_tensors: bool = False) -> StepFn:
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
        return GraphedStep(step, [state.opt_g, state.opt_d], obj.lazy_due, lr_tensors)
    return step


class GraphedStep:
    """A step function captured as CUDA graphs, one per variant (which lazy penalties run
    in it), after `warmup` eager steps on a side stream (cuBLAS handles,
    the optimizers' state and the autotuning all exist before capture). Every call is a
    real training step: the warm-up steps and the replays run the same kernels."""

    def __init__(self, step: StepFn, optimizers: list[torch.optim.Optimizer],
                 variant: Callable[[int], tuple[bool, ...]], lr_tensors: bool = False, warmup: int = 3) -> None:
        ready_for_capture(optimizers, lr_tensors)
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


class StepFeed:
    """The loop's steps one at a time: the step's rows of the epoch's shuffle, its noise
    from the run's noise generator on the training device, the step (make_step's: eager,
    compiled or graphed), then the EMA. Under torchrun each rank takes its shard."""

    k = 1

    def __init__(self, state: TrainState, obj: Objective, cfg: RunConfig, step: StepFn, images: torch.Tensor,
                 labels: torch.Tensor, world: World = World()) -> None:
        self.state, self.obj, self.cfg, self.step, self.world = state, obj, cfg, step, world
        self.images, self.labels = images, labels  # uint8 [N, 28, 28], int64 [N], on the device
        self.per_step = cfg.train.batch_size * obj.n_critic  # real images per step
        self.perm = torch.empty(0, dtype=torch.long)
        self.pos = 0

    def start_epoch(self, done: int) -> int:
        """Draw the epoch's shuffle (datasets.batches' order); the next step is `done`.
        Returns the epoch's steps (a last partial batch is dropped)."""
        n = self.images.shape[0]
        self.perm = torch.randperm(n, generator=self.state.data_gen).to(self.images.device)
        self.pos = done
        return n // self.per_step

    def __call__(self, n: int) -> list[torch.Tensor]:
        """n steps; each one's stats, stacked in obj.stat_names order ([K] each)."""
        state, cfg, t, ps, k = self.state, self.cfg, self.cfg.train, self.per_step, self.obj.n_critic
        rows = []
        for _ in range(n):
            idx = self.world.shard(self.perm[self.pos * ps : (self.pos + 1) * ps], k)  # this rank's rows
            self.pos += 1
            real = as_input(self.images[idx])  # uint8 [kb, 28, 28] -> [kb, 1, 28, 28] in [-1, 1]
            y = self.labels[idx] if cfg.model.num_classes else None  # [kb]
            z = torch.randn(ps, cfg.model.z_dim, generator=state.noise_gen, device=self.images.device)
            s = self.step(real, y, self.world.shard(z, k), state.step)
            state.step += 1
            if state.augment is not None:
                state.augment.adapt(s["sign_real"], state.D, real, y, self.obj.amp)  # ada: p follows D's overfitting
            if state.G_ema is not None:
                update_ema(state.G_ema, state.G, ema_beta(t.batch_size, state.step * t.batch_size, t.ema_halflife,
                                                          t.ema_rampup))
            rows.append(torch.stack([s[name] for name in self.obj.stat_names]))
        return rows


class KStepFeed:
    """Up to k steps per call with no host work between them: each step gathers its rows
    from the epoch's shuffle held on the device (`order`, read at the step counter `pos`,
    a device tensor), draws its noise from the run's noise generator, trains, and moves
    the EMA by a weight read from a device buffer. The same ops, in the same order, as
    StepFeed: the same run, bitwise.

    With capture (CUDA), each call shape (n steps, which lazy penalties each of them runs)
    is captured once as a CUDA graph, after `warmup` eager calls on a side stream, and
    replayed; the noise generator is registered with every graph, so a replay draws the
    numbers the eager steps would, and its state (saved in checkpoints) moves as theirs."""

    def __init__(self, state: TrainState, obj: Objective, cfg: RunConfig, images: torch.Tensor,
                 labels: torch.Tensor, k: int, capture: bool = False, compile: bool = False, warmup: int = 3) -> None:
        self.state, self.obj, self.cfg, self.k, self.capture, self.warmup = state, obj, cfg, k, capture, warmup
        self.G, self.D = (torch.compile(state.G), torch.compile(state.D)) if compile else (state.G, state.D)
        if state.augment is not None:  # eager only: FastPath.check refuses graphs with it
            self.D = AugmentedD(self.D, state.augment)
        self.images, self.labels = images, labels
        device = images.device
        self.per_step = cfg.train.batch_size * obj.n_critic
        self.steps = images.shape[0] // self.per_step
        self.order = torch.zeros(self.steps * self.per_step, dtype=torch.long, device=device)  # the epoch's shuffle
        self.pos = torch.zeros((), dtype=torch.long, device=device)  # the next step of the epoch
        self.offsets = torch.arange(self.per_step, device=device)
        self.ema_weights = torch.zeros(k, device=device)  # 1 - beta of each step of a call
        self.graphs: dict[tuple[int, tuple[tuple[bool, ...], ...]], tuple[torch.cuda.CUDAGraph, torch.Tensor]] = {}
        if capture:
            ready_for_capture([state.opt_g, state.opt_d], cfg.train.lr_decay_start < 1)

    def start_epoch(self, done: int) -> int:
        perm = torch.randperm(self.images.shape[0], generator=self.state.data_gen)  # StepFeed's draw
        self.order.copy_(perm[: self.order.shape[0]])
        self.pos.fill_(done)
        return self.steps

    def __call__(self, n: int) -> list[torch.Tensor]:
        state, t, first = self.state, self.cfg.train, self.state.step
        if state.G_ema is not None:
            weights = [1.0 - ema_beta(t.batch_size, (first + j + 1) * t.batch_size, t.ema_halflife, t.ema_rampup)
                       for j in range(n)]
            self.ema_weights[:n].copy_(torch.tensor(weights, dtype=torch.float32))
        key = (n, tuple(self.obj.lazy_due(first + j) for j in range(n)))
        if not self.capture:
            rows = self.steps_(n, first)
        elif self.warmup > 0 and key not in self.graphs:
            self.warmup -= 1
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                rows = self.steps_(n, first)
            torch.cuda.current_stream().wait_stream(side)
        else:
            if key not in self.graphs:
                graph = torch.cuda.CUDAGraph()  # its own memory pool: the shapes replay in any order
                graph.register_generator_state(state.noise_gen)
                with torch.cuda.graph(graph):
                    captured = self.steps_(n, first)
                self.graphs[key] = (graph, captured)
            graph, rows = self.graphs[key]
            graph.replay()
        state.step += n
        return list(rows.unbind(0))

    def steps_(self, n: int, first: int) -> torch.Tensor:
        """n steps from step `first` on: their stats [n, K]."""
        state, cfg, obj, ps = self.state, self.cfg, self.obj, self.per_step
        rows = []
        for j in range(n):
            idx = self.order[self.pos * ps + self.offsets]  # [ps] rows of the split
            self.pos += 1
            real = as_input(self.images[idx])
            y = self.labels[idx] if cfg.model.num_classes else None
            z = torch.randn(ps, cfg.model.z_dim, generator=state.noise_gen, device=self.images.device)
            s = train_step(self.G, self.D, state.opt_g, state.opt_d, obj, real, y, z, step=first + j)
            if state.augment is not None:  # eager only (no graphs with augment)
                state.augment.adapt(s["sign_real"], state.D, real, y, obj.amp)
            if state.G_ema is not None:
                update_ema_by(state.G_ema, state.G, self.ema_weights[j])
            rows.append(torch.stack([s[name] for name in obj.stat_names]))
        return torch.stack(rows)


Feed = StepFeed | KStepFeed


def make_feed(state: TrainState, obj: Objective, cfg: RunConfig, fast: FastPath, images: torch.Tensor,
              labels: torch.Tensor, world: World = World()) -> Feed:
    """The loop's source of steps for this fast path."""
    if fast.steps_per_graph > 1:
        return KStepFeed(state, obj, cfg, images, labels, fast.steps_per_graph, capture=fast.cuda_graphs,
                         compile=fast.compile)
    return StepFeed(state, obj, cfg, make_step(state, obj, fast, cfg.train.lr_decay_start < 1), images, labels, world)
