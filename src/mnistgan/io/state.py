"""Training state on disk: atomic writes, keep-last-K, and loading that verifies
integrity and never runs code.

checkpoints/state-EEEEEE.pt after each epoch, and state-EEEEEE-stepSSSSSSSSS.pt mid-epoch
(E epochs complete, S steps): everything needed to continue exactly (TrainState.state_dict:
G, D, the EMA generator, both Adam states, epoch, step, every RNG state, the fixed noise,
the config, the package version, and mid-epoch the position in the epoch). Written with
torch.save, a zip archive whose CRCs are checked on every load, then read with
torch.load(weights_only=True), which refuses any pickled object that is not a tensor or a
plain container.
"""

from __future__ import annotations

import io
import json
import pickle
import re
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

import torch

from mnistgan._version import __version__
from mnistgan.atomic import atomic_write_bytes
from mnistgan.config import RunConfig, from_dict
from mnistgan.errors import CheckpointError, ConfigError, first_line
from mnistgan.io.files import read_file, sniff

STATE_FORMAT = "mnistgan-train-state"
FORMAT_VERSION = 1
_STATE_KEYS = {"format", "format_version", "package_version", "config", "epoch", "step",
               "G", "D", "opt_g", "opt_d", "rng", "fixed_noise"}
_STATE_NAME = re.compile(r"^state-(\d{6})(?:-step(\d{9}))?\.pt$")


def state_path(run_dir: Path, epoch: int, step: int | None = None) -> Path:
    """After epoch `epoch`; with `step`, mid-way through the next one."""
    mid = f"-step{step:09d}" if step is not None else ""
    return run_dir / "checkpoints" / f"state-{epoch:06d}{mid}.pt"


def _order(path: Path) -> tuple[int, int]:
    m = _STATE_NAME.match(path.name)
    assert m is not None
    return int(m.group(1)), int(m.group(2) or -1)


def list_states(run_dir: Path) -> list[Path]:
    """Training-state files in run_dir/checkpoints, oldest first."""
    folder = run_dir / "checkpoints"
    if not folder.is_dir():
        return []
    return sorted((p for p in folder.iterdir() if _STATE_NAME.match(p.name)), key=_order)


def write_state(path: Path, state: dict[str, Any]) -> Path:
    """Write a training state (as TrainState.state_dict returns it) to `path`, atomically."""
    full = {"format": STATE_FORMAT, "format_version": FORMAT_VERSION,
            "package_version": __version__, **state}
    missing = _STATE_KEYS - full.keys()
    if missing:
        raise ValueError(f"training state lacks {sorted(missing)}")
    buf = io.BytesIO()
    torch.save(full, buf)
    return atomic_write_bytes(path, buf.getvalue())


def save_state(run_dir: Path, state: dict[str, Any], keep: int, mid_epoch: bool = False) -> Path:
    """Write the state into run_dir/checkpoints, then delete all but the newest `keep`
    states. A state holding a non-finite number deletes nothing, so the newest healthy
    one is always kept."""
    path = write_state(state_path(run_dir, state["epoch"], state["step"] if mid_epoch else None), state)
    if _nonfinite(state) is None:
        for old in list_states(run_dir)[: -max(keep, 1)]:
            old.unlink(missing_ok=True)
    return path


def _nonfinite(state: dict[str, Any]) -> str | None:
    """The first weight or optimizer tensor holding a NaN or an infinity, by name."""
    def walk(obj: Any, name: str) -> str | None:
        if isinstance(obj, torch.Tensor):
            return name if obj.is_floating_point() and not bool(torch.isfinite(obj).all()) else None
        if isinstance(obj, dict):
            return next((bad for k, v in obj.items() if (bad := walk(v, f"{name}.{k}"))), None)
        if isinstance(obj, (list, tuple)):
            return next((bad for i, v in enumerate(obj) if (bad := walk(v, f"{name}[{i}]"))), None)
        return None

    return next((bad for key in ("G", "D", "G_ema", "opt_g", "opt_d") if (bad := walk(state.get(key), key))), None)


def load_state(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a training-state file: check its zip CRCs, refuse anything that is not plain
    tensors and containers, check that it is one of ours, complete, and finite."""
    data = read_file(path, "checkpoint")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            bad = zf.testzip()  # reads every member and checks its CRC
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, struct.error) as e:
        if data.startswith(b"PK\x03\x04"):
            raise CheckpointError(f"{path}: corrupt or truncated checkpoint (a damaged zip archive: {e})") from None
        raise CheckpointError(f"{path}: not a training-state file ({sniff(data)})") from None
    if bad is not None:
        raise CheckpointError(f"{path}: corrupt: {bad} fails its CRC check (the file was damaged)")
    try:
        state = torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        first = first_line(e, 120) if str(e).strip() else ""
        raise CheckpointError(
            f"{path}: refused: it holds objects other than tensors, which could run code ({first[:120]})"
        ) from None
    except (RuntimeError, OSError, EOFError, zipfile.BadZipFile, ValueError, KeyError, struct.error) as e:
        raise CheckpointError(f"{path}: corrupt or truncated checkpoint ({first_line(e, 120)})") from None
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise CheckpointError(f"{path}: not an mnistgan training-state file")
    if state.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: format version {state.get('format_version')} is not supported")
    missing = _STATE_KEYS - state.keys()
    if missing:
        raise CheckpointError(f"{path}: incomplete checkpoint, missing {', '.join(sorted(missing))}")
    bad_tensor = _nonfinite(state)
    if bad_tensor:
        raise CheckpointError(f"{path}: {bad_tensor} holds NaN or infinite values (a diverged or damaged state)")
    return state


def config_of(state: dict[str, Any], where: Path) -> RunConfig:
    try:
        return from_dict(json.loads(state["config"]))
    except (json.JSONDecodeError, TypeError, AttributeError, ConfigError) as e:
        raise CheckpointError(f"{where}: bad config inside the checkpoint ({e})") from None
