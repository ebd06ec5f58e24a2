"""Multi-process data-parallel training (torchrun): gloo on the CPU, NCCL on the GPU.

The design makes a run the same at any number of processes. Every rank holds the same
generators (all derived from train.seed), so every rank draws the same shuffle and the
same global noise; rank r takes rows [r*b, (r+1)*b) of each global batch of B = size*b
(a disjoint shard of every epoch). Before each optimizer update the ranks average their
gradients (one all-reduce of the flattened gradient), so every rank applies the
gradient of the mean loss over the global batch B: the single-process step at batch B,
up to floating-point summation order, with the same learning rate. The weights, the
optimizers' state and the generators are then identical on every rank, which is why
rank 0's checkpoint resumes at any number of processes.

Why not torch's DistributedDataParallel wrapper: its reducer expects one forward and
one backward per parameter per iteration, but a GAN step runs D three ways (a joint
[real; fake] pass, a frozen pass for G's update, and the double backward of R1 and
WGAN-GP), which DDP's hooks reject or mis-count. Averaging the gradient once per
optimizer update is the same maths for every loss; on models this small, DDP's overlap
of communication with the backward pass would buy little.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from mnistgan.errors import ConfigError


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1

    @classmethod
    def join(cls, rank: int, size: int, device: torch.device) -> World:
        """Join the process group that torchrun's environment describes (MASTER_ADDR,
        MASTER_PORT); a single process needs none."""
        if size > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=rank, world_size=size)
        return cls(rank, size)

    def leave(self) -> None:
        if self.size > 1 and dist.is_initialized():
            dist.destroy_process_group()

    def check_batch(self, batch_size: int, pack: int = 1) -> None:
        if batch_size % self.size:
            raise ConfigError(f"train.batch_size {batch_size} must divide evenly among {self.size} processes")
        if batch_size // self.size % pack:
            raise ConfigError(f"train.batch_size {batch_size} must split into {self.size} processes' batches of whole "
                              f"packs of model.pack={pack} images")

    def shard(self, t: torch.Tensor, k: int) -> torch.Tensor:
        """This rank's rows of each of the k global batches in t [k*B, ...] -> [k*B/size, ...]."""
        if self.size == 1:
            return t
        return t.view(k, self.size, -1, *t.shape[1:])[:, self.rank].reshape(-1, *t.shape[1:])

    def mean_(self, t: torch.Tensor) -> torch.Tensor:
        """t averaged over the ranks, in place."""
        if self.size > 1:
            dist.all_reduce(t)
            t /= self.size
        return t

    def max(self, value: float) -> float:
        """The largest `value` of any rank (so that every rank takes the same decision)."""
        if self.size == 1:
            return value
        t = torch.tensor([value], dtype=torch.float64, device=_device())
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return float(t.item())

    def average_gradients(self, opt: torch.optim.Optimizer) -> None:
        """Before each opt.step(), replace every gradient by its mean over the ranks."""
        if self.size == 1:
            return
        params = [p for group in opt.param_groups for p in group["params"]]

        @torch.no_grad()
        def hook(optimizer: torch.optim.Optimizer, args: tuple, kwargs: dict) -> None:
            grads = [p.grad for p in params if p.grad is not None]
            flat = self.mean_(torch.cat([g.flatten() for g in grads]))  # one collective per update
            for g, avg in zip(grads, flat.split([g.numel() for g in grads])):
                g.copy_(avg.view_as(g))

        opt.register_step_pre_hook(hook)

    @torch.no_grad()
    def average_buffers(self, module: nn.Module | None) -> None:
        """Batch-norm running statistics differ by shard: average them, so that every rank
        (and rank 0's checkpoint) holds the same model."""
        if self.size > 1 and module is not None:
            for b in module.buffers():
                if b.is_floating_point():
                    self.mean_(b)

    def broadcast_text(self, text: str | None) -> str:
        """Rank 0's `text` on every rank (the run folder rank 0 made)."""
        if self.size == 1:
            return text or ""
        box = [text]
        dist.broadcast_object_list(box, src=0)
        return box[0] or ""


def _device() -> torch.device:
    """The device gloo or NCCL reduces on: NCCL needs CUDA tensors."""
    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")
