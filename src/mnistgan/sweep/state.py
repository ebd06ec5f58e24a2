"""sweep.json: a sweep's state on disk, so that a killed sweep continues where it stopped.

    {"format": 1, "spec": {...}, "state": "running" | "finished" | "interrupted" | "failed",
     "pid": 1234, "host": "box", "started": 1764284000.0, "wall_s": 812.5, "message": null,
     "runs": {"label_smoothing0.1-s3": {"setting": "label_smoothing0.1", "seed": 3,
              "run": "00004-label_smoothing0.1-s3", "state": "finished", "message": null,
              "trial": null, "params": null, "reported": []}}}

A run's state: pending | training | evaluating | finished | stopped (the health monitor) |
failed (an error; retried by the next start) | pruned (a search trial) | interrupted. The
sweep process is the only writer, and writes it atomically after every change.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
from pathlib import Path
from typing import Any

from mnistgan.atomic import atomic_write_bytes
from mnistgan.runfolder import claim_numbered, read_json
from mnistgan.runtable import fmt_wall, process_alive
from mnistgan.sweep.spec import SweepSpec, spec_from_dict

STATE_FILE = "sweep.json"
SPEC_FILE = "spec.toml"
LOGS = "logs"
FORMAT = 1
FINAL = ("finished", "stopped", "pruned")  # kept as they are by the next start


class SweepState:
    """sweep.json in memory; `save` writes it atomically."""

    def __init__(self, folder: Path, data: dict[str, Any]) -> None:
        self.folder, self.data = folder, data

    @classmethod
    def create(cls, folder: Path, spec: SweepSpec) -> SweepState:
        state = cls(folder, {"format": FORMAT, "spec": spec.to_dict(), "state": "running", "wall_s": 0.0,
                             "message": None, "runs": {}})
        atomic_write_bytes(folder / SPEC_FILE, spec.to_toml().encode())
        return state

    @property
    def runs(self) -> dict[str, dict[str, Any]]:
        return self.data["runs"]

    def entry(self, label: str, **fields: Any) -> dict[str, Any]:
        """The run's record, made with `fields` when new."""
        if label not in self.runs:
            self.runs[label] = {"run": None, "state": "pending", "message": None, "trial": None, "params": None,
                                "reported": [], **fields}
        return self.runs[label]

    def save(self) -> None:
        atomic_write_bytes(self.folder / STATE_FILE, (json.dumps(self.data, indent=1) + "\n").encode())

    def begin(self) -> None:
        self._session = time.time()
        self.data.update(state="running", pid=os.getpid(), host=socket.gethostname(), started=self._session,
                         message=None)
        self.save()

    def end(self, state: str, message: str | None = None) -> None:
        """Record how this session ended (best effort: a full disk must not hide the error)."""
        now = time.time()
        self.data.update(state=state, message=message, ended=now,
                         wall_s=round(float(self.data.get("wall_s") or 0.0) + now - getattr(self, "_session", now), 3))
        try:
            self.save()
        except OSError:
            pass


def read_state(folder: Path) -> SweepState | None:
    """A sweep folder's state, or None if it has no readable sweep.json."""
    data = read_json(folder / STATE_FILE)
    if data is None or data.get("format") != FORMAT or not isinstance(data.get("runs"), dict):
        return None
    return SweepState(folder, data)


def state_spec(state: SweepState) -> SweepSpec:
    return spec_from_dict(state.data["spec"])


def sweep_folders(outdir: Path, name: str) -> list[Path]:
    """outdir/NNNNN-NAME folders, newest number first."""
    pattern = re.compile(rf"^\d{{5}}-{re.escape(name)}$")
    found = [p for p in outdir.iterdir() if pattern.match(p.name) and p.is_dir()] if outdir.is_dir() else []
    return sorted(found, reverse=True)


def open_sweep(outdir: Path, spec: SweepSpec) -> tuple[SweepState, bool]:
    """The newest sweep folder of this name with the same spec (to continue it), or a new
    one. Returns (state, continued)."""
    for folder in sweep_folders(outdir, spec.name):
        state = read_state(folder)
        if state is not None and _same(state, spec):
            return state, True
    folder = claim_numbered(outdir, spec.name)
    return SweepState.create(folder, spec), False


def _same(state: SweepState, spec: SweepSpec) -> bool:
    try:
        return state_spec(state).identity() == spec.identity()
    except Exception:  # a spec this version cannot read is not this spec
        return False


def list_sweeps(root: Path) -> list[dict[str, Any]]:
    """One row per sweep folder in `root` (or `root` itself), newest number first: its
    state (a running one whose process is gone is interrupted), runs by state, wall time."""
    folders = [root] if (root / STATE_FILE).is_file() else sorted(
        (p for p in root.iterdir() if (p / STATE_FILE).is_file()), reverse=True)
    rows = []
    for folder in folders:
        state = read_state(folder)
        if state is None:
            rows.append({"path": str(folder), "name": folder.name, "state": "broken", "runs": 0, "counts": {},
                         "wall_s": None, "detail": "sweep.json is unreadable"})
            continue
        d = state.data
        status = d.get("state")
        wall = d.get("wall_s") if isinstance(d.get("wall_s"), (int, float)) else None
        if status == "running":
            if process_alive(d):
                wall = (wall or 0.0) + time.time() - float(d.get("started") or time.time())
            else:
                status = "interrupted"
        counts: dict[str, int] = {}
        for entry in state.runs.values():
            counts[entry.get("state", "?")] = counts.get(entry.get("state", "?"), 0) + 1
        spec = d.get("spec") or {}
        rows.append({"path": str(folder), "name": folder.name, "state": status, "runs": len(state.runs),
                     "planned": spec.get("trials") or len(state.runs), "counts": counts, "wall_s": wall,
                     "detail": d.get("message") or ""})
    return rows


def sweeps_table(rows: list[dict[str, Any]]) -> str:
    """The rows as aligned text columns."""
    header = ["sweep", "state", "runs", "finished", "failed", "other", "wall", "detail"]
    body = []
    for r in rows:
        c = r["counts"]
        other = ", ".join(f"{n} {s}" for s, n in sorted(c.items()) if s not in ("finished", "failed"))
        body.append([r["name"], str(r["state"]), str(r.get("planned", r["runs"])), str(c.get("finished", 0)),
                     str(c.get("failed", 0)), other or "—", fmt_wall(r["wall_s"], False), str(r["detail"])])
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header) - 1)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[-1]
                     for row in [header, *body]).rstrip()
