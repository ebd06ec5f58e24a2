"""The `mnistgan` command: argparse subcommands, each a thin wrapper over the library.

This is the only module that reads argv and the environment (MNISTGAN_DATA,
XDG_CACHE_HOME). Errors a user can fix are printed as one line, without a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from mnistgan._version import __version__
from mnistgan.config import PRESETS, RunConfig, from_dict, load_config, parse_override
from mnistgan.data.datasets import DATASETS
from mnistgan.data.sources import Sources, fetch, load_split, verify_all
from mnistgan.errors import ConfigError, MnistganError

log = logging.getLogger("mnistgan")


def sources_from(args: argparse.Namespace) -> Sources:
    data_dir = args.data_dir or os.environ.get("MNISTGAN_DATA") or None
    cache_home = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Sources(
        data_dir=Path(data_dir) if data_dir else None,
        cache_dir=Path(cache_home) / "mnistgan",
        download=not getattr(args, "no_download", False),
    )


def cmd_train(args: argparse.Namespace) -> int:
    from mnistgan.train.loop import train
    from mnistgan.train.rundir import new_run_dir

    if args.resume:
        run_dir = Path(args.resume)
        saved = run_dir / "config.json"
        if not saved.is_file():
            raise ConfigError(f"{run_dir}: not a run folder (no config.json)")
        if args.preset or args.config:
            raise ConfigError("--resume takes its config from the run; only --set train.epochs=N may change it")
        import json

        cfg: RunConfig = from_dict(json.loads(saved.read_text()))
        for text in args.set:
            cfg = from_dict(_deep_update(cfg.to_dict(), parse_override(text)))
    else:
        cfg = load_config(args.preset or "classic", args.config, args.set)
        run_dir = new_run_dir(Path(args.outdir), cfg, args.name)
    log.info("run folder: %s", run_dir)
    state = train(cfg, run_dir, sources=sources_from(args), device=args.device, resume=bool(args.resume),
                  progress=sys.stderr.isatty())
    print(f"trained {state.epoch} epochs ({state.step} steps) in {run_dir}")
    print(f"samples: {run_dir / 'samples' / f'epoch_{state.epoch:04d}.png'}")
    print(f"weights: {run_dir / 'generator.safetensors'}")
    return 0


def _deep_update(base: dict, updates: dict) -> dict:
    for key, value in updates.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _deep_update(base[key], value)
        else:
            base[key] = value
    return base


def cmd_sample(args: argparse.Namespace) -> int:
    from mnistgan.sample import load_generator, write_samples

    if args.n < 1:
        raise ConfigError(f"-n must be at least 1, got {args.n}")
    G = load_generator(args.source, device=args.device)
    out = write_samples(G, Path(args.out), n=args.n, seed=args.seed, fmt=args.format, scale=args.scale)
    print(f"wrote {args.n} samples to {out}")
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    sources = sources_from(args)
    names = [args.name] if args.name else sorted(DATASETS)
    status = 0
    for name in names:
        if args.action == "fetch":
            folder = fetch(DATASETS[name], sources)
            print(f"{name}: verified in {folder}")
        elif args.action == "verify":
            found = verify_all(name, sources)
            for path, problem in found:
                print(f"{name}: {'ok    ' if problem is None else 'FAILED'} {path}{'' if problem is None else ': ' + problem}")
            if not any(problem is None for _, problem in found):
                print(f"{name}: no verified copy found (try: mnistgan data fetch {name})")
                status = 1
        else:  # info
            for split in DATASETS[name].files:
                s = load_split(name, split, Sources(sources.data_dir, sources.cache_dir, download=False))
                counts = s.labels.bincount(minlength=10).tolist()
                print(f"{name} {split}: {tuple(s.images.shape)} uint8 from {s.source}; per class {counts}")
    return status


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mnistgan", description="Train, evaluate and sample GANs on MNIST.")
    p.add_argument("--version", action="version", version=f"mnistgan {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)

    def data_opts(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--data-dir", help="folder with the IDX files (default: $MNISTGAN_DATA, then the cache)")

    t = sub.add_parser("train", help="train a GAN; writes a numbered run folder")
    t.add_argument("--preset", choices=sorted(PRESETS), help="named config (default: classic)")
    t.add_argument("--config", help="TOML file with [data], [model], [train] tables")
    t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one setting, e.g. --set train.epochs=5 (repeatable)")
    t.add_argument("--outdir", default="runs", help="where numbered run folders go (default: runs)")
    t.add_argument("--name", help="run folder label (default: PRESET-DATASET)")
    t.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its newest checkpoint")
    t.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    t.add_argument("--no-download", action="store_true", help="never download the dataset")
    data_opts(t)
    t.set_defaults(func=cmd_train)

    s = sub.add_parser("sample", help="draw digits from a trained generator")
    s.add_argument("source", metavar="RUN_OR_CHECKPOINT")
    s.add_argument("-n", type=int, default=64, help="number of images (default: 64)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", default="samples.png", help="output file (default: samples.png)")
    s.add_argument("--format", choices=("png", "npz"), help="png grid or npz of uint8 [n, 28, 28] (default: from --out)")
    s.add_argument("--scale", type=int, default=1, help="enlarge the PNG grid by this factor")
    s.add_argument("--device", default="cpu")
    s.set_defaults(func=cmd_sample)

    d = sub.add_parser("data", help="fetch, verify or describe datasets")
    d.add_argument("action", choices=("fetch", "verify", "info"))
    d.add_argument("name", nargs="?", choices=sorted(DATASETS), help="dataset (default: all)")
    data_opts(d)
    d.set_defaults(func=cmd_data)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="mnistgan: %(message)s", stream=sys.stderr)
    try:
        return args.func(args)
    except MnistganError as e:
        print(f"mnistgan: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mnistgan: interrupted (a run continues from its last epoch with --resume RUN_DIR)", file=sys.stderr)
        return 130
