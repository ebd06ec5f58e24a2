"""Two tiny trained runs (classic, unconditional; classic-cond, conditional) on the tiny
dataset, with their light evaluation on (so a best generator, FIDs and a cached "tiny"
evaluator exist), and the app over them. Trained once per test module (~3 s)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from mnistgan.config import load_config  # noqa: E402
from mnistgan.data import datasets  # noqa: E402
from mnistgan.data.sources import Sources  # noqa: E402
from mnistgan.runfolder import new_run_dir  # noqa: E402
from mnistgan.train.loop import train  # noqa: E402
from tests.conftest import write_tiny  # noqa: E402

TINY = ["data.name=tiny", "train.batch_size=50", "train.epochs=2", "eval.every=1", "eval.n=50"]


@dataclass
class Runs:
    root: Path  # the runs folder
    sources: Sources
    classic: str  # run names
    cond: str


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("serve")
    spec = write_tiny(base / "data")
    before = datasets.DATASETS.get("tiny")
    datasets.DATASETS["tiny"] = spec
    sources = Sources(data_dir=base / "data", cache_dir=base / "cache", download=False)
    names = []
    for preset, grid in (("classic", 16), ("classic-cond", 20)):
        cfg = load_config(preset, overrides=[*TINY, f"train.grid_size={grid}"])
        run = new_run_dir(base / "runs", cfg)
        train(cfg, run, sources=sources)
        names.append(run.name)
    yield Runs(base / "runs", sources, *names)
    if before is None:
        datasets.DATASETS.pop("tiny", None)
    else:
        datasets.DATASETS["tiny"] = before


@pytest.fixture(scope="module")
def client(runs):
    from fastapi.testclient import TestClient

    from mnistgan.serve.app import create_app

    with TestClient(create_app(runs.root, runs.sources), raise_server_exceptions=False) as c:
        yield c
