"""A checkpoint's raw generator (G's own weights, not their average) as a generator file, so that
`mnistgan evaluate` scores a run without its EMA: the EMA changes only which weights are saved,
so one run measures both sides (docs/measurements.md, "The classic preset's sizes").

    python tools/raw_generator.py RUN/checkpoints/state-000080.pt raw.safetensors
    mnistgan evaluate raw.safetensors -n 10000 --out raw-metrics.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mnistgan.io import state as checkpoint
from mnistgan.io.weights import load_into, save_generator
from mnistgan.models import build_generator


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("state", type=Path, help="a training checkpoint (state-*.pt or best.pt)")
    p.add_argument("out", type=Path, help="the generator file to write (.safetensors)")
    args = p.parse_args()
    state = checkpoint.load_state(args.state)
    cfg = checkpoint.config_of(state, args.state)
    G = build_generator(cfg.model)
    load_into(G, state["G"], args.state)
    save_generator(args.out, G, cfg, int(state["epoch"]))
    print(f"wrote {args.out}: the raw G of epoch {state['epoch']} of {args.state}")


if __name__ == "__main__":
    main()
