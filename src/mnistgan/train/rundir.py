"""Run folders: runs/00000-classic-mnist/, numbered so that runs never overwrite each other.

    config.json            the resolved config (also inside every checkpoint)
    metrics.jsonl          one JSON object per logged interval
    samples/epoch_0001.png the fixed-noise grid after each epoch
    checkpoints/           training state, the last K
    generator.safetensors  G's weights for use, config in metadata
    generator-best.safetensors, checkpoints/best.pt, checkpoints/best.json
                           the best generator by the light evaluation, its training state,
                           and {"epoch": E, "fid_lenet": F}
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mnistgan.config import RunConfig

_NUMBERED = re.compile(r"^(\d{5})-")
BEST_GENERATOR = Path("generator-best.safetensors")
BEST_STATE = Path("checkpoints") / "best.pt"
BEST_INFO = Path("checkpoints") / "best.json"


def new_run_dir(outdir: Path, cfg: RunConfig, name: str | None = None) -> Path:
    """Create the next numbered folder in `outdir`."""
    outdir.mkdir(parents=True, exist_ok=True)
    numbers = [int(m.group(1)) for p in outdir.iterdir() if (m := _NUMBERED.match(p.name))]
    label = name or f"{cfg.preset}-{cfg.data.name}"
    run_dir = outdir / f"{max(numbers, default=-1) + 1:05d}-{label}"
    run_dir.mkdir()
    return run_dir


def write_config(run_dir: Path, cfg: RunConfig) -> None:
    (run_dir / "config.json").write_text(cfg.to_json() + "\n")


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """Every well-formed line of metrics.jsonl (a torn last line is skipped)."""
    return list(_lines(run_dir / "metrics.jsonl"))


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    if not path.is_file():
        return
    for line in path.read_text().splitlines():
        try:
            yield json.loads(line)
        except json.JSONDecodeError:
            continue


def truncate_metrics(run_dir: Path, epoch: int) -> None:
    """Drop lines logged after `epoch` ended, e.g. from an interrupted epoch before a resume."""
    kept = [r for r in read_metrics(run_dir) if r.get("epoch", 0) <= epoch]
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in kept))


def append_metrics(run_dir: Path, record: dict[str, Any]) -> None:
    with open(run_dir / "metrics.jsonl", "a") as fh:
        fh.write(json.dumps(record) + "\n")


def read_best(run_dir: Path) -> dict[str, Any] | None:
    """The best generator's {"epoch", "fid_lenet"}, or None if the run has not kept one."""
    try:
        best = json.loads((run_dir / BEST_INFO).read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return best if isinstance(best, dict) and "epoch" in best and "fid_lenet" in best else None
