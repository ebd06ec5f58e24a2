"""The `mnistgan` command: argparse subcommands, each a thin wrapper over the library.

This is the only module that reads argv and the environment (MNISTGAN_DATA,
XDG_CACHE_HOME). Errors a user can fix are printed as one line, without a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mnistgan import runtime
from mnistgan._version import __version__
from mnistgan.config import (ALIASES, PRESET_ABOUT, PRESETS, RunConfig, apply_overrides, explicit_keys, load_config,
                             read_config)
from mnistgan.data.datasets import DATASETS, get_spec
from mnistgan.data.sources import Sources, load_split, locate, verify_all
from mnistgan.errors import ConfigError, FileSystemError, MnistganError, TrainingStopped, plain_os_error
from mnistgan.eval.table import format_table
from mnistgan.pretrained import output_dir, where
from mnistgan.train.stop import Stopped, StopRequest

if TYPE_CHECKING:
    from mnistgan.train.distributed import World
    from mnistgan.train.fast import FastPath

log = logging.getLogger("mnistgan")


def sources_from(args: argparse.Namespace) -> Sources:
    data_dir = getattr(args, "data_dir", None) or os.environ.get("MNISTGAN_DATA") or None
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
    """--threads for the commands that take it."""
    if hasattr(args, "threads"):
        runtime.set_threads(args.threads)


def warn_if_oversubscribed() -> None:
    """Say how many torch threads train (a sweep's test reads it), and warn in one line
    when training would start more torch threads than there are free
    cores (measuring takes 0.2 s, so a 1-thread run skips it: it cannot oversubscribe)."""
    import torch

    threads = torch.get_num_threads()
    log.info("training with %d torch thread%s", threads, "s" * (threads > 1))
    warning = runtime.oversubscription_warning(threads, runtime.free_cores()) if threads > 1 else None
    if warning:
        log.warning(warning)


def launch_torchrun(nproc: int, argv: list[str]) -> int:
    """`mnistgan train --nproc N ...` is `torchrun --standalone --nproc-per-node N -m
    mnistgan train ...` (one machine, a free local port), run in this process so that a
    worker's failure or a signal ends with the workers' own one-line messages and their
    exit code, not torchrun's traceback."""
    if not 1 <= nproc <= 1024:
        raise ConfigError(f"--nproc must be between 1 and 1024, got {nproc}")
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    rest = [a for i, a in enumerate(argv) if not (a == "--nproc" or a.startswith("--nproc=")
                                                  or i > 0 and argv[i - 1] == "--nproc")]
    log.info("launching: torchrun --standalone --nproc-per-node=%d -m mnistgan %s", nproc, " ".join(rest))
    try:
        run(parse_args(["--standalone", f"--nproc-per-node={nproc}", "-m", "mnistgan", *rest]))
    except SignalException as e:  # the workers were told, saved and said so
        return 128 + int(e.sigval)
    except ChildFailedError as e:  # the failed worker printed its error; pass its exit code on
        code = next(iter(e.failures.values())).exitcode
        return code if code > 0 else 128 - code
    return 0


def torchrun_place() -> tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's environment; (0, 1, 0) outside it."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size == 1:
        return 0, 1, 0
    return int(os.environ["RANK"]), size, int(os.environ.get("LOCAL_RANK", "0"))


def join_world(device: str) -> tuple[World, str]:
    """Under torchrun: this process's place in the group and its own GPU; otherwise a
    world of one. Returns (World, device)."""
    import torch

    from mnistgan.train.distributed import World

    rank, size, local = torchrun_place()
    if size == 1:
        return World(), device
    if torch.device(device).type == "cuda":
        if local >= torch.cuda.device_count():
            raise ConfigError(f"{size} processes on this node but {torch.cuda.device_count()} GPU(s): "
                              "NCCL takes one GPU per process")
        device = f"cuda:{local}"
        torch.cuda.set_device(local)
    if rank:
        logging.getLogger().setLevel(logging.WARNING)  # rank 0 speaks for the run
    return World.join(rank, size, torch.device(device)), device


def cmd_train(args: argparse.Namespace) -> int:
    import torch

    from mnistgan.train.fast import FastPath
    from mnistgan.train.fit import SetSize, fit_to_data
    from mnistgan.train.loop import check_config

    if args.nproc is not None and "WORLD_SIZE" not in os.environ:
        return launch_torchrun(args.nproc, args.argv)
    device = device_from(args.device)
    fast = FastPath(compile=args.compile, cuda_graphs=args.cuda_graphs, steps_per_graph=args.steps_per_graph)
    fast.check(torch.device(device))
    # --eval-every / --eval-n are short for --set eval.every=N / eval.n=N
    overrides = [*args.set, *([f"eval.every={args.eval_every}"] if args.eval_every is not None else []),
                 *([f"eval.n={args.eval_n}"] if args.eval_n is not None else [])]
    if args.resume:
        run_dir = Path(args.resume)
        if not run_dir.is_dir():
            raise ConfigError(f"{run_dir}: not a run folder ({'a file' if run_dir.exists() else 'no such folder'})")
        saved = run_dir / "config.json"
        if not saved.is_file():
            raise ConfigError(f"{run_dir}: not a run folder (no config.json)")
        if args.preset or args.config:
            raise ConfigError("--resume takes its config from the run; use --set for what may change (e.g. train.epochs=N)")
        cfg = apply_overrides(read_config(saved), overrides)
    else:
        sources = sources_from(args)
        cfg = load_config(args.preset or "classic", args.config, overrides)
        # The sizes the user did not set follow the dataset's (a small imported set).
        cfg = fit_to_data(cfg, SetSize.of(cfg.data, sources.cache_dir), explicit_keys(args.config, overrides))
        check_config(cfg, sources)  # before the run folder exists
    fast.check(torch.device(device), augment=cfg.train.augment)  # before the run folder exists
    world, device = join_world(device)
    try:
        world.check_batch(cfg.train.batch_size, cfg.model.pack)  # before the run folder exists
        return train_in(args, cfg, world, device, fast)
    finally:
        world.leave()


def train_in(args: argparse.Namespace, cfg: RunConfig, world: World, device: str, fast: FastPath) -> int:
    """cmd_train's second half: make the run folder (rank 0), train, say where things are."""
    from mnistgan.runfolder import new_run_dir, read_best, remove_unstarted
    from mnistgan.train.loop import newest_note, train
    from mnistgan.train.status import read_status
    from mnistgan.train.tensorboard import FOLDER as TENSORBOARD_FOLDER
    from mnistgan.train.wallclock import WallClock, describe

    stop = StopRequest()
    run_dir_made: Path | None = None
    run_dir = Path(args.resume) if args.resume else None
    try:
        with stop.installed():
            if not args.resume:
                if world.rank == 0:
                    run_dir = run_dir_made = new_run_dir(Path(args.outdir), cfg, args.name)
                run_dir = Path(world.broadcast_text(str(run_dir)))
            log.info("run folder: %s", run_dir)
            warn_if_oversubscribed()
            state = train(cfg, run_dir, sources=sources_from(args), device=device, world=world, fast=fast,
                          resume=bool(args.resume), progress=sys.stderr.isatty(), stop=stop,
                          tensorboard=args.tensorboard, clock=WallClock())  # from the process's start
    except BaseException as e:
        if run_dir_made is not None and remove_unstarted(run_dir_made):
            log.info("removed %s: the run did not start", run_dir_made)
            note = "nothing was kept"
        else:
            note = newest_note(run_dir) if run_dir else "no run folder was made"
        if isinstance(e, Stopped):
            raise Stopped(e.signum, f"saved {e.saved}; continue with: mnistgan train --resume {run_dir}"
                          if e.saved else note) from None
        if isinstance(e, OSError):
            raise FileSystemError(f"{plain_os_error(e)}; {note}") from None
        raise
    if world.rank:
        return 0
    print(f"trained {state.epoch} epochs ({state.step} steps) in {run_dir}")
    print(f"samples: {run_dir / 'samples' / f'epoch_{state.epoch:04d}.png'}")
    print(f"weights: {run_dir / 'generator.safetensors'}")
    split = (read_status(run_dir) or {}).get("split")
    if isinstance(split, dict):
        print(f"time:    {describe(split)}")
    if args.tensorboard:
        print(f"tensorboard: tensorboard --logdir {run_dir / TENSORBOARD_FOLDER}")
    best = read_best(run_dir)
    if best:
        print(f"best:    {run_dir / 'generator-best.safetensors'} (epoch {best['epoch']}, FID {best['fid_lenet']:.4g}); "
              "sample, evaluate and report use it unless given --last")
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    from mnistgan.sample import check_sample_size, describe, load_generator, parse_digits, write_samples

    out = Path(args.out)
    fmt = args.format or ("npz" if out.suffix == ".npz" else "png")
    if args.digit is not None and args.digits:
        raise ConfigError("--digit and --digits: give one of them")
    n = args.n if args.n is not None else (10 if args.digits else 64)  # a row of 10 per digit
    check_sample_size(n, args.scale, fmt)  # before loading anything
    G = load_generator(args.source, device=device_from(args.device), last=args.last)
    log.info("%s", describe(args.source, args.last))
    digits = parse_digits(args.digits, G.num_classes) if args.digits else None
    out = write_samples(G, out, n=n, seed=args.seed, fmt=fmt, scale=args.scale, digit=args.digit, digits=digits)
    what = f" of each of {args.digits}" if digits else (f" of {args.digit}" if args.digit is not None else "")
    print(f"wrote {n} samples{what} to {out}")
    return 0


def cmd_presets(args: argparse.Namespace) -> int:
    width = max(map(len, [*PRESETS, *ALIASES]))
    for name in PRESETS:
        print(f"{name:<{width}} {PRESET_ABOUT[name]}")
    for alias, target in ALIASES.items():
        kind = "preset" if PRESETS[target].model.num_classes else "unconditional preset"
        print(f"{alias:<{width}} = {target}: the {kind} that measured best at 20 CPU-minutes (docs/measurements.md)")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from mnistgan.atomic import atomic_write_bytes
    from mnistgan.card import write_card
    from mnistgan.eval.evaluate import evaluate_source
    from mnistgan.images import save_png, upscale
    from mnistgan.sample import describe

    source = Path(args.source)
    log.info("%s", describe(source, args.last))
    sources = sources_from(args)
    result, pairs = evaluate_source(source, sources, n=args.n, seed=args.seed, last=args.last, against=args.against)
    own = args.against is None  # scored on another set: beside the run's own metrics, which stay
    name = "metrics.json" if own else f"metrics-{args.against}.json"
    out = Path(args.out) if args.out else output_dir(source) / name
    pairs_path = out.with_name("nearest_pairs.png" if own else f"nearest_pairs-{args.against}.png")
    result["memorisation"]["pairs_png"] = pairs_path.name
    print(format_table(result))  # first: a failed write below loses nothing computed
    try:
        save_png(pairs_path, upscale(pairs, 2))
        atomic_write_bytes(out, (json.dumps(result, indent=2) + "\n").encode())
        card = write_card(source, sources.cache_dir) if own and source.is_dir() and out.parent == source else None
    except OSError as e:
        raise FileSystemError(f"{plain_os_error(e)}; the results are printed above") from None
    print(f"wrote {out} and {pairs_path}" + (f"; refreshed {card}" if card else ""))
    return 0


def cmd_evaluator(args: argparse.Namespace) -> int:
    from mnistgan.eval.evaluator import EvaluatorRecipe, build_evaluator, load_evaluator, load_shipped

    sources = sources_from(args)
    spec = get_spec(args.dataset, sources.cache_dir)  # an unknown name: one line naming the choices
    if spec.channels != 1:
        raise ConfigError(f"an evaluator classifies 1-channel images, and {args.dataset} has {spec.channels} channels "
                          f"(a stacked set is to be scored per channel by the mnist evaluator)")
    recipe = EvaluatorRecipe(dataset=args.dataset)
    shipped = load_shipped(recipe)
    cached = None if args.action == "build" and args.force else load_evaluator(recipe, sources.cache_dir)
    if args.action == "info":
        ev = shipped or cached
        if ev is None:
            print(f"no {args.dataset} evaluator shipped or built yet (run: mnistgan evaluator build --dataset {args.dataset})")
            return 1
        print(json.dumps(ev.info(), indent=2))
        print(f"in use: the {ev.origin} {args.dataset} evaluator, test accuracy {ev.test_accuracy:.2%}")
        return 0
    ev = cached or build_evaluator(recipe, sources)
    print(json.dumps(ev.info(), indent=2))
    print(f"{'found in' if cached else 'built into'} the cache: {ev.path}, test accuracy {ev.test_accuracy:.2%}")
    if shipped is None:
        print(f"no shipped {args.dataset} evaluator: this cached one is in use")
    elif ev.sha256 == shipped.sha256:
        print("bitwise identical to the shipped weights (same sha256); the shipped ones are in use")
    else:
        print(f"differs from the shipped weights (sha256 {ev.sha256[:12]} vs {shipped.sha256[:12]}, shipped test "
              f"accuracy {shipped.test_accuracy:.2%}); the shipped ones stay in use")
    return 0


def _folder_of(path: str, kind: str) -> Path:
    """The folder that `runs` or `sweeps` lists; anything else is a one-line error."""
    root = Path(path)
    if not root.is_dir():
        raise ConfigError(f"{root}: {'a file, not a folder' if root.exists() else 'no such folder'} (give the folder "
                          f"that holds the {kind} folders, e.g. {kind}s)")
    return root


def cmd_runs(args: argparse.Namespace) -> int:
    from mnistgan.runtable import as_json, list_runs, table

    root = _folder_of(args.dir, "run")
    rows = list_runs(root)
    if args.json:
        print(as_json(rows))
    elif not rows:
        print(f"no run folders in {root}")
    else:
        print(table(rows))
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from mnistgan.sweep import from_flags, read_spec, resume_spec, run_sweep
    from mnistgan.sweep.summary import markdown, run_rows, summarise, note_for

    flags = dict(preset=args.preset, seeds=args.seeds, sets=args.set, grids=args.grid, name=args.name, jobs=args.jobs,
                 threads_per_job=args.threads_per_job, evaluate_n=args.evaluate_n, trials=args.search,
                 spaces=args.space, storage=args.storage)
    state = None
    if args.resume:
        if args.spec or any(v not in (None, []) for k, v in flags.items() if k != "jobs"):
            raise ConfigError("--resume takes the spec saved in the sweep folder; only --jobs may change")
        spec, state = resume_spec(Path(args.resume), args.jobs)
    else:
        spec = from_flags(read_spec(Path(args.spec)) if args.spec else None, **flags)
    state = run_sweep(spec, Path(args.outdir), sources_from(args), data_dir=args.data_dir, state=state)
    rows = run_rows(state)
    print(markdown(spec.name, summarise(rows), rows, note_for(state)), end="")
    print(f"wrote {state.folder}/summary.md, summary.csv, summary.json and sweep.html")
    failed = [r for r in rows if r.get("state") == "failed"]
    if failed:
        print(f"{len(failed)} run(s) failed; the same command (or mnistgan sweep --resume {state.folder}) "
              "tries them again", file=sys.stderr)
    return 1 if failed else 0


def cmd_sweeps(args: argparse.Namespace) -> int:
    from mnistgan.sweep.state import list_sweeps, sweeps_table

    root = _folder_of(args.dir, "sweep")
    rows = list_sweeps(root)
    if args.json:
        print(json.dumps(rows, indent=2))
    elif not rows:
        print(f"no sweep folders in {root}")
    else:
        print(sweeps_table(rows))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from mnistgan.eval.report import write_report

    out = write_report(where(args.run), Path(args.out) if args.out else output_dir(args.run) / "report.html")
    print(f"wrote {out}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    source = Path(args.source)
    here = output_dir(source)
    if args.format == "web":
        from mnistgan.export.web import export_web

        out, diff = export_web(source, Path(args.out) if args.out else here / "web", sources_from(args).cache_dir,
                               ort=Path(args.ort) if args.ort else None, last=args.last)
        print(f"wrote {out}: open it in a browser, no server needed (the ONNX graph matches torch within {diff:.2g})")
        return 0
    from mnistgan.export.onnx import export_onnx

    out, diff = export_onnx(source, Path(args.out) if args.out else here / "generator.onnx", last=args.last)
    print(f"wrote {out} (onnxruntime matches torch within {diff:.2g} on a seeded batch)")
    return 0


LOOPBACK = ("127.0.0.1", "localhost", "::1")
SOURCE_HELP = "a run folder, a weights or state file, or pretrained:NAME (a shipped model: mnistgan pretrained)"


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from mnistgan.serve.app import create_app
    except ImportError as e:
        raise ConfigError(f"serve needs {e.name}: pip install 'mnistgan[serve]'") from None
    from mnistgan.pretrained import is_name
    from mnistgan.serve.auth import check_token

    if not 1 <= args.port <= 65535:
        raise ConfigError(f"--port must be between 1 and 65535, got {args.port}")
    if args.runs is not None and not Path(args.runs).exists():
        raise ConfigError(f"{args.runs}: no such folder (give a run folder or a folder of them; none: the shipped models)")
    if args.token is not None and args.no_token:
        raise ConfigError("--token and --no-token: give one of them")
    try:
        token = check_token(args.token) if args.token is not None else None
    except ValueError as e:
        raise ConfigError(f"--token: {e}") from None
    if token is None and args.host not in LOOPBACK and not args.no_token:
        token = secrets.token_urlsafe(32)  # as Jupyter: a non-loopback host needs one
    if args.no_token and args.host not in LOOPBACK:
        log.warning("serving on %s with --no-token: anyone who can reach this address can use the app (put your own "
                    "authentication in front of it)", args.host)
    app = create_app(Path(args.runs) if args.runs is not None else None, sources_from(args),
                     threads=runtime.check_threads(args.threads or 1), token=token)
    names = app.state.mnistgan.catalog.names()
    shipped = sum(is_name(n) for n in names)
    what = (f"{len(names) - shipped} run(s) from {args.runs} and " if args.runs is not None else "") + \
        f"{shipped} shipped model(s)"
    url = f"http://{args.host}:{args.port}/" + (f"?token={token}" if token else "")
    print(f"serving {what} at {url} (API: /docs); Ctrl-C stops")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def cmd_pretrained(args: argparse.Namespace) -> int:
    from mnistgan.errors import CheckpointError
    from mnistgan.pretrained import PREFIX, Shipped

    shipped = Shipped()
    names = shipped.names()
    if not names:
        print("no shipped models in this install")
        return 1
    status = 0
    print(f"{'name':<22} {'dataset':<14} {'conditional':<12} {'FID / real floor':<18} {'size':>8}  files")
    for name in names:
        m = shipped.entry(name)
        fid = (m.get("metrics") or {}).get("fid_lenet") or {}
        try:
            shipped.folder(name)
            check = "sha256 ok"
        except CheckpointError as e:
            check, status = f"FAILED: {e}", 1
        score = f"{fid.get('value', float('nan')):.3g} / {fid.get('real', float('nan')):.3g}"
        print(f"{PREFIX + name:<22} {m.get('dataset', '?'):<14} {'yes' if m.get('conditional') else 'no':<12} "
              f"{score:<18} {m.get('bytes', 0) / 1e6:>6.2f} MB  {check}")
    print("use one wherever a run folder goes, e.g. mnistgan sample pretrained:best --digits 0-9; "
          "in Python: mnistgan.load(\"best\")")
    return status


def cmd_data(args: argparse.Namespace) -> int:
    from mnistgan.data.datasets import imported_names

    sources = sources_from(args)
    if args.action == "import":
        return cmd_data_import(args, sources)
    if args.name:
        get_spec(args.name, sources.cache_dir)  # an unknown name: one line naming the choices
    names = [args.name] if args.name else sorted(DATASETS) + imported_names(sources.cache_dir)
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
            spec = get_spec(name, sources.cache_dir)
            for split in spec.files:
                s = load_split(name, split, Sources(sources.data_dir, sources.cache_dir, download=False))
                counts = s.labels.bincount(minlength=len(spec.classes)).tolist() if spec.labelled else "no labels"
                print(f"{name} {split}: {tuple(s.images.shape)} uint8 from {s.source}; per class {counts}")
    return status


def cmd_data_import(args: argparse.Namespace, sources: Sources) -> int:
    from mnistgan.data.clusters import DEFAULT_K
    from mnistgan.data.importer import describe, import_dataset

    if not args.name or not args.import_name:
        raise ConfigError("usage: mnistgan data import SRC --name NAME [--labels auto|none|clusters] [--clusters K] "
                          "[--invert] [--colour] [--force]")
    if args.clusters is not None and args.labels != "clusters":
        raise ConfigError(f"--clusters {args.clusters} goes with --labels clusters")
    manifest = import_dataset(Path(args.name), args.import_name, sources.cache_dir, labels=args.labels,
                              invert=args.invert, force=args.force, test_share=args.holdout, colour=args.colour,
                              clusters=DEFAULT_K if args.clusters is None else args.clusters)
    for line in describe(manifest, get_spec(args.import_name, sources.cache_dir).home):
        print(line)
    return 0


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
    t.add_argument("--preset", choices=sorted([*PRESETS, *ALIASES]), help="named config (default: classic; "
                   "mnistgan presets lists them)")
    t.add_argument("--config", help="TOML file with [data], [model], [train] tables")
    t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one setting, e.g. --set train.epochs=5 (repeatable)")
    t.add_argument("--outdir", default="runs", help="where numbered run folders go (default: runs)")
    t.add_argument("--name", help="run folder label (default: PRESET-DATASET)")
    t.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its newest checkpoint")
    t.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    t.add_argument("--no-download", action="store_true", help="never download the dataset")
    t.add_argument("--eval-every", type=int, metavar="N",
                   help="light evaluation every N epochs (0: off), logged to metrics.jsonl; keeps the best "
                        "generator by FID (same as --set eval.every=N; default: 5)")
    t.add_argument("--eval-n", type=int, metavar="N", help="samples per light evaluation (default: 2000, or the "
                   "whole test split of a smaller set)")
    t.add_argument("--compile", action="store_true", help="torch.compile G and D (a GPU fast path; slower on "
                   "small CPUs)")
    t.add_argument("--cuda-graphs", action="store_true", help="capture the whole step as a CUDA graph (--device cuda)")
    t.add_argument("--steps-per-graph", type=int, default=1, metavar="K",
                   help="run K steps per call, batches and noise drawn on the device; with --cuda-graphs, one graph "
                        "of K steps per replay (default: 1)")
    t.add_argument("--nproc", type=int, metavar="N", help="train with N processes (torchrun, data parallel; "
                   "train.batch_size is the global batch)")
    t.add_argument("--tensorboard", action="store_true",
                   help="also log to TensorBoard event files in RUN/tensorboard/ (needs the tensorboard extra)")
    data_opts(t)
    threads_opt(t)
    t.set_defaults(func=cmd_train)

    pr = sub.add_parser("presets", help="list the named configs, one line each")
    pr.set_defaults(func=cmd_presets)

    s = sub.add_parser("sample", help="draw digits from a trained generator")
    s.add_argument("source", metavar="RUN_OR_CHECKPOINT", help=SOURCE_HELP)
    s.add_argument("-n", type=int, help="number of images (default: 64; with --digits, 10 per digit)")
    s.add_argument("--digit", type=int, metavar="D", help="draw only this class (a conditional model)")
    s.add_argument("--digits", metavar="LIST", help="one row per class, e.g. 0-9 or 3,5,7 (a conditional model)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", default="samples.png", help="output file (default: samples.png)")
    s.add_argument("--format", choices=("png", "npz"), help="png grid or npz of uint8 [n, 28, 28] ([n, C, 28, 28] for "
                   "C > 1 channels; default: from --out)")
    s.add_argument("--scale", type=int, default=1, help="enlarge the PNG grid by this factor")
    s.add_argument("--device", default="cpu")
    s.add_argument("--last", action="store_true", help="a run's final generator, not its best one")
    s.set_defaults(func=cmd_sample)

    e = sub.add_parser("evaluate", help="metrics beside the real-data floor; writes metrics.json")
    e.add_argument("source", metavar="RUN_OR_CHECKPOINT", help=SOURCE_HELP)
    e.add_argument("-n", type=int, help="generated images, scored against as many test images (default: 10000, "
                   "or the whole test split of a smaller set)")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--out", help="metrics file (default: metrics.json in the run folder; in pretrained-NAME/ for a "
                   "shipped model)")
    e.add_argument("--last", action="store_true", help="a run's final generator, not its best one")
    e.add_argument("--against", metavar="DATASET", help="score on DATASET's test split and evaluator instead of the "
                   "run's own set: the set a cluster-labelled import came from (writes metrics-DATASET.json)")
    data_opts(e)
    threads_opt(e)
    e.set_defaults(func=cmd_evaluate)

    ev = sub.add_parser("evaluator", help="rebuild the evaluator classifier, or say which one is in use (shipped or cached)")
    ev.add_argument("action", choices=("build", "info"))
    ev.add_argument("--dataset", default="mnist", help="mnist, fashion-mnist or an imported set (default: mnist)")
    ev.add_argument("--force", action="store_true", help="rebuild even if the cache holds one")
    data_opts(ev)
    ev.set_defaults(func=cmd_evaluator)

    ru = sub.add_parser("runs", help="one line per run folder, newest first: status, epochs, best FID, wall time")
    ru.add_argument("dir", nargs="?", default="runs", metavar="DIR", help="folder of run folders (default: runs)")
    ru.add_argument("--json", action="store_true", help="the same as a JSON list, for scripts")
    ru.set_defaults(func=cmd_runs)

    sw = sub.add_parser("sweep", help="a study: seeds x settings side by side (or an Optuna search), resumable; "
                        "summary.md/.csv/.json and sweep.html")
    sw.add_argument("spec", nargs="?", metavar="SPEC.toml", help="a sweep spec (examples/sweeps/); flags given "
                    "with it override its values")
    sw.add_argument("--preset", choices=sorted([*PRESETS, *ALIASES]), help="the base config (default: classic)")
    sw.add_argument("--seeds", help="e.g. 0-7 or 0,3,5 (default: 0)")
    sw.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="for every run (repeatable)")
    sw.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2",
                    help="one setting per value; several --grid make every combination (preset may be a key)")
    sw.add_argument("--jobs", type=int, metavar="N", help="runs side by side (default: cores // threads per job)")
    sw.add_argument("--threads-per-job", type=int, metavar="T", help="torch threads of each run (default: 1)")
    sw.add_argument("--evaluate-n", type=int, metavar="N", help="samples in each run's final evaluation (default: "
                    "10000; 0: none, the light evaluation's best counts)")
    sw.add_argument("--search", type=int, metavar="N", help="an Optuna search of N trials over --space")
    sw.add_argument("--space", action="append", default=[], metavar="KEY=DIST",
                    help="loguniform(lo,hi), uniform(lo,hi), int(lo,hi) or choice(v1,v2,...) (repeatable)")
    sw.add_argument("--storage", metavar="URL", help="Optuna storage shared by several machines, e.g. "
                    "postgresql://user@host/db (default: SWEEP/optuna.db)")
    sw.add_argument("--outdir", default="sweeps", help="where numbered sweep folders go (default: sweeps)")
    sw.add_argument("--name", help="the sweep's label (default: the preset, or the spec file's name)")
    sw.add_argument("--resume", metavar="SWEEP_DIR", help="continue a sweep folder (the same command does too)")
    data_opts(sw)
    sw.set_defaults(func=cmd_sweep)

    sws = sub.add_parser("sweeps", help="one line per sweep folder: state, runs finished and failed, wall time")
    sws.add_argument("dir", nargs="?", default="sweeps", metavar="DIR", help="folder of sweep folders (default: sweeps)")
    sws.add_argument("--json", action="store_true", help="the same as a JSON list, for scripts")
    sws.set_defaults(func=cmd_sweeps)

    r = sub.add_parser("report", help="one self-contained HTML report of a run")
    r.add_argument("run", metavar="RUN", help="a run folder, or pretrained:NAME (drawn from what ships with it)")
    r.add_argument("--out", help="HTML file (default: RUN/report.html; pretrained-NAME/report.html for a shipped "
                   "model)")
    r.set_defaults(func=cmd_report)

    x = sub.add_parser("export", help="write the generator as ONNX, or as a web page that runs it, without torch")
    x.add_argument("source", metavar="RUN_OR_CHECKPOINT", help=SOURCE_HELP)
    x.add_argument("--format", choices=("onnx", "web"), default="onnx",
                   help="onnx: one .onnx file; web: a folder with index.html drawing digits in the browser")
    x.add_argument("--out", help="output file for onnx (default: RUN/generator.onnx), folder for web (default: RUN/web); "
                   "for a shipped model, in pretrained-NAME/")
    x.add_argument("--ort", metavar="TGZ_OR_DIR", help="web: onnxruntime-web from `npm pack onnxruntime-web@"
                   "1.30.0` (default: the cache, else npm pack)")
    x.add_argument("--last", action="store_true", help="a run's final generator, not its best one")
    x.set_defaults(func=cmd_export)

    sv = sub.add_parser("serve", help="a local web app to play with trained runs and the shipped models (samples, "
                        "latent walk, a game against D, judge a drawing)")
    sv.add_argument("runs", nargs="?", metavar="RUN_OR_RUNS_DIR", help="a run folder, or a folder of run folders, "
                    "listed beside the shipped models (default: the shipped models alone)")
    sv.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, this machine only; "
                    "any other needs a token, made and printed in the URL)")
    sv.add_argument("--token", help="the token to require (default: a new random one on a non-loopback host; "
                    "none on 127.0.0.1)")
    sv.add_argument("--no-token", action="store_true", help="no token even on a non-loopback host (behind your own "
                    "authenticating proxy)")
    sv.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    sv.add_argument("--threads", type=int, metavar="N", help="torch threads for the model worker (default: 1)")
    data_opts(sv)
    sv.set_defaults(func=cmd_serve)

    pt = sub.add_parser("pretrained", help="the shipped generators: name, dataset, conditional, FID beside the "
                        "real floor, size; each file checked against its sha256")
    pt.set_defaults(func=cmd_pretrained)

    d = sub.add_parser("data", help="fetch, verify or describe datasets; import your own")
    d.add_argument("action", choices=("fetch", "verify", "info", "import"))
    d.add_argument("name", nargs="?", metavar="NAME|SRC",
                   help="dataset (default: all); for import: the source (IDX folder, .npz, or image folder)")
    d.add_argument("--name", dest="import_name", metavar="NAME", help="import: the name to train with (data.name=NAME)")
    d.add_argument("--labels", choices=("auto", "none", "clusters"), default="auto",
                   help="import: use the source's labels (auto), drop them (none), or label the images by equal "
                   "clusters (clusters: for a set without labels, so that a conditional preset such as best trains "
                   "on it)")
    d.add_argument("--clusters", type=int, metavar="K",
                   help="import: with --labels clusters, how many (default: 10)")
    d.add_argument("--invert", action="store_true", help="import: the source is dark on light (MNIST is white on black)")
    d.add_argument("--colour", action="store_true", help="import: keep image files in colour (RGB, 3 channels; "
                   "default: converted to grey, as MNIST)")
    d.add_argument("--force", action="store_true", help="import: replace a set of the same name")
    d.add_argument("--holdout", type=float, default=0.1, metavar="SHARE",
                   help="import: the share held out as the test split when the source has none (default: 0.1, seeded)")
    data_opts(d)
    d.set_defaults(func=cmd_data)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # for --nproc, which relaunches under torchrun
    # A torchrun worker other than rank 0 names itself; rank 0 speaks for the run.
    rank = torchrun_place()[0]
    me = f"mnistgan (rank {rank})" if rank else "mnistgan"
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format=f"{me}: %(message)s", stream=sys.stderr)
    try:
        with StopRequest().installed():  # SIGTERM, like SIGINT, stops with one line
            apply_runtime(args)
            return args.func(args)
    except TrainingStopped as e:
        print(f"{me}: stopped: {e}", file=sys.stderr)
        return 3
    except MnistganError as e:
        print(f"{me}: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # files are written atomically: nothing was left half-written
        print(f"{me}: error: {plain_os_error(e)} (nothing was left half-written)", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        stopped = e if isinstance(e, Stopped) else Stopped(signal.SIGINT)
        if not rank:  # rank 0 saved the state, and says where
            # Without a note (a signal between a command's steps, e.g. after a run finished), the one
            # guarantee that always holds: files are written whole or not at all.
            print(f"{me}: interrupted by {stopped.name}; {stopped.saved or 'nothing was left half-written'}",
                  file=sys.stderr)
        return 128 + stopped.signum
