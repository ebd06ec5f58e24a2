"""The runs the web app may serve: found by listing one folder, then known by name only,
and the shipped models as `pretrained:NAME`.

A client names a run; the name is looked up in a table built from the folder's listing,
so no client text is ever joined to a path (`../x` or `/etc` is just an unknown name).
A shipped model's files are checked against their sha256 each time its folder is handed
out (hashing again only a file that changed), and a user's run never takes a shipped name.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mnistgan import pretrained
from mnistgan.errors import CheckpointError, ConfigError
from mnistgan.eval import registry
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
    headline = registry.get(registry.BEST_BY)  # the metric the runs list shows: the one that picks the best G
    value, real = headline.read(read_json(run / "metrics.json") or {})
    best = read_best(run)
    if isinstance(value, (int, float)):
        fid, floor, fid_from = value, real, "evaluate"
    elif best:
        fid, fid_from = best[registry.BEST_BY], f"light evaluation, epoch {best['epoch']}"
    return {"name": name, "pretrained": pretrained.is_name(name), "preset": config.get("preset"),
            "dataset": (config.get("data") or {}).get("name"), "arch": model.get("arch"), "num_classes": model.get("num_classes", 0), "epochs": epochs,
            "fid": fid, "fid_floor": floor, "fid_from": fid_from,
            "fid_label": headline.short, "fid_better": headline.better}


@dataclass
class Catalog:
    """Runs by name under `root` (None: none): the folder itself when it is a run, else its
    sub-folders that are runs; then the shipped models, unless `shipped` is None. Listed
    again when a name is not found, so new runs appear."""

    root: Path | None
    shipped: pretrained.Shipped | None = pretrained.Shipped()

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[str, Path] = {}
        self._own = 0  # how many of _runs are the user's (they come first)
        self._listed = 0.0
        self.refresh()
        if self.root is not None and not self._own:
            raise ConfigError(f"{self.root}: no run folders here (a run folder has config.json and a generator)")
        if not self._runs:
            raise ConfigError("no run folder given and no shipped models in this install (reinstall mnistgan)")

    def refresh(self) -> dict[str, Path]:
        root = self.root
        if root is None:
            found = {}
        elif is_run(root):
            found = {root.resolve().name: root}
        else:
            found = {p.name: p for p in sorted(root.iterdir()) if p.is_dir() and is_run(p)} if root.is_dir() else {}
        found = {k: v for k, v in found.items() if not pretrained.is_name(k)}  # never in place of a shipped one
        own = len(found)
        if self.shipped is not None:
            found |= {pretrained.PREFIX + name: self.shipped.root / name for name in self.shipped.names()}
        with self._lock:
            self._runs, self._own, self._listed = found, own, time.monotonic()
        return found

    def names(self) -> list[str]:
        with self._lock:
            return list(self._runs)

    def default(self) -> str:
        """The newest of the user's runs by name (run folders are numbered), else the
        shipped `best`, else the first shipped model."""
        with self._lock:
            names, own = list(self._runs), self._own
        if own:
            return names[own - 1]
        return pretrained.PREFIX + "best" if pretrained.PREFIX + "best" in names else names[0]

    def path(self, name: str) -> Path | None:
        """The folder of the run called `name`, or None: a name, never a path. A shipped
        model's folder once its files match the manifest (CheckpointError if not)."""
        with self._lock:
            found = self._runs.get(name)
        if found is None and time.monotonic() - self._listed > RELIST_SECONDS:
            found = self.refresh().get(name)
        if found is not None and pretrained.is_name(name) and self.shipped is not None:
            return self.shipped.folder(name[len(pretrained.PREFIX):])
        return found
