"""What the machine computes natively, and the training precision that follows from it.

bf16 autocast pays only where the hardware multiplies bf16 natively. Measured with
`benchmarks/train_throughput.py` (2 threads): on a 2-core AMD EPYC with AVX2 only, bf16
trained dcgan-cond at 0.09x its fp32 speed (oneDNN emulates bf16 there); on a Zen 4 EPYC
with AVX512_BF16 at 1.35x, and on a Sapphire Rapids with AMX at 1.37x. So `train.precision
= "auto"` is bf16 on CUDA GPUs that support it and on CPUs with AMX-bf16 or AVX512_BF16,
and fp32 everywhere else. The facts come from torch (`torch.cpu.get_capabilities()`), so
they are the ones its kernels dispatch on.
"""

from __future__ import annotations

import functools
import platform
import time
from dataclasses import dataclass

import torch

PRECISIONS = ("auto", "fp32", "bf16")


@dataclass(frozen=True)
class Hardware:
    """One device as the training sees it."""

    device: str  # "cpu" or "cuda"
    name: str  # "AMD EPYC", "NVIDIA H200"
    capability: str  # torch's CPU kernels: "AVX2", "AVX512", ...; a GPU's compute capability "9.0"
    bf16: str  # what multiplies bf16 natively: "AMX", "AVX512_BF16", "CUDA"; "" if nothing does

    def describe(self) -> str:
        native = f"native bf16: {self.bf16}" if self.bf16 else "no native bf16"
        if self.device == "cpu":
            return f"CPU {self.name} ({torch.get_num_threads()} threads; torch kernels {self.capability}; {native})"
        return f"GPU {self.name} (compute capability {self.capability}; {native})"


def cpu_bf16(capabilities: dict) -> str:
    """The CPU feature that multiplies bf16 natively ("AMX", "AVX512_BF16"), or ""."""
    if capabilities.get("amx_bf16"):
        return "AMX"
    if capabilities.get("avx512_bf16"):
        return "AVX512_BF16"
    return ""


@functools.cache
def _cpu() -> Hardware:
    caps = torch.cpu.get_capabilities() if hasattr(torch.cpu, "get_capabilities") else {}
    name = str(caps.get("cpu_name") or platform.processor() or platform.machine() or "unknown CPU").strip()
    return Hardware("cpu", name, torch.backends.cpu.get_cpu_capability(), cpu_bf16(caps))


def hardware(device: str | torch.device = "cpu") -> Hardware:
    device = torch.device(device)
    if device.type != "cuda":
        return _cpu()
    index = device.index if device.index is not None else torch.cuda.current_device()
    major, minor = torch.cuda.get_device_capability(index)
    bf16 = "CUDA" if torch.cuda.is_bf16_supported(including_emulation=False) else ""
    return Hardware("cuda", torch.cuda.get_device_name(index), f"{major}.{minor}", bf16)


def resolve_precision(precision: str, hw: Hardware) -> str:
    """The precision a run computes in: "auto" is bf16 where `hw` multiplies bf16
    natively, else fp32; an explicit choice is kept."""
    if precision == "auto":
        return "bf16" if hw.bf16 else "fp32"
    return precision


def bf16_slowdown_warning(precision: str, hw: Hardware, measure=None) -> str | None:
    """One line when a run asks for bf16 explicitly on hardware without native bf16,
    with the speed measured here (`measure` returns bf16 time / fp32 time)."""
    if precision != "bf16" or hw.bf16:
        return None
    ratio = (measure or bf16_matmul_ratio)()
    return (f"warning: train.precision=bf16 on {hw.name}, which has no native bf16 ({hw.capability}): a bf16 "
            f"matrix product took {ratio:.1f}x the time of fp32 here; train.precision=auto (the default) "
            f"would train in fp32")


@functools.cache
def bf16_matmul_ratio(n: int = 256, reps: int = 5) -> float:
    """Time of an n x n bf16 matrix product over an fp32 one on this CPU (best of
    `reps`): about 10 where bf16 is emulated, under 1 where it is native. Takes well
    under a second even where bf16 is emulated."""
    gen = torch.Generator().manual_seed(0)
    a32 = torch.randn(n, n, generator=gen)
    times = {}
    for dtype in (torch.float32, torch.bfloat16):
        a = a32.to(dtype)
        torch.mm(a, a)  # warm-up: kernel selection
        best = float("inf")
        for _ in range(reps):
            t0 = time.perf_counter()
            torch.mm(a, a)
            best = min(best, time.perf_counter() - t0)
        times[dtype] = best
    return times[torch.bfloat16] / times[torch.float32]


def machine_line(device: str | torch.device = "cpu") -> str:
    """The first line of every benchmark: what its figures were measured on."""
    line = f"measured on {hardware('cpu').describe()}; torch {torch.__version__}"
    if torch.device(device).type == "cuda":
        line += f"; {hardware(device).describe()}"
    return line
