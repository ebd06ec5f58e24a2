"""Run folders: runs/00000-classic-mnist/, numbered so that runs never overwrite each other.

    config.json            the resolved config (also inside every checkpoint)
    metrics.jsonl          one JSON object per logged interval
    samples/epoch_0001.png the fixed-noise grid after each epoch
    checkpoints/           training state, the last K
    generator.safetensors  G's weights for use, config in metadata
    generator-best.safetensors, checkpoints/best.pt, checkpoints/best.json
                           the best generator by the light evaluation, its training state,
                           and {"epoch": E, "fid_lenet": F}
    status.json            running / finished / stopped / interrupted / failed, and wall time
                           (train/status.py)
    MODEL_CARD.md          what the model is, its data, training, metrics and limits (card.py)
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


def new_run_dir(outdir: Path, cfg: RunConfig, name: str | None = None) -> Path:
    """Create the next numbered folder in `outdir`. The number is claimed by mkdir, which
    only one process can win: a process that loses a race takes the next number."""
    outdir.mkdir(parents=True, exist_ok=True)
    label = name or f"{cfg.preset}-{cfg.data.name}"
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


def read_best(run_dir: Path) -> dict[str, Any] | None:
    """The best generator's {"epoch", "fid_lenet"}, or None if the run has not kept one."""
    best = read_json(run_dir / BEST_INFO)
    return best if best is not None and "epoch" in best and "fid_lenet" in best else None
