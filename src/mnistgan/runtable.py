"""`mnistgan runs [DIR]`: one line per run folder, newest first.

Everything is read from the folder without loading a model: config.json (preset, dataset,
planned epochs), the checkpoint and grid file names (epochs done), status.json (how the
run ended, wall time; train/status.py), metrics.jsonl (health events, the light
evaluation's best FID, its floor, and at the best epoch every other light metric that the
metric registry shows in this table: the conditional accuracy, a stacked run's modes). A
folder that is broken or half-written gets a status that says so, never a traceback: every reader here
returns None for what it cannot read.

Runs written before status.json existed get an inferred status: finished when their
epochs (or, for a time budget, their last checkpoint's training seconds) are complete;
stopped when their last health event stops runs; running when metrics.jsonl changed in
the last RECENT_S seconds; interrupted otherwise. Their wall time is estimated from file
times (config.json to the last metrics line).
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mnistgan.config import MAX_EPOCHS  # train.epochs' bound: what a run with only a time budget sets
from mnistgan.eval import registry as R
from mnistgan.runfolder import grid_files, read_best, read_json, read_metrics
from mnistgan.train.status import read_status

RECENT_S = 600  # a run without status.json whose log changed this recently counts as running
_NUMBERED = re.compile(r"^(\d{5})-(.+)$")
_STATE = re.compile(r"^state-(\d{6})(?:-step\d{9})?\.pt$")
_RUN_MARKERS = ("config.json", "metrics.jsonl", "status.json", "checkpoints", "samples")
STOPPING_EVENTS = ("nonfinite",)  # always stop; d_won / collapse stop with train.on_failure=stop


@dataclass
class RunRow:
    path: str
    number: int | None  # the folder's NNNNN- prefix
    name: str  # the rest of the folder name
    preset: str | None
    dataset: str | None
    epochs_done: int | None
    epochs_planned: int | None
    minutes: float | None  # a time budget (train.minutes), if any
    status: str  # running | finished | stopped | interrupted | failed | broken
    detail: str  # why: the health event, the error, what is missing
    best_epoch: int | None
    best_fid: float | None  # the light evaluation's best FID
    floor_fid: float | None  # the real floor at the same n
    fid_ratio: float | None  # best_fid / floor_fid
    cond_accuracy: float | None  # at the best epoch (a conditional model)
    wall_s: float | None
    wall_estimated: bool  # from file times (no status.json)
    started: float | None  # unix time, for the order
    light: dict[str, float | None] = field(default_factory=dict)  # registry column -> value at the best epoch


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def _epochs_done(run: Path) -> int | None:
    """The newest epoch-end checkpoint; else the newest grid (the grid of an epoch is saved
    just before its checkpoint)."""
    try:
        states = [int(m.group(1)) for p in (run / "checkpoints").iterdir() if (m := _STATE.match(p.name))]
    except OSError:
        states = []
    return max(states) if states else max(grid_files(run), default=None)


def process_alive(status: dict[str, Any]) -> bool:
    """Is the process that wrote "running" still there? Unknown on another host: yes."""
    pid = status.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    if status.get("host") != socket.gethostname():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _training_seconds(run: Path) -> float | None:
    """Training seconds of the newest checkpoint (to tell a spent time budget); None if
    none loads."""
    from mnistgan.errors import MnistganError
    from mnistgan.io import state as checkpoint

    for path in reversed(checkpoint.list_states(run)):
        try:
            return _num(checkpoint.load_state(path).get("seconds"))
        except (MnistganError, OSError):
            continue
    return None


def _inferred(run: Path, done: int | None, planned: int | None, minutes: float | None,
              events: list[dict[str, Any]], last_epoch: int | None, on_failure: Any) -> tuple[str, str]:
    """(status, detail) for a run without status.json."""
    if done is not None and planned is not None and done >= planned:
        return "finished", f"{planned} epochs"
    stops = [e for e in events if e.get("event") in STOPPING_EVENTS or on_failure == "stop"]
    if stops and (last_epoch is None or _num(stops[-1].get("epoch")) is None or stops[-1]["epoch"] >= last_epoch):
        return "stopped", str(stops[-1].get("message", stops[-1].get("event")))
    if minutes:
        seconds = _training_seconds(run)
        if seconds is not None and seconds >= minutes * 60:
            return "finished", f"time budget {minutes:g} min"
    changed = _mtime(run / "metrics.jsonl")
    if changed is not None and time.time() - changed < RECENT_S:
        return "running", "metrics.jsonl changed in the last 10 minutes (no status.json)"
    return "interrupted", "no status.json; the run ended before its epochs or budget"


def read_run(run: Path) -> RunRow:
    """One row for `run`; never raises."""
    m = _NUMBERED.match(run.name)
    row = RunRow(str(run), int(m.group(1)) if m else None, m.group(2) if m else run.name, None, None, None, None,
                 None, "broken", "", None, None, None, None, None, None, False, _mtime(run))
    try:
        _fill(run, row)
    except Exception as e:  # a table must list every folder: any surprise becomes its status
        row.status, row.detail = "broken", f"{type(e).__name__}: {e}"
    return row


def _fill(run: Path, row: RunRow) -> None:
    config = read_json(run / "config.json")
    train = (config or {}).get("train") if isinstance((config or {}).get("train"), dict) else {}
    data = (config or {}).get("data") if isinstance((config or {}).get("data"), dict) else {}
    row.preset = (config or {}).get("preset") if isinstance((config or {}).get("preset"), str) else None
    row.dataset = data.get("name") if isinstance(data.get("name"), str) else None
    planned = _num(train.get("epochs"))
    row.epochs_planned = int(planned) if planned is not None else None
    row.minutes = _num(train.get("minutes")) or None
    row.epochs_done = _epochs_done(run)
    lines = read_metrics(run)
    events = [r for r in lines if isinstance(r.get("event"), str) and r["event"] != "recovered"]
    evals = [r for r in lines if isinstance(r.get("eval"), dict) and isinstance(r.get("floor"), dict)]
    best = read_best(run)
    if best:
        row.best_epoch = int(best["epoch"]) if _num(best["epoch"]) is not None else None
        row.best_fid = _num(best[R.BEST_BY])
        at = [r for r in evals if r.get("epoch") == row.best_epoch] or evals[-1:]
        if at:
            row.floor_fid = _num(at[-1]["floor"].get(R.BEST_BY))
            row.light = {m.column: _num(at[-1]["eval"].get(k)) for k, m in R.metrics(R.RUNS).items() if k != R.BEST_BY}
            row.cond_accuracy = _num(at[-1]["eval"].get("cond_accuracy"))  # kept in `runs --json` as before
        if row.best_fid is not None and row.floor_fid:
            row.fid_ratio = row.best_fid / row.floor_fid
    status = read_status(run)
    last_epoch = max((int(r["epoch"]) for r in lines if _num(r.get("epoch")) is not None), default=None)
    if config is None:
        row.status = "broken"
        row.detail = "config.json is missing or unreadable" if (run / "config.json").exists() or lines else \
            "no config.json: not a run folder, or its start failed"
    elif status is not None:
        row.started = _num(status.get("started")) or row.started
        row.wall_s = _num(status.get("wall_s"))
        state = status["state"]
        if state == "running":
            if process_alive(status):
                row.status, row.detail = "running", f"pid {status.get('pid')}"
                row.wall_s = (row.wall_s or 0.0) + time.time() - (_num(status.get("started")) or time.time())
            else:
                row.status, row.detail = "interrupted", f"its process (pid {status.get('pid')}) is gone: killed?"
        else:
            row.status = state
            row.detail = str(status.get("message") or status.get("reason") or "")
            if state == "finished" and status.get("reason") == "budget":
                row.detail = f"time budget {row.minutes:g} min" if row.minutes else "time budget"
    else:
        row.status, row.detail = _inferred(run, row.epochs_done, row.epochs_planned, row.minutes, events, last_epoch,
                                           train.get("on_failure"))
        start, end = _mtime(run / "config.json"), _mtime(run / "metrics.jsonl")
        if start is not None and end is not None and end >= start:
            row.wall_s, row.wall_estimated, row.started = end - start, True, start
    if row.status == "finished" and events:  # finished, but say what went wrong on the way
        row.detail += f"; health events: {', '.join(sorted({str(e['event']) for e in events}))}"


def is_run_folder(path: Path) -> bool:
    return path.is_dir() and any((path / m).exists() for m in _RUN_MARKERS)


def list_runs(root: Path) -> list[RunRow]:
    """Rows for every run folder in `root` (or `root` itself, if it is one), newest first."""
    if is_run_folder(root) and not any(is_run_folder(p) for p in root.iterdir() if p.is_dir()):
        return [read_run(root)]
    rows = [read_run(p) for p in root.iterdir() if is_run_folder(p)]
    return sorted(rows, key=lambda r: (r.started or 0.0, r.number or -1, r.name), reverse=True)


def fmt_wall(s: float | None, estimated: bool) -> str:
    if s is None:
        return "—"
    h, rem = divmod(int(round(s)), 3600)
    text = f"{h}h{rem // 60:02d}m" if h else f"{rem // 60}m{rem % 60:02d}s"
    return ("~" if estimated else "") + text


def table(rows: list[RunRow]) -> str:
    """The rows as aligned text columns (the detail last, unpadded)."""
    columns = [m for m in R.shown_columns(R.RUNS, [r.light for r in rows]) if m.key != R.BEST_BY]
    header = ["run", "preset", "dataset", "epochs", "status", f"best {R.label(R.BEST_BY)} (×floor)",
              *[m.abbrev for m in columns], "wall", "detail"]
    body = []
    for r in rows:
        run = f"{r.number:05d} {r.name}" if r.number is not None else r.name
        done = "?" if r.epochs_done is None else str(r.epochs_done)
        planned = "?" if r.epochs_planned is None else str(r.epochs_planned)
        if r.minutes and r.epochs_planned == MAX_EPOCHS:  # a time budget alone decides the length
            epochs = f"{done} ({r.minutes:g} min)"
        else:
            epochs = f"{done}/{planned}" + (f" or {r.minutes:g} min" if r.minutes else "")
        fid = "—" if r.best_fid is None else f"{r.best_fid:.4g}" + (f" ({r.fid_ratio:.1f}×)" if r.fid_ratio else "")
        light = [m.fmt(r.light.get(m.column)) for m in columns]
        body.append([run, r.preset or "?", r.dataset or "?", epochs, r.status, fid, *light,
                     fmt_wall(r.wall_s, r.wall_estimated), r.detail])
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header) - 1)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[-1]
                     for row in [header, *body]).rstrip()


def as_json(rows: list[RunRow]) -> str:
    return json.dumps([asdict(r) for r in rows], indent=2)
