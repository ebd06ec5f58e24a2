"""A tiny dataset the sweep's worker processes can load: tests/conftest.py's tiny set,
imported into this test's cache (XDG_CACHE_HOME, which the workers inherit) as `tinyset`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mnistgan.data.importer import import_dataset

from ..conftest import write_tiny

ROOT = Path(__file__).resolve().parents[2]
# A small model on 200 images, 4 steps an epoch; the light evaluation every epoch at n=50.
SETS = ["data.name=tinyset", "train.batch_size=50", "train.grid_size=16", "model.hidden=32", "model.z_dim=16",
        "model.hidden_d=32", "eval.n=50", "eval.every=1", "train.checkpoint_every_s=0"]


def sweep_args(outdir: Path, *extra: str, epochs: int = 2) -> list[str]:
    return ["sweep", "--outdir", str(outdir), "--evaluate-n", "50", "--threads-per-job", "1",
            *[x for s in [*SETS, f"train.epochs={epochs}"] for x in ("--set", s)], *extra]


@pytest.fixture
def tinyset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The cache holding `tinyset`; the workers run with one torch thread."""
    cache = Path(os.environ["XDG_CACHE_HOME"])
    write_tiny(tmp_path / "src")
    import_dataset(tmp_path / "src", "tinyset", cache / "mnistgan")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.delenv("MNISTGAN_DATA", raising=False)
    return cache


def run_cli(args: list[str], **kw) -> subprocess.CompletedProcess:
    """`python -m mnistgan ARGS` in a process of its own (to kill or to run side by side)."""
    return subprocess.run([sys.executable, "-m", "mnistgan", *args], cwd=ROOT, capture_output=True, text=True, **kw)


def start_cli(args: list[str], log: Path) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen([sys.executable, "-m", "mnistgan", *args], cwd=ROOT, stdout=out,
                                stderr=subprocess.STDOUT)
