"""Run folders: runs/00000-classic-mnist/, numbered so that runs never overwrite each other.

RUN_FILES lists every file a run folder can hold, who writes it and what it holds; the
documentation's reference renders it, and tests/test_docs.py checks a trained run against it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mnistgan.atomic import append_line, atomic_write_bytes, clean_temp
from mnistgan.config import RunConfig

_NUMBERED = re.compile(r"^(\d{5})-")
BEST_GENERATOR = Path("generator-best.safetensors")
BEST_STATE = Path("checkpoints") / "best.pt"
BEST_INFO = Path("checkpoints") / "best.json"
_CLAIM_TRIES = 1000  # more simultaneous starts than this into one folder is not a real use

# (path pattern, written by, what it holds): every file in a run folder matches one pattern.
RUN_FILES: tuple[tuple[str, str, str], ...] = (
    ("config.json", "train", "the resolved config (also inside every checkpoint and the weights' metadata)"),
    ("metrics.jsonl", "train", "one JSON object per line: every `train.log_every` steps epoch, step, d_loss, g_loss, "
     "d_real = mean D(x), d_fake = mean D(G(z)) (probabilities for BCE, raw scores otherwise), gp (WGAN-GP), "
     "r1 (with R1), img_per_s; every epoch {\"health\": {d_loss, d_fake, diversity}}; every `eval.every` epochs "
     "{\"eval\", \"floor\", \"best\", \"eval_s\"}; health events {\"event\", \"message\"}"),
    ("samples/epoch_EEEE.png", "train", "the fixed-noise grid every `train.grid_every` epochs (each epoch on "
     "MNIST; fitted to a smaller set), after the last and on a stop (one row per class for a conditional model)"),
    ("checkpoints/state-EEEEEE.pt", "train", "the training state after an epoch (on the cadence of "
     "`train.checkpoint_every_s`, and after the last epoch), the last `train.keep_checkpoints`: "
     "G, D, G's EMA, both Adam states, epoch, step, training seconds, every RNG state, the fixed noise, the "
     "config, the package version (TrainState.state_dict(), the one schema)"),
    ("checkpoints/state-EEEEEE-stepSSSSSSSSS.pt", "train", "the same, saved mid-epoch (in an epoch "
     "longer than `train.checkpoint_every_s`, or on SIGINT/SIGTERM), with the place in the epoch"),
    (str(BEST_STATE), "train (light evaluation)", "the training state of the best epoch by the light evaluation's FID"),
    (str(BEST_INFO), "train (light evaluation)", "the best epoch and its score: {\"epoch\": E, \"fid_lenet\": F}"),
    ("generator.safetensors", "train", "G's newest weights for use, written with each grid, so the last epoch's "
     "when the run ends (the EMA weights when EMA is on); its metadata "
     "holds the model's constructor arguments (the file alone rebuilds G), the config and a sha256 of all of it"),
    (str(BEST_GENERATOR), "train (light evaluation)", "the best generator by the light evaluation: what `sample`, "
     "`evaluate`, `report`, `export` and `serve` use unless `--last`"),
    ("status.json", "train", "running / finished / stopped / interrupted / failed, the process, the wall time "
     "over every session, and the last session's split by phase (start, data, steps, epoch ends, evaluation): "
     "what `mnistgan runs` reads"),
    ("MODEL_CARD.md", "train, evaluate", "the model card: what the model is, its data, training, metrics beside "
     "the floor, known limits, how to load it"),
    ("tensorboard/events.out.tfevents.*", "train --tensorboard", "TensorBoard event files: every metrics.jsonl line "
     "at its step, the grid of each epoch, the health events"),
    ("metrics.json", "evaluate", "the full evaluation: every metric beside the real floor"),
    ("nearest_pairs.png", "evaluate", "the generated images closest to a training image, beside it (memorisation)"),
    ("report.html", "report", "one self-contained HTML report (every image embedded)"),
    ("generator.onnx", "export", "G as ONNX (opset 17, dynamic batch)"),
    ("web/index.html", "export --format web", "one page that runs G in the browser with onnxruntime-web"),
)


def new_run_dir(outdir: Path, cfg: RunConfig, name: str | None = None) -> Path:
    """Create the next numbered folder in `outdir`. The number is claimed by mkdir, which
    only one process can win: a process that loses a race takes the next number."""
    return claim_numbered(outdir, name or f"{cfg.preset}-{cfg.data.name}")


def claim_numbered(outdir: Path, label: str) -> Path:
    """Create outdir/NNNNN-LABEL with the next free number (sweep folders are numbered the
    same way as run folders)."""
    outdir.mkdir(parents=True, exist_ok=True)
    numbers = [int(m.group(1)) for p in outdir.iterdir() if (m := _NUMBERED.match(p.name))]
    number = max(numbers, default=-1) + 1
    for _ in range(_CLAIM_TRIES):
        run_dir = outdir / f"{number:05d}-{label}"
        try:
            run_dir.mkdir()
            return run_dir
        except FileExistsError:
            number += 1
    raise FileExistsError(f"{outdir}: {_CLAIM_TRIES} run numbers after {number - _CLAIM_TRIES} are all taken")


def remove_unstarted(run_dir: Path) -> bool:
    """Remove a run folder holding only what a failed start wrote (config.json, empty
    folders, temp files); anything else, such as a metrics line, keeps it. True if removed."""
    clean(run_dir)
    for sub in ("checkpoints", "samples"):
        try:
            (run_dir / sub).rmdir()
        except OSError:
            pass
    left = {p.name for p in run_dir.iterdir()} if run_dir.is_dir() else {"?"}
    if left <= {"config.json", "status.json"}:
        (run_dir / "config.json").unlink(missing_ok=True)
        (run_dir / "status.json").unlink(missing_ok=True)
        run_dir.rmdir()
        return True
    return False


def clean(run_dir: Path) -> list[Path]:
    """Remove temp files left by killed writes, in the run folder and its subfolders."""
    return [p for folder in (run_dir, run_dir / "checkpoints", run_dir / "samples") if folder.is_dir()
            for p in clean_temp(folder)]


def write_config(run_dir: Path, cfg: RunConfig) -> None:
    """config.json, atomically, and only when it changes (a resume may add epochs)."""
    text = cfg.to_json() + "\n"
    path = run_dir / "config.json"
    try:
        if path.read_text() == text:
            return
    except (OSError, UnicodeDecodeError):
        pass
    atomic_write_bytes(path, text.encode())


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """Every well-formed line of metrics.jsonl (a torn last line is skipped)."""
    return list(_lines(run_dir / "metrics.jsonl"))


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    if not path.is_file():
        return
    for line in path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            yield record


def truncate_metrics(run_dir: Path, epoch: int, step: int) -> None:
    """Before a resume from `epoch` epochs and `step` steps: drop the lines logged after
    that point and any torn line, by writing a new file and renaming it over the old one
    (never rewriting in place). Does nothing when there is nothing to drop."""
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return
    lines = path.read_text(errors="replace").splitlines(keepends=True)
    kept = [line for line in lines if _before(line, epoch, step)]
    if kept != lines:
        atomic_write_bytes(path, "".join(kept).encode())


def _before(line: str, epoch: int, step: int) -> bool:
    """A complete line logged by epoch `epoch`, or in the next epoch by step `step`."""
    if not line.endswith("\n"):
        return False
    try:
        r = json.loads(line)
    except json.JSONDecodeError:
        return False
    if not isinstance(r, dict):
        return False
    e, s = r.get("epoch", 0), r.get("step", 0)
    return e <= epoch or (e == epoch + 1 and s <= step and "health" not in r and "event" not in r and "eval" not in r)


def append_metrics(run_dir: Path, record: dict[str, Any]) -> None:
    append_line(run_dir / "metrics.jsonl", json.dumps(record))


_GRID_FILE = re.compile(r"^epoch_(\d{1,6})\.png$")


def grid_files(run_dir: Path) -> dict[int, Path]:
    """epoch -> samples/epoch_NNNN.png, in epoch order, from the folder's listing ({} when
    there is none, or it cannot be listed)."""
    try:
        found = [(int(m.group(1)), p) for p in (run_dir / "samples").iterdir() if (m := _GRID_FILE.match(p.name))]
    except OSError:
        return {}
    return dict(sorted(found))


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object from a run folder's file, or None if it is missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return None
    return data if isinstance(data, dict) else None


def _is_best(best: Any) -> bool:
    return isinstance(best, dict) and "epoch" in best and "fid_lenet" in best


def read_best(run_dir: Path, logged: bool = True) -> dict[str, Any] | None:
    """The best generator's {"epoch", "fid_lenet"}, or None if the run has not kept one:
    from checkpoints/best.json, else (`logged`; a folder copied without checkpoints/) from the
    newest light evaluation in metrics.jsonl, which records the best so far."""
    best = read_json(run_dir / BEST_INFO)
    if _is_best(best):
        return best
    if not logged:
        return None
    recorded = [r["best"] for r in read_metrics(run_dir) if isinstance(r.get("eval"), dict) and _is_best(r.get("best"))]
    return recorded[-1] if recorded else None
