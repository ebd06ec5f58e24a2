"""Generators shipped in the package, used by name: `pretrained:best` goes wherever a run
folder or a weights file does (sample, evaluate, export, report, serve), and
`mnistgan.load("best")` gives the generator itself.

Each model lives in pretrained/NAME/, laid out like a run folder written by `mnistgan
train` (config.json, generator.safetensors, discriminator.safetensors for the game,
metrics.jsonl, metrics.json, a few samples/ grids, MODEL_CARD.md), so everything that
reads a run reads it unchanged. manifest.json holds, per model, the command that trained
it, its seed, epochs, wall time and CPU, its evaluation beside the real floor, and the
sha256 and size of every file; each file is checked against it before use.
tools/ship_generators.py writes all of it.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mnistgan.errors import CheckpointError

PREFIX = "pretrained:"
ROOT = Path(__file__).resolve().parent
MANIFEST = "manifest.json"
GENERATOR = "generator.safetensors"
DISCRIMINATOR = "discriminator.safetensors"
CHECK = "check.npz"  # seeded samples recorded when shipped: tests compare against them


def is_name(source: str | Path) -> bool:
    """`pretrained:NAME`, which always means a shipped model: a user's folder of that name
    is never looked at."""
    return str(source).startswith(PREFIX)


@functools.lru_cache(maxsize=256)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    """A file's sha256, computed once per (size, modification time): a replaced or edited
    file is hashed again."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@dataclass(frozen=True)
class Shipped:
    """The shipped models under `root` (the package's own by default)."""

    root: Path = field(default_factory=lambda: ROOT)

    def manifest(self) -> dict[str, Any]:
        try:
            data = json.loads((self.root / MANIFEST).read_text())
        except FileNotFoundError:
            return {"models": {}}
        except (OSError, ValueError) as e:
            raise CheckpointError(f"{self.root / MANIFEST}: unreadable ({e}); reinstall mnistgan") from None
        if not isinstance(data, dict) or not isinstance(data.get("models"), dict):
            raise CheckpointError(f"{self.root / MANIFEST}: not a manifest of shipped models; reinstall mnistgan")
        return data

    def names(self) -> list[str]:
        return list(self.manifest()["models"])

    def entry(self, name: str) -> dict[str, Any]:
        models = self.manifest()["models"]
        if name not in models:
            known = ", ".join(models) or "none in this install"
            raise CheckpointError(f"unknown pretrained model {name!r} (shipped: {known}; mnistgan pretrained lists them)")
        return models[name]

    def folder(self, name: str) -> Path:
        """pretrained/NAME/, once every file the manifest lists matches its size and sha256."""
        folder = self.root / name
        for file, want in self.entry(name)["files"].items():
            path = folder / file
            try:
                st = path.stat()
            except OSError:
                raise CheckpointError(f"pretrained model {name!r}: {file} is missing; reinstall mnistgan") from None
            if st.st_size != want["bytes"]:
                raise CheckpointError(f"pretrained model {name!r}: {file} has {st.st_size} bytes, the manifest says "
                                      f"{want['bytes']} (a truncated or altered copy); reinstall mnistgan")
            if _sha256(str(path), st.st_size, st.st_mtime_ns) != want["sha256"]:
                raise CheckpointError(f"pretrained model {name!r}: {file} does not match its sha256 in the manifest "
                                      "(a tampered or damaged copy); reinstall mnistgan")
        return folder


def where(source: str | Path, shipped: Shipped | None = None) -> Path:
    """The folder of `pretrained:NAME` (checked), else `source` itself as a path."""
    if is_name(source):
        return (shipped or Shipped()).folder(str(source)[len(PREFIX):])
    return Path(source)


def output_dir(source: str | Path) -> Path:
    """Where a command writes what it makes from `source` by default: beside a run (its
    folder, or a file's folder); for a shipped model, whose files stay as shipped,
    pretrained-NAME/ in the current folder."""
    if is_name(source):
        return Path(f"pretrained-{str(source)[len(PREFIX):]}")
    source = Path(source)
    return source if source.is_dir() else source.parent
