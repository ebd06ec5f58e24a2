"""Training state on disk: atomic writes, keep-last-K, and loading that never runs code.

Two kinds of file:
- checkpoints/state-EEEEEE.pt: everything needed to continue exactly (G, D, both Adam
  states, epoch, step, every RNG state, the fixed noise, the config, the package version).
  Written with torch.save and read with torch.load(weights_only=True), which refuses
  any pickled object that is not a tensor or a plain container.
- generator.safetensors: G's weights for use, the config in its metadata.
"""

from __future__ import annotations

import json
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from mnistgan._version import __version__
from mnistgan.atomic import atomic_write
from mnistgan.config import RunConfig, from_dict
from mnistgan.errors import CheckpointError, ConfigError

STATE_FORMAT = "mnistgan-train-state"
GENERATOR_FORMAT = "mnistgan-generator"
FORMAT_VERSION = 1
_STATE_KEYS = {"format", "format_version", "package_version", "config", "epoch", "step",
               "G", "D", "opt_g", "opt_d", "rng", "fixed_noise"}


# --- training state ---------------------------------------------------------------


def state_path(run_dir: Path, epoch: int) -> Path:
    return run_dir / "checkpoints" / f"state-{epoch:06d}.pt"


def list_states(run_dir: Path) -> list[Path]:
    """Training-state files in run_dir/checkpoints, oldest first."""
    return sorted((run_dir / "checkpoints").glob("state-*.pt"))


def save_state(run_dir: Path, state: dict[str, Any], keep: int) -> Path:
    """Write state-<epoch>.pt atomically, then delete all but the newest `keep`."""
    full = {"format": STATE_FORMAT, "format_version": FORMAT_VERSION,
            "package_version": __version__, **state}
    missing = _STATE_KEYS - full.keys()
    if missing:
        raise ValueError(f"training state lacks {sorted(missing)}")
    path = state_path(run_dir, full["epoch"])
    atomic_write(path, lambda tmp: torch.save(full, tmp))
    for old in list_states(run_dir)[: -max(keep, 1)]:
        old.unlink(missing_ok=True)
    return path


def load_state(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a training-state file, refusing anything that is not plain tensors and
    containers, and checking that it is one of ours and complete."""
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise CheckpointError(
            f"{path}: refused: it holds objects other than tensors, which could run code ({first[:120]})"
        ) from None
    except (RuntimeError, OSError, EOFError, zipfile.BadZipFile, ValueError) as e:
        raise CheckpointError(f"{path}: corrupt or truncated checkpoint ({str(e).splitlines()[0][:120]})") from None
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise CheckpointError(f"{path}: not an mnistgan training-state file")
    if state.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: format version {state.get('format_version')} is not supported")
    missing = _STATE_KEYS - state.keys()
    if missing:
        raise CheckpointError(f"{path}: incomplete checkpoint, missing {', '.join(sorted(missing))}")
    return state


def config_of(state: dict[str, Any], where: Path) -> RunConfig:
    try:
        return from_dict(json.loads(state["config"]))
    except (json.JSONDecodeError, TypeError, ConfigError) as e:
        raise CheckpointError(f"{where}: bad config inside the checkpoint ({e})") from None


# --- generator weights ------------------------------------------------------------


def save_generator(path: Path, G: torch.nn.Module, config: RunConfig, epoch: int) -> None:
    tensors = {k: v.detach().cpu().contiguous() for k, v in G.state_dict().items()}
    meta = {"format": GENERATOR_FORMAT, "format_version": str(FORMAT_VERSION),
            "package_version": __version__, "epoch": str(epoch), "config": config.to_json()}
    atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata=meta))


def generator_epoch(path: Path) -> int | None:
    try:
        with safe_open(str(path), framework="pt") as f:
            epoch = (f.metadata() or {}).get("epoch")
    except (SafetensorError, OSError) as e:
        raise CheckpointError(f"{path}: not a readable safetensors file ({e})") from None
    return int(epoch) if epoch and epoch.isdigit() else None


def load_generator_file(path: Path) -> tuple[dict[str, torch.Tensor], RunConfig]:
    """Weights and config from a generator.safetensors file."""
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path}: not a readable safetensors file ({e})") from None
    if meta.get("format") != GENERATOR_FORMAT or "config" not in meta:
        raise CheckpointError(f"{path}: not an mnistgan generator (no mnistgan metadata)")
    try:
        config = from_dict(json.loads(meta["config"]))
    except (json.JSONDecodeError, ConfigError) as e:
        raise CheckpointError(f"{path}: bad config in metadata ({e})") from None
    return tensors, config
