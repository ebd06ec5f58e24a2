"""The runs the web app may serve: found by listing one folder, then known by name only.

A client names a run; the name is looked up in a table built from the folder's listing,
so no client text is ever joined to a path (`../x` or `/etc` is just an unknown name).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mnistgan.errors import CheckpointError, ConfigError
from mnistgan.runfolder import grid_files, read_best, read_json
from mnistgan.sample import resolve

RELIST_SECONDS = 2.0  # an unknown name lists the folder again at most this often


def is_run(folder: Path) -> bool:
    """A folder written by `mnistgan train` that holds a generator to serve."""
    if not (folder / "config.json").is_file():
        return False
    try:
        resolve(folder)  # the generator `sample` would use: best, final, or newest state
    except CheckpointError:
        return False
    return True


def summary(name: str, run: Path) -> dict[str, Any]:
    """What the runs list shows: preset, epochs, and the best FID known (the full
    evaluation's when `mnistgan evaluate` ran, else the light evaluation's), with its floor."""
    config = read_json(run / "config.json") or {}
    model = config.get("model") or {}
    epochs = max(grid_files(run), default=None)
    fid, floor, fid_from = None, None, None
    metric = (((read_json(run / "metrics.json") or {}).get("metrics") or {}).get("fid_lenet") or {})
    best = read_best(run)
    if isinstance(metric.get("value"), (int, float)):
        fid, floor, fid_from = metric["value"], metric.get("real"), "evaluate"
    elif best:
        fid, fid_from = best["fid_lenet"], f"light evaluation, epoch {best['epoch']}"
    return {"name": name, "preset": config.get("preset"), "dataset": (config.get("data") or {}).get("name"),
            "arch": model.get("arch"), "num_classes": model.get("num_classes", 0), "epochs": epochs,
            "fid": fid, "fid_floor": floor, "fid_from": fid_from}


@dataclass
class Catalog:
    """Runs by name under `root`: the folder itself when it is a run, else its sub-folders
    that are runs. Listed again when a name is not found, so new runs appear."""

    root: Path

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[str, Path] = {}
        self._listed = 0.0
        self.refresh()
        if not self._runs:
            raise ConfigError(f"{self.root}: no run folders here (a run folder has config.json and a generator)")

    def refresh(self) -> dict[str, Path]:
        root = self.root
        if is_run(root):
            found = {root.resolve().name: root}
        else:
            found = {p.name: p for p in sorted(root.iterdir()) if p.is_dir() and is_run(p)} if root.is_dir() else {}
        with self._lock:
            self._runs, self._listed = found, time.monotonic()
        return found

    def names(self) -> list[str]:
        with self._lock:
            return list(self._runs)

    def default(self) -> str:
        """The newest run by name (run folders are numbered)."""
        return self.names()[-1]

    def path(self, name: str) -> Path | None:
        """The folder of the run called `name`, or None: a name, never a path."""
        with self._lock:
            found = self._runs.get(name)
        if found is None and time.monotonic() - self._listed > RELIST_SECONDS:
            found = self.refresh().get(name)
        return found
