"""The bound a training step's own matrix work sets: record every matrix product and
convolution one step runs (forward and backward, with their exact shapes, strides and
dtypes), then time only those, replayed back to back on random tensors of the same
layout. A step can run no faster than its GEMMs; everything above this time is
per-op overhead, elementwise work, the optimizer and Python.

On a GPU the replay is captured as a CUDA graph. A graph reads its inputs at the
addresses it was captured with, so the random tensors must live as long as the graph:
`Replay` holds both. (It once did not: the graph was kept and the function holding the
tensors dropped, and the next capture's empty_cache() handed their memory back to the
driver, so a later replay of dcgan-cond's bound read unmapped memory: "an illegal memory
access" in replay(). classic's small tensors shared segments with live ones, so it only
read stale memory.)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_map

aten = torch.ops.aten
MATRIX_OPS = {aten.mm.default, aten.addmm.default, aten.bmm.default, aten.baddbmm.default,
              aten.convolution.default, aten.convolution_backward.default}


@dataclass(frozen=True)
class _Layout:
    """A recorded tensor argument: what a random stand-in must look like."""

    shape: tuple[int, ...]
    stride: tuple[int, ...]
    dtype: torch.dtype
    device: torch.device

    def random(self) -> torch.Tensor:
        """A tensor of this layout over storage of its own, just large enough for its strided extent."""
        extent = 1 + sum((n - 1) * s for n, s in zip(self.shape, self.stride) if n)  # elements the strides reach
        storage = torch.empty(extent if all(self.shape) else 0, dtype=self.dtype, device=self.device).normal_()
        return storage.as_strided(self.shape, self.stride)  # stride 0 (an expanded gradient) reads one value


class _Record(TorchDispatchMode):
    """Records (op, args, kwargs) of every matrix op, tensors replaced by their layout."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[Any, Any, Any]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in MATRIX_OPS:
            layout = lambda a: _Layout(tuple(a.shape), a.stride(), a.dtype, a.device) if isinstance(a, torch.Tensor) else a  # noqa: E731
            self.calls.append((func, tree_map(layout, args), tree_map(layout, kwargs)))
        return func(*args, **kwargs)


def record(step: Callable[[], None]) -> list[tuple[Any, Any, Any]]:
    """The matrix ops of one call of `step` (run once under the recorder)."""
    with _Record() as rec:
        step()
    return rec.calls


class Replay:
    """Runs exactly `calls` on random tensors made once (`inputs`); on a GPU, `graphed()`
    captures that as a CUDA graph that this object keeps, beside the tensors it reads."""

    def __init__(self, calls: list[tuple[Any, Any, Any]]) -> None:
        tensor = lambda a: a.random() if isinstance(a, _Layout) else a  # noqa: E731
        self.bound = [(func, tree_map(tensor, args), tree_map(tensor, kwargs)) for func, args, kwargs in calls]
        self.graph: torch.cuda.CUDAGraph | None = None

    def inputs(self) -> list[torch.Tensor]:
        return [a for _, args, kwargs in self.bound for a in (*args, *kwargs.values()) if isinstance(a, torch.Tensor)]

    @torch.no_grad()
    def __call__(self) -> None:
        for func, args, kwargs in self.bound:
            func(*args, **kwargs)

    def graphed(self) -> Callable[[], None]:
        """One call (which warms up cuBLAS and cuDNN), then a capture of the next; returns
        the graph's replay, a bound method of this object: calling it keeps the inputs alive."""
        self()
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self()
        return self.replay

    def replay(self) -> None:
        assert self.graph is not None
        self.graph.replay()


def replayer(calls: list[tuple[Any, Any, Any]]) -> Replay:
    """Runs exactly `calls` on fresh random tensors (made once)."""
    return Replay(calls)


def seconds_per_call(fn: Callable[[], None], n: int, device: torch.device) -> float:
    """Wall time of n calls of fn, per call (the GPU waited for at both ends)."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    start = time.perf_counter()
    for _ in range(n):
        fn()
    sync()
    return (time.perf_counter() - start) / n
