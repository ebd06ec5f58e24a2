"""How many CPU threads torch uses, and whether the machine has that many cores free.

Two 2-thread torch trainings sharing 2 cores each ran 10-70x slower than alone (OpenMP
threads wait for each other at every parallel region while the other process holds the
core), so `mnistgan train` warns when it would start more threads than there are free
cores. The free-core estimate is injectable so that the warning logic can be tested.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from mnistgan.errors import ConfigError

MAX_THREADS = 256  # a sane upper bound: far above any CPU this package trains on


def check_threads(n: int) -> int:
    """--threads N must be between 1 and MAX_THREADS."""
    if not 1 <= n <= MAX_THREADS:
        raise ConfigError(f"--threads must be between 1 and {MAX_THREADS}, got {n}")
    return n


def set_threads(n: int | None) -> int:
    """Use n intra-op threads (None: keep torch's default); returns the count in use."""
    import torch

    if n is not None:
        torch.set_num_threads(check_threads(n))
    return torch.get_num_threads()


@contextmanager
def one_thread() -> Iterator[None]:
    """torch on one intra-op thread inside the block, then back to the count before.

    `mnistgan sample` generates this way so that a seed gives the same images on a busy machine: on the
    2-core Xeon with AMX, G 1024's products at 2 threads beside a busy core differed in the first
    thread's half of the batch in 1 of 60 to 4 of 40 fresh processes (also in MKL's strict
    reproducible mode), at 1 thread in 0 of 100. Generating 100,000 digits takes 2.5 s instead of 1.3 s."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def read_cpu_times(path: str = "/proc/stat") -> tuple[float, float]:
    """(idle, total) jiffies summed over all CPUs, from the first line of /proc/stat."""
    with open(path) as f:
        fields = [float(v) for v in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)  # idle + iowait
    return idle, sum(fields[:8])  # user..steal; guest time is already counted in user


def free_cores(interval: float = 0.2, read: Callable[[], tuple[float, float]] = read_cpu_times,
               ncpu: int | None = None, sleep: Callable[[float], None] = time.sleep) -> float:
    """Cores idle right now: the idle share of CPU time over `interval` seconds times the
    number of CPUs. Falls back to CPUs minus the 1-minute load average where /proc/stat
    cannot be read (not Linux)."""
    ncpu = ncpu or os.cpu_count() or 1
    try:
        idle0, total0 = read()
        sleep(interval)
        idle1, total1 = read()
    except (OSError, ValueError, IndexError):
        return max(0.0, ncpu - os.getloadavg()[0])
    if total1 <= total0:
        return float(ncpu)
    return ncpu * (idle1 - idle0) / (total1 - total0)


def oversubscription_warning(threads: int, free: float) -> str | None:
    """One line when `threads` exceeds the free cores (rounded to the nearest whole core,
    at least 1), else None."""
    usable = max(1, math.floor(free + 0.5))
    if threads <= usable:
        return None
    return (f"warning: training with {threads} torch threads but only about {free:.1f} of "
            f"{os.cpu_count()} CPU cores are free; threads that share a core slow each other "
            f"down many times over (try --threads {usable})")


def process_age(stat: str = "/proc/self/stat", uptime: str = "/proc/uptime") -> float:
    """Seconds since this process started (to 10 ms, from the kernel's clock ticks), so
    that a run's wall time includes the interpreter's start and the imports; 0.0 where
    /proc cannot tell (not Linux)."""
    try:
        with open(stat) as f:
            fields = f.read().rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
        with open(uptime) as f:
            up = float(f.read().split()[0])
        return max(0.0, up - int(fields[19]) / os.sysconf("SC_CLK_TCK"))  # field 22: starttime
    except (OSError, ValueError, IndexError):
        return 0.0
