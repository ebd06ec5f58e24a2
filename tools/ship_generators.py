"""Retrain, evaluate and ship the pretrained generators (src/mnistgan/pretrained/).

    python tools/ship_generators.py --data-dir ../shared/datasets/mnist             # all three, an hour of CPU or more
    python tools/ship_generators.py classic --data-dir ../shared/datasets/mnist     # after a change to `classic`
    python tools/ship_generators.py best --force ...                                # ship even if it scores worse
    python tools/ship_generators.py --refresh                                       # after a change to the card

For each model: a run folder through the normal `mnistgan train` (the command below, at
1 thread, seeded by the preset's train.seed), then `mnistgan evaluate RUN -n 10000`
(--reuse: the run folder already there). If the
new FID is worse than the shipped one's, it stops there (the run folder is kept) unless
--force. Otherwise pretrained/NAME/ is replaced by the run's files (config.json, the best
generator as generator.safetensors, the best epoch's D as discriminator.safetensors,
metrics, grids, the nearest pairs, a model card and check.npz: seeded samples the tests
compare against), and manifest.json gets the command, seed, epochs, wall time, CPU, the
evaluation beside the real floor and every file's sha256.
Fashion-MNIST comes from Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mnistgan import pretrained
from mnistgan._version import __version__
from mnistgan.atomic import atomic_write_bytes
from mnistgan.card import CARD, write_card
from mnistgan.eval import registry as R
from mnistgan.io import state as checkpoint
from mnistgan.io.weights import save_discriminator
from mnistgan.models import build_discriminator
from mnistgan.runfolder import BEST_GENERATOR, BEST_INFO, BEST_STATE, grid_files, read_best, read_json
from mnistgan.sample import load_generator_from, sample_uint8

EVAL_N = 10_000
CHECK_N, CHECK_SEED = 16, 0  # check.npz: G.sample(16, seed=0), every class in turn for a conditional G
COPIED = ("config.json", "metrics.jsonl", "metrics.json", "nearest_pairs.png")
GRIDS = 8  # epoch grids shipped, evenly spaced (the report's strip shows 8), plus the best epoch's


@dataclass(frozen=True)
class Model:
    dataset: str
    about: str
    train: tuple[str, ...]  # `mnistgan train` arguments, less --threads/--outdir/--name/--data-dir


MODELS = {
    "classic": Model("mnist", "the default preset: the spec's MLP GAN, unconditional", ("--preset", "classic")),
    # A fixed number of epochs, not a time budget: on a shared CPU a budget buys fewer epochs (9 instead of 33
    # in 10 minutes here) and the same command gives another model.
    # rpgan-cond-d16, `best` since 2026-12-06: its own 67 epochs, what 20 CPU-minutes buy it on the Zen 5. Its first
    # run (fp32 on a Zen 3, 60 min) scored FID 3.30, worse than the shipped rpgan-cond-fast's 48 epochs (3.04, 20
    # CPU-minutes on the Zen 5), so that one stays. Before rpgan-cond-fast, rpgan-cond-cls's 30 epochs (FID 4.76: a
    # little more than the 20 CPU-minutes it was chosen at);
    # before that, rpgan-cond-head512's (4.83) and rpgan-cond-concat's (5.75), which beat those of
    # rpgan-cond-concat-lazy and rpgan-cond-head (5.97 and 5.81), `best` in turn (the same G).
    "best": Model("mnist", "the preset that measured best (rpgan-cond-d16: a conditional DCGAN, G at 32 channels and "
                          "D at 16, R3GAN's loss, 256-d noise, D's features read through a hidden layer of 256, D also "
                          "trained as a classifier, a learning rate of 1.6e-3 falling to 0), 67 epochs",
                  ("--preset", "rpgan-cond-d16")),
    # `best`'s recipe since 2026-12-06: over seeds 0-2 at 20 CPU-minutes it beat dcgan-cond (`best` when this model
    # first shipped, 2026-11-30: 20 epochs, FID 41.9) on every seed (docs/measurements.md, "Fashion-MNIST: best's
    # recipe"); 23 epochs, what those 20 minutes bought it on a Zen 3.
    "fashion-best": Model("fashion-mnist", "the preset that measured best (rpgan-cond-d16) on Fashion-MNIST, 23 epochs",
                          ("--preset", "rpgan-cond-d16", "--set", "data.name=fashion-mnist", "--set", "train.epochs=23")),
}


def cpu_name() -> str:
    """The CPU's model name and torch's vector ISA (float results differ between kinds)."""
    name = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{name}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.backends.cpu.get_cpu_capability()})"


def run(cmd: list[str]) -> None:
    """`mnistgan CMD` in a subprocess; the data folder only ever comes from --data-dir."""
    print("$ mnistgan " + " ".join(cmd), flush=True)
    env = {k: v for k, v in os.environ.items() if k != "MNISTGAN_DATA"}
    subprocess.run([sys.executable, "-m", "mnistgan", *cmd], check=True, env=env)


def fid_of(metrics: dict[str, Any] | None) -> float | None:
    value = (((metrics or {}).get("metrics") or {}).get("fid_lenet") or {}).get("value")
    return float(value) if isinstance(value, (int, float)) else None


def ours(run_dir: Path, name: str) -> bool:
    """A run folder `mnistgan train --name NAME` made: NNNNN-NAME (so best's is not fashion-best's)."""
    return re.fullmatch(rf"\d{{5}}-{re.escape(name)}", run_dir.name) is not None


def train_and_evaluate(name: str, model: Model, args: argparse.Namespace) -> tuple[list[str], Path]:
    """The run folder made by the recorded command, evaluated; (command, folder). With
    --reuse, the newest evaluated run folder of `name` in --work, trained before."""
    work = Path(args.work)
    data = ["--data-dir", args.data_dir] if args.data_dir and model.dataset == "mnist" else []
    extra = [a for kv in args.set for a in ("--set", kv)]
    command = ["train", *model.train, *extra, "--threads", "1", "--outdir", str(work), "--name", name]
    if args.reuse:
        done = sorted(p for p in work.iterdir() if ours(p, name) and (p / "metrics.json").is_file())
        if not done:
            raise SystemExit(f"{name}: --reuse, but no evaluated run folder NNNNN-{name} in {work}")
        return command, done[-1]
    before = set(work.iterdir()) if work.is_dir() else set()
    run([*command, *data])
    made = sorted(p for p in set(work.iterdir()) - before if ours(p, name))  # not another ship's
    if len(made) != 1:
        raise SystemExit(f"expected one new run folder NNNNN-{name} in {work}, found {len(made)}")
    run(["evaluate", str(made[0]), "-n", str(args.n), "--threads", "1", *data])
    return command, made[0]


def stage(name: str, run_dir: Path, stage_dir: Path, cache_dir: Path) -> None:
    """pretrained/NAME/'s files, from the run folder, into stage_dir."""
    best = read_best(run_dir)
    generator = run_dir / (BEST_GENERATOR if (run_dir / BEST_GENERATOR).is_file() else "generator.safetensors")
    state_file = run_dir / BEST_STATE if best and (run_dir / BEST_STATE).is_file() else checkpoint.list_states(run_dir)[-1]
    stage_dir.mkdir(parents=True)
    for file in COPIED:
        shutil.copyfile(run_dir / file, stage_dir / file)
    grids = grid_files(run_dir)
    epochs = list(grids)
    keep = {epochs[int(i)] for i in np.linspace(0, len(epochs) - 1, min(GRIDS, len(epochs))).round()}
    keep |= {best["epoch"]} & set(epochs) if best else set()
    (stage_dir / "samples").mkdir()
    for epoch in sorted(keep):
        shutil.copyfile(grids[epoch], stage_dir / "samples" / grids[epoch].name)
    status = read_json(run_dir / "status.json") or {}  # less the host and process id
    atomic_write_bytes(stage_dir / "status.json", (json.dumps(
        {k: status[k] for k in ("state", "reason", "wall_s") if k in status}, indent=2) + "\n").encode())
    if best:
        (stage_dir / BEST_INFO).parent.mkdir()
        shutil.copyfile(run_dir / BEST_INFO, stage_dir / BEST_INFO)
    shutil.copyfile(generator, stage_dir / pretrained.GENERATOR)
    state = checkpoint.load_state(state_file)
    cfg = checkpoint.config_of(state, state_file)
    D = build_discriminator(cfg.model)
    D.load_state_dict(state["D"])
    save_discriminator(stage_dir / pretrained.DISCRIMINATOR, D, cfg, int(state["epoch"]))
    metrics = read_json(stage_dir / "metrics.json") or {}
    metrics["source"] = pretrained.PREFIX + name  # not this machine's path to the run
    atomic_write_bytes(stage_dir / "metrics.json", (json.dumps(metrics, indent=2) + "\n").encode())
    G = load_generator_from(stage_dir / pretrained.GENERATOR).G
    buf = io.BytesIO()
    np.savez_compressed(buf, images=sample_uint8(G, CHECK_N, CHECK_SEED), seed=np.int64(CHECK_SEED))
    atomic_write_bytes(stage_dir / pretrained.CHECK, buf.getvalue())
    write_card(stage_dir, cache_dir, shown=pretrained.PREFIX + name)


def entry(model: Model, command: list[str], run_dir: Path, folder: Path) -> dict[str, Any]:
    config = read_json(folder / "config.json") or {}
    metrics = read_json(folder / "metrics.json") or {}
    status = read_json(folder / "status.json") or {}
    return {
        "dataset": model.dataset, "preset": config.get("preset"), "about": model.about,
        "conditional": bool((config.get("model") or {}).get("num_classes")),
        "command": "mnistgan " + " ".join(command),
        "evaluate": f"mnistgan evaluate {run_dir} -n {metrics.get('n')} --threads 1",
        "seed": (config.get("train") or {}).get("seed"), "epochs": metrics.get("epoch"),
        "epochs_trained": max((int(p.stem.split("_")[1]) for p in (folder / "samples").glob("epoch_*.png")), default=None),
        "wall_s": status.get("wall_s"), "cpu": cpu_name(),
        "package_version": __version__, "shipped": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "metrics": {k: {f: m.get(f) for f in ("label", "value", "real", "better")}
                    for k, m in (metrics.get("metrics") or {}).items() if isinstance(m, dict)},
        "conditional_accuracy": (metrics.get("conditional") or {}).get("accuracy"),
    }


def files_of(folder: Path) -> dict[str, dict[str, Any]]:
    return {p.relative_to(folder).as_posix(): {"sha256": hashlib.sha256(p.read_bytes()).hexdigest(),
                                               "bytes": p.stat().st_size} for p in sorted(folder.rglob("*")) if p.is_file()}


def how_made(name: str, folder: Path, made: dict[str, Any]) -> None:
    """The card's last section, from the manifest entry `made`; then the entry's files, sha256 and sizes."""
    card = folder / CARD
    atomic_write_bytes(card, (card.read_text() + "\n".join([
        "", "## How it was made", "",
        f"- `{made['command']}`: {made['epochs_trained']} epochs in {made['wall_s'] / 60:.1f} min on {made['cpu']}; "
        f"then `{made['evaluate']}`.",
        f"- `python tools/ship_generators.py {name}` does it again (the run folder is kept in --work).", ""])).encode())
    files = files_of(folder)
    made["bytes"], made["files"] = sum(f["bytes"] for f in files.values()), files


def write_manifest(root: Path, manifest: dict[str, Any]) -> None:
    manifest["models"] = {k: manifest["models"][k] for k in [*MODELS, *manifest["models"]] if k in manifest["models"]}
    manifest.update(format="mnistgan-pretrained", format_version=1)
    atomic_write_bytes(root / pretrained.MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())


def refresh(name: str, args: argparse.Namespace) -> None:
    """pretrained/NAME/'s metric names, model card and manifest entry rewritten by today's code from
    its own files, the weights and measurements untouched: after a change to the card or a metric's name."""
    root = Path(args.root)
    manifest = pretrained.Shipped(root).manifest()
    folder, made = root / name, manifest["models"].get(name)
    metrics = read_json(folder / "metrics.json")
    if made is None or not isinstance(metrics, dict) or not isinstance(metrics.get("metrics"), dict):
        raise SystemExit(f"{name}: not shipped in {root}, or its metrics.json is unreadable")
    for key, m in metrics["metrics"].items():
        m["label"] = made["metrics"][key]["label"] = R.long_label(key, m.get("label"))
    atomic_write_bytes(folder / "metrics.json", (json.dumps(metrics, indent=2) + "\n").encode())
    write_card(folder, Path(args.cache_dir), shown=pretrained.PREFIX + name)
    how_made(name, folder, made)
    write_manifest(root, manifest)
    print(f"refreshed {name}'s card and metric names in {folder}")


def ship(name: str, args: argparse.Namespace) -> None:
    model, root = MODELS[name], Path(args.root)
    manifest = pretrained.Shipped(root).manifest()
    command, run_dir = train_and_evaluate(name, model, args)
    new_fid = fid_of(read_json(run_dir / "metrics.json"))
    old_fid = ((manifest["models"].get(name) or {}).get("metrics") or {}).get("fid_lenet", {}).get("value")
    if new_fid is None:
        raise SystemExit(f"{name}: {run_dir} has no FID after evaluate")
    if old_fid is not None and new_fid > old_fid and not args.force and not args.reuse:
        raise SystemExit(f"{name}: the new run scores FID {new_fid:.4g}, worse than the shipped {old_fid:.4g}; "
                         f"kept the shipped one (the run is {run_dir}; --force ships it anyway)")
    manifest = pretrained.Shipped(root).manifest()  # again: another ship may have written it meanwhile
    folder, staging = root / name, root / f".{name}.new"
    shutil.rmtree(staging, ignore_errors=True)
    stage(name, run_dir, staging, Path(args.cache_dir))
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)
    manifest["models"][name] = made = entry(model, command, run_dir, folder)
    how_made(name, folder, made)
    write_manifest(root, manifest)
    old = f" (was {old_fid:.4g})" if old_fid is not None else ""
    print(f"shipped {name}: FID {new_fid:.4g}{old}, {manifest['models'][name]['bytes'] / 1e6:.2f} MB in {folder}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("names", nargs="*", metavar="NAME", help=f"models to ship (default: all: {', '.join(MODELS)})")
    p.add_argument("--data-dir", default=os.environ.get("MNISTGAN_DATA"), help="the MNIST IDX folder "
                   "(default: $MNISTGAN_DATA); Fashion-MNIST is read from the system or the cache")
    p.add_argument("--work", default="runs/shipped", help="where the run folders go (kept; default: runs/shipped)")
    p.add_argument("--cache-dir", default=str(Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mnistgan"),
                   help="mnistgan's cache (default: as the CLI's)")
    p.add_argument("--force", action="store_true", help="ship even when the new model scores a worse FID")
    p.add_argument("--reuse", action="store_true", help="ship the newest evaluated run folder of each model in --work "
                   "again, without training (when only what is written from it changed)")
    p.add_argument("--refresh", action="store_true", help="rewrite the shipped models' cards, metric names and manifest "
                   "entries with today's code, without training or evaluating (after a change to the card or a metric's name)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="also pass to every training (recorded in the command), e.g. train.epochs=1 for a trial")
    p.add_argument("-n", type=int, default=EVAL_N, help=f"samples for mnistgan evaluate (default: {EVAL_N})")
    p.add_argument("--root", default=str(pretrained.ROOT), help="the pretrained/ folder to write (default: the package's)")
    args = p.parse_args()
    unknown = [n for n in args.names if n not in MODELS]
    if unknown:
        p.error(f"unknown model(s) {', '.join(unknown)} (choose from {', '.join(MODELS)})")
    for name in args.names or MODELS:
        (refresh if args.refresh else ship)(name, args)
    total = sum(m["bytes"] for m in pretrained.Shipped(Path(args.root)).manifest()["models"].values())
    print(f"pretrained/: {total / 1e6:.2f} MB in all")


if __name__ == "__main__":
    main()
