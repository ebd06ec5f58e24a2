"""Load on the web app: starts `mnistgan serve` (uvicorn) in a subprocess, sends N
requests from C concurrent httpx async clients over a mix of endpoints, and prints
throughput, p50/p99 latency per endpoint, and the error count.

    python benchmarks/serve_load.py RUN_OR_RUNS_DIR [--run NAME] [--requests 2000] [--concurrency 8]
                                    [--threads 1] [--data-dir DIR]

The mix (of requests): 50% a 64-sample PNG grid (the goal: p50 under 20 ms for classic),
10% a 16-sample grid, 10% a 12-step latent walk, 10% a game round and 10% its guess,
5% judging a drawing, 5% /api/info. Seeds vary, so no response is served from a cache.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import httpx

from mnistgan.hardware import machine_line

MIX = [("sample64", 50), ("sample16", 10), ("walk", 10), ("round", 10), ("guess", 10), ("judge", 5), ("info", 5)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(runs: str, port: int, threads: int, data_dir: str | None) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "mnistgan", "serve", runs, "--port", str(port), "--threads", str(threads)]
    if data_dir:
        cmd += ["--data-dir", data_dir]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited: {proc.stderr.read()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the server did not answer /healthz within 60 s")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


async def one(client: httpx.AsyncClient, kind: str, run: str, rng: random.Random, games: list) -> httpx.Response:
    seed = rng.randrange(2**31)
    if kind == "sample64":
        return await client.get("/api/sample", params={"run": run, "n": 64, "seed": seed})
    if kind == "sample16":
        return await client.get("/api/sample", params={"run": run, "n": 16, "seed": seed})
    if kind == "walk":
        return await client.get("/api/interpolate", params={"run": run, "seed_a": seed, "seed_b": seed + 1, "steps": 12})
    if kind == "info":
        return await client.get("/api/info", params={"run": run})
    if kind == "judge":
        pixels = [0] * 784
        for y in range(5, 23):
            pixels[y * 28 + 13 + rng.randrange(-1, 2)] = 255  # a stroke: a "1"
        return await client.post("/api/judge", params={"run": run}, json={"pixels": pixels})
    if kind == "round":
        r = await client.get("/api/game/round", params={"run": run})
        if r.status_code == 200:
            games.append(r.json())
        return r
    # guess: answer a round this client opened, or open one first (not timed separately)
    if not games:
        games.append((await client.get("/api/game/round", params={"run": run})).json())
    g = games.pop()
    return await client.post("/api/game/guess", json={"game": g["game"], "round": g["round"], "guess": "real"})


async def load(base: str, run: str, n: int, concurrency: int, seed: int) -> tuple[dict, int, float]:
    rng = random.Random(seed)
    kinds = [k for k, w in MIX for _ in range(w)]
    plan = [rng.choice(kinds) for _ in range(n)]
    queue: asyncio.Queue = asyncio.Queue()
    for kind in plan:
        queue.put_nowait(kind)
    latencies: dict[str, list[float]] = defaultdict(list)
    errors = 0

    async def client_loop(i: int) -> None:
        nonlocal errors
        r_rng, games = random.Random(seed * 1000 + i), []
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            while not queue.empty():
                kind = queue.get_nowait()
                t = time.perf_counter()
                try:
                    r = await one(client, kind, run, r_rng, games)
                    ok = r.status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies[kind].append(time.perf_counter() - t)
                errors += not ok

    t0 = time.perf_counter()
    await asyncio.gather(*(client_loop(i) for i in range(concurrency)))
    return latencies, errors, time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", help="a run folder or a folder of runs")
    p.add_argument("--run", help="the run's name (default: the server's default run)")
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--threads", type=int, default=1, help="the server's torch threads (its --threads)")
    p.add_argument("--data-dir", help="the dataset folder, for the game's real images")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    print(machine_line("cpu"), flush=True)
    port = free_port()
    server = start_server(args.runs, port, args.threads, args.data_dir)
    base = f"http://127.0.0.1:{port}"
    try:
        run = args.run or httpx.get(f"{base}/api/runs").json()["default"]
        info = httpx.get(f"{base}/api/info", params={"run": run}, timeout=60).json()
        asyncio.run(load(base, run, 50, args.concurrency, args.seed + 1))  # warm-up: load the run, the data
        server_cpu, client_cpu = cpu_seconds(server.pid), time.process_time()
        latencies, errors, seconds = asyncio.run(load(base, run, args.requests, args.concurrency, args.seed))
        server_cpu, client_cpu = cpu_seconds(server.pid) - server_cpu, time.process_time() - client_cpu
    finally:
        server.terminate()
        server.wait(timeout=10)
    total = sum(len(v) for v in latencies.values())
    print(f"run {run} (preset {info.get('preset')}), {os.cpu_count()} CPUs, server torch threads {args.threads}, "
          f"{args.concurrency} concurrent clients")
    print(f"{total} requests in {seconds:.2f} s: {total / seconds:.0f} requests/s, {errors} errors")
    print(f"CPU per request: server {server_cpu / total * 1e3:.2f} ms, these clients {client_cpu / total * 1e3:.2f} ms "
          f"(1-minute load average after: {os.getloadavg()[0]:.2f})")
    print(f"{'endpoint':<10}{'count':>7}{'p50 ms':>9}{'p99 ms':>9}{'mean ms':>9}")
    for kind, _ in MIX:
        v = latencies.get(kind, [])
        if v:
            print(f"{kind:<10}{len(v):>7}{percentile(v, 50) * 1e3:>9.1f}{percentile(v, 99) * 1e3:>9.1f}"
                  f"{statistics.mean(v) * 1e3:>9.1f}")
    every = [x for v in latencies.values() for x in v]
    print(f"{'all':<10}{len(every):>7}{percentile(every, 50) * 1e3:>9.1f}{percentile(every, 99) * 1e3:>9.1f}"
          f"{statistics.mean(every) * 1e3:>9.1f}")


if __name__ == "__main__":
    main()
