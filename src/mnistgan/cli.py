"""The `mnistgan` command: argparse subcommands, each a thin wrapper over the library.

This is the only module that reads argv and the environment (MNISTGAN_DATA,
XDG_CACHE_HOME). Errors a user can fix are printed as one line, without a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from mnistgan import runtime
from mnistgan._version import __version__
from mnistgan.config import PRESETS, apply_overrides, load_config, read_config
from mnistgan.data.datasets import DATASETS
from mnistgan.data.sources import Sources, load_split, locate, verify_all
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


def device_from(name: str) -> str:
    """Check --device early, so a typo or a missing GPU is one line, not a traceback."""
    import torch

    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"--device {name!r}: not a torch device (try cpu or cuda)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"--device {name!r}: CUDA is not available on this machine")
    return name


def apply_runtime(args: argparse.Namespace) -> None:
    """--threads for the commands that take it; `train` warns when the threads outnumber
    the free cores."""
    if not hasattr(args, "threads"):
        return
    threads = runtime.set_threads(args.threads)
    if args.command == "train":
        warning = runtime.oversubscription_warning(threads, runtime.free_cores())
        if warning:
            log.warning(warning)


def cmd_train(args: argparse.Namespace) -> int:
    from mnistgan.train.loop import train
    from mnistgan.train.rundir import new_run_dir

    device = device_from(args.device)
    if args.eval_every < 0:
        raise ConfigError(f"--eval-every must be 0 (off) or a number of epochs, got {args.eval_every}")
    if args.resume:
        run_dir = Path(args.resume)
        saved = run_dir / "config.json"
        if not saved.is_file():
            raise ConfigError(f"{run_dir}: not a run folder (no config.json)")
        if args.preset or args.config:
            raise ConfigError("--resume takes its config from the run; only --set train.epochs=N may change it")
        cfg = apply_overrides(read_config(saved), args.set)
    else:
        cfg = load_config(args.preset or "classic", args.config, args.set)
        run_dir = new_run_dir(Path(args.outdir), cfg, args.name)
    log.info("run folder: %s", run_dir)
    sources = sources_from(args)
    hook = None
    if args.eval_every:
        from mnistgan.eval.evaluate import eval_hook

        hook = eval_hook(args.eval_every, sources, n=args.eval_n)
    state = train(cfg, run_dir, sources=sources, device=device, resume=bool(args.resume),
                  progress=sys.stderr.isatty(), on_epoch_end=hook)
    print(f"trained {state.epoch} epochs ({state.step} steps) in {run_dir}")
    print(f"samples: {run_dir / 'samples' / f'epoch_{state.epoch:04d}.png'}")
    print(f"weights: {run_dir / 'generator.safetensors'}")
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    from mnistgan.sample import load_generator, write_samples

    if args.n < 1:
        raise ConfigError(f"-n must be at least 1, got {args.n}")
    G = load_generator(args.source, device=device_from(args.device))
    out = write_samples(G, Path(args.out), n=args.n, seed=args.seed, fmt=args.format, scale=args.scale)
    print(f"wrote {args.n} samples to {out}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from mnistgan.atomic import atomic_write_bytes
    from mnistgan.eval.evaluate import evaluate
    from mnistgan.eval.evaluator import get_evaluator
    from mnistgan.images import save_png, upscale
    from mnistgan.sample import epoch_of, load_discriminator, load_generator_and_config, resolve

    source = Path(args.source)
    G, cfg = load_generator_and_config(source)
    sources = sources_from(args)
    ev = get_evaluator(cfg.data.name, sources)
    result, pairs = evaluate(G, ev, sources, n=args.n, seed=args.seed, D=load_discriminator(source))
    result = {"source": str(resolve(source)), "epoch": epoch_of(source), **result}
    out = Path(args.out) if args.out else (source if source.is_dir() else source.parent) / "metrics.json"
    pairs_path = out.with_name("nearest_pairs.png")
    save_png(pairs_path, upscale(pairs, 2))
    result["memorisation"]["pairs_png"] = pairs_path.name
    atomic_write_bytes(out, (json.dumps(result, indent=2) + "\n").encode())
    print(format_table(result))
    print(f"wrote {out} and {pairs_path}")
    return 0


def format_table(result: dict) -> str:
    """The metrics beside the real floor, then classes, memorisation and D's report."""
    lines = [f"{result['dataset']}: {result['n']} samples vs {result['n']} real training images "
             f"(evaluator test accuracy {result['evaluator']['test_accuracy']:.2%})", "",
             f"{'metric':<34}{'generated':>18}{'real floor':>18}  better"]
    for m in result["metrics"].values():
        def fmt(v, s):
            return f"{v:.4g}" + (f" ± {s:.2g}" if s is not None else "")
        lines.append(f"{m['label']:<34}{fmt(m['value'], m['std']):>18}{fmt(m['real'], m['real_std']):>18}  {m['better']}")
    c = result["classes"]
    lines += ["", "classes: " + " ".join(f"{n}:{f:.1%}" for n, f in zip(c["names"], c["fractions"])),
              f"classes covered {c['classes_covered']}/{len(c['names'])} (real {c['real']['classes_covered']}), "
              f"KL to real {c['kl_to_real']:.3f} (real {c['real']['kl_to_real']:.3f})"
              + ("  ** MODE COLLAPSE **" if c["collapsed"] else "")]
    mem = result["memorisation"]
    lines.append(f"memorisation: nearest-train distance ratio {mem['ratio']:.3f} (generated "
                 f"{mem['gen_to_train_median']:.3f} / test {mem['test_to_train_median']:.3f}; < 0.5 means copying)"
                 + ("  ** MEMORISED **" if mem["memorised"] else ""))
    d = result.get("discriminator")
    if d:
        lines.append(f"discriminator: accuracy {d['accuracy']:.3f}, ROC AUC {d['roc_auc']:.3f}, mean D(x) "
                     f"{d['mean_d_real']:.3f}, mean D(G(z)) {d['mean_d_fake']:.3f}, train-test gap {d['train_test_gap']:+.4f}")
    else:
        lines.append("discriminator: not in this file (evaluate a run folder or a training-state .pt)")
    return "\n".join(lines)


def cmd_evaluator(args: argparse.Namespace) -> int:
    from mnistgan.eval.evaluator import EvaluatorRecipe, build_evaluator, load_evaluator

    sources = sources_from(args)
    recipe = EvaluatorRecipe(dataset=args.dataset)
    ev = load_evaluator(recipe, sources.cache_dir)
    if args.action == "build" and (ev is None or args.force):
        ev = build_evaluator(recipe, sources)
    if ev is None:
        print(f"no {args.dataset} evaluator built yet (run: mnistgan evaluator build --dataset {args.dataset})")
        return 1
    print(json.dumps(ev.info(), indent=2))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from mnistgan.eval.report import write_report

    out = write_report(Path(args.run), Path(args.out) if args.out else None)
    print(f"wrote {out}")
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    sources = sources_from(args)
    names = [args.name] if args.name else sorted(DATASETS)
    status = 0
    for name in names:
        if args.action == "fetch":
            print(f"{name}: verified in {locate(name, sources)}")
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

    def threads_opt(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--threads", type=int, metavar="N",
                        help="CPU threads for torch (default: torch's, one per core); 1 on a busy machine")

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
    t.add_argument("--eval-every", type=int, default=0, metavar="N",
                   help="light evaluation every N epochs, logged to metrics.jsonl; keeps the best checkpoint by FID")
    t.add_argument("--eval-n", type=int, default=2000, help="samples per light evaluation (default: 2000)")
    data_opts(t)
    threads_opt(t)
    t.set_defaults(func=cmd_train)

    s = sub.add_parser("sample", help="draw digits from a trained generator")
    s.add_argument("source", metavar="RUN_OR_CHECKPOINT")
    s.add_argument("-n", type=int, default=64, help="number of images (default: 64)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", default="samples.png", help="output file (default: samples.png)")
    s.add_argument("--format", choices=("png", "npz"), help="png grid or npz of uint8 [n, 28, 28] (default: from --out)")
    s.add_argument("--scale", type=int, default=1, help="enlarge the PNG grid by this factor")
    s.add_argument("--device", default="cpu")
    threads_opt(s)
    s.set_defaults(func=cmd_sample)

    e = sub.add_parser("evaluate", help="metrics beside the real-data floor; writes metrics.json")
    e.add_argument("source", metavar="RUN_OR_CHECKPOINT")
    e.add_argument("-n", type=int, default=10_000, help="generated images (default: 10000)")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--out", help="metrics file (default: metrics.json in the run folder)")
    data_opts(e)
    threads_opt(e)
    e.set_defaults(func=cmd_evaluate)

    ev = sub.add_parser("evaluator", help="build or describe the cached evaluator classifier")
    ev.add_argument("action", choices=("build", "info"))
    ev.add_argument("--dataset", default="mnist", choices=sorted(DATASETS))
    ev.add_argument("--force", action="store_true", help="rebuild even if cached")
    data_opts(ev)
    ev.set_defaults(func=cmd_evaluator)

    r = sub.add_parser("report", help="one self-contained HTML report of a run")
    r.add_argument("run", metavar="RUN")
    r.add_argument("--out", help="HTML file (default: RUN/report.html)")
    r.set_defaults(func=cmd_report)

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
        apply_runtime(args)
        return args.func(args)
    except MnistganError as e:
        print(f"mnistgan: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mnistgan: interrupted (a run continues from its last epoch with --resume RUN_DIR)", file=sys.stderr)
        return 130
