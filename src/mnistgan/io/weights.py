"""Generator (and discriminator) weights for use: safetensors, with the model's constructor
arguments, the run's config and a sha256 of both in the metadata. The file alone rebuilds
its model; loading never runs code.
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from mnistgan._version import __version__
from mnistgan.atomic import atomic_write_bytes
from mnistgan.config import RunConfig, from_dict
from mnistgan.errors import CheckpointError, ConfigError, first_line
from mnistgan.io.files import read_file, sniff
from mnistgan.models import Conditional, Discriminator, Generator, build_generator, rebuild_discriminator, rebuild_generator

GENERATOR_FORMAT = "mnistgan-generator"
DISCRIMINATOR_FORMAT = "mnistgan-discriminator"  # the shipped models' D (mnistgan.pretrained)
FORMAT_VERSION = 1

def _digest(meta: dict[str, str], tensors: dict[str, torch.Tensor]) -> str:
    """sha256 of the metadata (but this digest) and of every tensor's name, type, shape and bytes."""
    h = hashlib.sha256(json.dumps({k: v for k, v in meta.items() if k != "sha256"}, sort_keys=True).encode())
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{list(t.shape)};".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


@dataclass(frozen=True)
class GeneratorSnapshot:
    """What a weights file holds of G, copied to the CPU: its tensors and constructor arguments."""

    tensors: dict[str, torch.Tensor]
    arch: str
    args: dict[str, Any]


def generator_snapshot(G: Conditional) -> GeneratorSnapshot:
    """A CPU copy of G's (or D's) weights, made now (it may train on while it is written)."""
    tensors = {k: v.detach().to("cpu", copy=True).contiguous() for k, v in G.state_dict().items()}
    return GeneratorSnapshot(tensors, G.arch, dict(G.args))


def save_generator(path: Path, G: Generator, config: RunConfig, epoch: int) -> None:
    """G's weights, with {"arch", "args"} (its constructor arguments) and the run's config."""
    write_generator(path, generator_snapshot(G), config, epoch)


def save_discriminator(path: Path, D: Discriminator, config: RunConfig, epoch: int) -> None:
    """D's weights in the same form as save_generator's (a shipped model's D, for the game)."""
    _write(path, generator_snapshot(D), config, epoch, DISCRIMINATOR_FORMAT)


def write_generator(path: Path, G: GeneratorSnapshot, config: RunConfig, epoch: int) -> None:
    """save_generator from a snapshot."""
    _write(path, G, config, epoch, GENERATOR_FORMAT)


def _write(path: Path, snap: GeneratorSnapshot, config: RunConfig, epoch: int, fmt: str) -> None:
    meta = {"format": fmt, "format_version": str(FORMAT_VERSION),
            "package_version": __version__, "epoch": str(epoch), "config": config.to_json(),
            "model": json.dumps({"arch": snap.arch, "args": snap.args}, sort_keys=True)}
    meta["sha256"] = _digest(meta, snap.tensors)
    atomic_write_bytes(path, save_safetensors(snap.tensors, metadata=meta))


def _metadata(data: bytes, path: Path) -> dict[str, str]:
    """The __metadata__ of safetensors bytes: an 8-byte little-endian length, then JSON."""
    try:
        (n,) = struct.unpack("<Q", data[:8])
        if n > len(data) - 8:
            raise ValueError(f"its header claims {n} bytes, more than the file holds")
        header = json.loads(data[8 : 8 + n])
        meta = header.get("__metadata__") or {}
        if not isinstance(meta, dict):
            raise ValueError("its metadata is not a table")
        return meta
    except (struct.error, ValueError, AttributeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path}: not a readable safetensors file ({sniff(data) if len(data) < 8 else e})") from None


def load_generator_file(path: Path) -> tuple[dict[str, torch.Tensor], RunConfig]:
    """Weights and config from a generator.safetensors file, checked against its sha256."""
    tensors, config, _ = _open(path)
    return tensors, config


def _open(path: Path, fmt: str = GENERATOR_FORMAT) -> tuple[dict[str, torch.Tensor], RunConfig, dict[str, str]]:
    data = read_file(path, "weights file")
    meta = _metadata(data, path)
    try:
        tensors = load_safetensors(data)
    except (SafetensorError, ValueError, RuntimeError, TypeError) as e:
        raise CheckpointError(f"{path}: not a readable safetensors file ({first_line(e, 120)})") from None
    if meta.get("format") != fmt or "config" not in meta:
        what = "generator" if fmt == GENERATOR_FORMAT else "discriminator"
        raise CheckpointError(f"{path}: not an mnistgan {what} (no mnistgan metadata)")
    if "sha256" in meta and meta["sha256"] != _digest(meta, tensors):  # older files have none
        raise CheckpointError(f"{path}: corrupt: its content does not match the sha256 in its metadata")
    try:
        config = from_dict(json.loads(meta["config"]))
    except (json.JSONDecodeError, ConfigError, AttributeError) as e:
        raise CheckpointError(f"{path}: bad config in metadata ({e})") from None
    return tensors, config, meta


def _model_of(meta_model: str | None, config: RunConfig, path: Path) -> Generator:
    """G rebuilt from the file's constructor arguments (files from mnistgan 0.1 have
    none: their config's model section is used)."""
    if meta_model is None:
        return build_generator(config.model)
    try:
        model: Any = json.loads(meta_model)
        return rebuild_generator(model["arch"], model["args"])
    except (json.JSONDecodeError, KeyError, TypeError, ConfigError) as e:
        raise CheckpointError(f"{path}: bad model arguments in metadata ({e})") from None


def load_weights(path: Path) -> tuple[Generator, RunConfig]:
    """The generator a weights file describes, with its weights loaded, and the run's config."""
    G, config, _ = load_weights_and_epoch(path)
    return G, config


def load_weights_and_epoch(path: Path) -> tuple[Generator, RunConfig, int | None]:
    """load_weights, and the epoch the file was saved at (None in files that do not say)."""
    tensors, config, meta = _open(path)
    G = _model_of(meta.get("model"), config, path)
    load_into(G, tensors, path)
    epoch = meta.get("epoch")
    return G, config, int(epoch) if isinstance(epoch, str) and epoch.isdigit() else None


def load_discriminator_file(path: Path) -> Discriminator:
    """The discriminator a save_discriminator file describes, with its weights loaded."""
    tensors, _, meta = _open(path, DISCRIMINATOR_FORMAT)
    try:
        model: Any = json.loads(meta["model"])
        D = rebuild_discriminator(model["arch"], model["args"])
    except (json.JSONDecodeError, KeyError, TypeError, ConfigError) as e:
        raise CheckpointError(f"{path}: bad model arguments in metadata ({e})") from None
    load_into(D, tensors, path)
    return D


def load_into(module: torch.nn.Module, tensors: dict[str, torch.Tensor], path: Path) -> None:
    try:
        module.load_state_dict(tensors)
    except RuntimeError as e:
        raise CheckpointError(f"{path}: weights do not fit the model in its config "
                              f"({first_line(e)})") from None
