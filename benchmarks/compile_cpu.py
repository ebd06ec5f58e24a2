"""torch.compile on the CPU, three ways, for one preset's step (default: classic):

    python benchmarks/compile_cpu.py [--preset classic] [--threads 2] [--rounds 9]

- eager: train/step.py's train_step as the loop runs it;
- compiled modules: torch.compile(G) and torch.compile(D) (what --compile does);
- compiled step: torch.compile of the whole train_step, backward and Adam included, with
  compiled autograd.
Same batch, windows of 50 steps taking turns; median img/s and the ratio to eager.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch._dynamo

from mnistgan.hardware import machine_line
from mnistgan.config import load_config
from mnistgan.train.state import init_state
from mnistgan.train.step import Objective, train_step


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--preset", default="classic")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--rounds", type=int, default=9)
    args = p.parse_args()
    print(machine_line("cpu"), flush=True)
    torch.set_num_threads(args.threads)
    cfg, device = load_config(args.preset), torch.device("cpu")
    B = cfg.train.batch_size
    real, z = torch.rand(B, 1, 28, 28) * 2 - 1, torch.randn(B, cfg.model.z_dim)
    y = torch.randint(0, cfg.model.num_classes, (B,)) if cfg.model.num_classes else None
    obj = Objective.from_config(cfg, device)
    runs, times = {}, {}
    for name in ("eager", "compiled modules", "compiled step"):
        s = init_state(cfg, device)
        G, D, step = s.G, s.D, train_step
        if name == "compiled modules":
            G, D = torch.compile(G), torch.compile(D)
        if name == "compiled step":
            torch._dynamo.config.compiled_autograd = True
            step = torch.compile(train_step)
        runs[name] = lambda n, G=G, D=D, s=s, step=step: [step(G, D, s.opt_g, s.opt_d, obj, real, y, z)
                                                          for _ in range(n)]
        start = time.perf_counter()
        runs[name](10)  # compilation
        print(f"{name}: first 10 steps (compiling) {time.perf_counter() - start:.1f} s", flush=True)
        times[name] = []
    for _ in range(args.rounds):
        for name, run in runs.items():
            start = time.perf_counter()
            run(50)
            times[name].append(50 * B / (time.perf_counter() - start))
    base = statistics.median(times["eager"])
    print(f"{args.preset}, {torch.get_num_threads()} threads, batch {B}, median of {args.rounds} windows of 50 steps")
    for name, t in times.items():
        print(f"  {name:<18}{statistics.median(t):>10,.0f} img/s{statistics.median(t) / base:>8.2f}x")


if __name__ == "__main__":
    main()
