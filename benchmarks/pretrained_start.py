"""From a fresh install, nothing trained: how long until digits from a shipped model.

    python benchmarks/pretrained_start.py            # 3 tries each; prints medians

1. `mnistgan sample pretrained:best --digits 0-9`: wall and CPU seconds of the whole command.
2. `mnistgan serve` (no run folder): seconds from the start of the process until the page
   answers 200, and until the first sample grid of pretrained:best (the page's first draw).
The baseline is `python -c "import torch"`, which every command pays. Each try runs in an
empty folder with an empty cache (XDG_CACHE_HOME), at 1 thread. The load average is printed:
on a shared machine the wall times grow with it, the CPU seconds do not.
"""

from __future__ import annotations

import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

TRIES = 3


def env(folder: Path) -> dict[str, str]:
    return {**os.environ, "XDG_CACHE_HOME": str(folder / "cache"), "OMP_NUM_THREADS": "1"}


def timed(cmd: list[str], folder: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of one command, run in `folder`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, cwd=folder, env=env(folder), check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def wait_for(url: str, start: float, proc: subprocess.Popen, limit: float = 60) -> float:
    while time.perf_counter() - start < limit:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited: {proc.stderr.read().decode()[-500:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    r.read()
                    return time.perf_counter() - start
        except OSError:
            time.sleep(0.02)
    raise SystemExit(f"{url}: no answer in {limit} s")


def serve_once(folder: Path) -> tuple[float, float]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "mnistgan", "serve", "--port", str(port)], cwd=folder,
                            env=env(folder), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        page = wait_for(f"http://127.0.0.1:{port}/", start, proc)
        drawn = wait_for(f"http://127.0.0.1:{port}/api/sample?run=pretrained:best&n=64", start, proc)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return page, drawn


def main() -> None:
    rows: dict[str, list[float]] = {}
    for _ in range(TRIES):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            for label, cmd in (("import torch", [sys.executable, "-c", "import torch"]),
                               ("sample pretrained:best --digits 0-9", [sys.executable, "-m", "mnistgan", "sample",
                                                                         "pretrained:best", "--digits", "0-9"])):
                wall, cpu = timed(cmd, folder)
                rows.setdefault(f"{label}: wall s", []).append(wall)
                rows.setdefault(f"{label}: CPU s", []).append(cpu)
            page, drawn = serve_once(folder)
            rows.setdefault("serve: page up, s", []).append(page)
            rows.setdefault("serve: first grid of pretrained:best, s", []).append(drawn)
    print(f"median of {TRIES} tries; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for label, values in rows.items():
        print(f"{label:<48} {statistics.median(values):6.2f}   ({', '.join(f'{v:.2f}' for v in values)})")


if __name__ == "__main__":
    main()
