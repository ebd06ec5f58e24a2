"""Run configuration: frozen dataclasses are the schema, presets are named instances.

A config is built from a preset, then a TOML file, then `--set section.key=value`
overrides, in that order. Every key is checked against the dataclass fields and every
value against the field's type, so a typo is an error rather than a silently ignored
setting. The resolved config is saved in every run folder and checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mnistgan.errors import ConfigError

# Upper bounds on every size a config (or a tampered config.json or weights file) can set,
# checked here, before anything is allocated; each error names its limit.
MAX_Z_DIM = 4096  # G's first layer holds z_dim x hidden weights: 134 MB at both limits
MAX_HIDDEN = 8192  # G and D hold about 2 x hidden^2 weights each: with grads and Adam's moments, 2.4 GB
MAX_BATCH = 60_000  # the largest training split (MNIST, Fashion-MNIST): a bigger batch cannot be drawn
MAX_EPOCHS = 100_000  # state files number epochs with 6 digits; 100,000 MNIST epochs is years of CPU time
MAX_GRID = 1024  # samples in each epoch's grid: a 1 MP PNG per epoch
MAX_KEEP = 1000  # training-state files kept: 6 GB of disk at the classic model's 6 MB each


def _bounded(name: str, value: int, limit: int, reason: str) -> None:
    if not 1 <= value <= limit:
        raise ConfigError(f"{name} must be between 1 and {limit} ({reason}), got {value}")


@dataclass(frozen=True)
class DataConfig:
    name: str = "mnist"  # a dataset from mnistgan.data.DATASETS: mnist | fashion-mnist


@dataclass(frozen=True)
class ModelConfig:
    arch: str = "mlp"  # a model family from mnistgan.models.ARCHS
    z_dim: int = 64  # the spec's 64-d noise
    hidden: int = 256  # width of each hidden layer, in G and in D
    leaky_slope: float = 0.2  # D's LeakyReLU slope

    def __post_init__(self) -> None:
        _bounded("model.z_dim", self.z_dim, MAX_Z_DIM, "memory")
        _bounded("model.hidden", self.hidden, MAX_HIDDEN, "memory: G, D and Adam's state would exceed 2.4 GB")


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 50  # measured ~3.5 min on 2 CPU cores (see README); digits are clearly recognisable
    batch_size: int = 100
    lr_g: float = 2e-4  # the spec's learning rate, for both networks
    lr_d: float = 2e-4
    beta1: float = 0.5  # the spec names only the learning rate; 0.5 (as in DCGAN) beat 0.9 clearly (README)
    beta2: float = 0.999
    seed: int = 0
    log_every: int = 100  # steps between metrics.jsonl lines
    grid_size: int = 64  # fixed-noise samples drawn into each epoch's grid
    keep_checkpoints: int = 2  # training-state files kept in checkpoints/
    # One-sided label smoothing: D's BCE target for real images is 1 - this (0: hard targets).
    # 0.1 held over seeds where hard targets did not: README, "Robustness".
    label_smoothing: float = 0.1
    on_failure: str = "warn"  # what a health event (D won, G collapsed) does: "warn" or "stop"
    checkpoint_minutes: float = 5.0  # also save the state mid-epoch this often (0: at epoch ends only)

    def __post_init__(self) -> None:
        _bounded("train.epochs", self.epochs, MAX_EPOCHS, "state files number epochs with 6 digits")
        _bounded("train.batch_size", self.batch_size, MAX_BATCH, "the largest training split")
        _bounded("train.grid_size", self.grid_size, MAX_GRID, "a 1 MP grid per epoch")
        _bounded("train.keep_checkpoints", self.keep_checkpoints, MAX_KEEP, "disk space")
        if self.log_every < 1:
            raise ConfigError(f"train.log_every must be at least 1, got {self.log_every}")
        if not 0 <= self.checkpoint_minutes < float("inf"):
            raise ConfigError(f"train.checkpoint_minutes must be 0 (at epoch ends only) or a number of minutes, "
                              f"got {self.checkpoint_minutes}")
        for name in ("lr_g", "lr_d"):
            if not 0 < getattr(self, name) < float("inf"):
                raise ConfigError(f"train.{name} must be positive and finite, got {getattr(self, name)}")
        if not 0 <= self.label_smoothing < 0.5:
            raise ConfigError(f"train.label_smoothing must be in [0, 0.5), got {self.label_smoothing}")
        if self.on_failure not in ("warn", "stop"):
            raise ConfigError(f"train.on_failure must be 'warn' or 'stop', got {self.on_failure!r}")
        for name in ("beta1", "beta2"):
            if not 0 <= getattr(self, name) < 1:
                raise ConfigError(f"train.{name} must be in [0, 1), got {getattr(self, name)}")


@dataclass(frozen=True)
class EvalConfig:
    """The light evaluation during training, which keeps the best generator. It never
    changes the training itself, so a resume may change these settings."""

    every: int = 5  # epochs between light evaluations (and after the last); 0 = off
    n: int = 2000  # samples per light evaluation, scored against as many real images

    def __post_init__(self) -> None:
        if self.every < 0:
            raise ConfigError(f"eval.every must be 0 (off) or a number of epochs, got {self.every}")
        if not 2 <= self.n <= 10_000:
            raise ConfigError(f"eval.n must be between 2 and 10000 (the test split), got {self.n}")


@dataclass(frozen=True)
class RunConfig:
    preset: str = "classic"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


PRESETS: dict[str, RunConfig] = {
    # The spec: MLP G (64 -> 256 -> 256 -> 784, ReLU, tanh), MLP D (LeakyReLU 0.2), BCE, Adam 2e-4.
    "classic": RunConfig(),
}


def preset(name: str) -> RunConfig:
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r} (choose from {', '.join(sorted(PRESETS))})")
    return PRESETS[name]


def _coerce(value: Any, typ: Any, where: str) -> Any:
    """Check `value` against a field type; ints are accepted where floats are expected."""
    if typ is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if typ in (int, float, str, bool) and type(value) is typ:
        return value
    raise ConfigError(f"{where}: expected {typ.__name__}, got {type(value).__name__} {value!r}")


def _merge(obj: Any, updates: dict[str, Any], where: str) -> Any:
    """A copy of dataclass `obj` with `updates` (a nested dict) applied and type-checked."""
    hints = typing.get_type_hints(type(obj))
    names = {f.name for f in dataclasses.fields(obj)}
    changes: dict[str, Any] = {}
    for key, value in updates.items():
        path = f"{where}.{key}" if where else key
        if key not in names:
            raise ConfigError(f"unknown config key {path!r} (known: {', '.join(sorted(names))})")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ConfigError(f"{path}: expected a table of settings, got {value!r}")
            changes[key] = _merge(current, value, path)
        else:
            changes[key] = _coerce(value, hints[key], path)
    return dataclasses.replace(obj, **changes)


def from_dict(d: dict[str, Any]) -> RunConfig:
    """Rebuild a saved config (config.json, checkpoint metadata), checking every key."""
    return _merge(RunConfig(), d, "")


def parse_override(text: str) -> dict[str, Any]:
    """`train.epochs=5` -> {"train": {"epochs": 5}}; the value is parsed as TOML."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {text!r}: expected section.key=value")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()  # a bare word such as fashion-mnist is a string
    nested: dict[str, Any] = {}
    node = nested
    parts = key.strip().split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return nested


def apply_overrides(cfg: RunConfig, overrides: typing.Sequence[str]) -> RunConfig:
    """Apply `section.key=value` strings in order."""
    for text in overrides:
        cfg = _merge(cfg, parse_override(text), "")
    return cfg


def read_config(path: str | Path) -> RunConfig:
    """A saved config.json, checked like any other config."""
    try:
        return from_dict(json.loads(Path(path).read_text()))
    except OSError as e:
        raise ConfigError(f"{path}: cannot read ({e.strerror or e})") from None
    except (json.JSONDecodeError, AttributeError, UnicodeDecodeError, RecursionError) as e:
        raise ConfigError(f"{path}: not a valid config file ({str(e)[:200]})") from None
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None


def load_config(
    preset_name: str = "classic",
    toml_path: str | Path | None = None,
    overrides: typing.Sequence[str] = (),
) -> RunConfig:
    """Preset, then TOML file, then `key=value` overrides."""
    cfg = preset(preset_name)
    if toml_path is not None:
        try:
            table = tomllib.loads(Path(toml_path).read_text())
        except OSError as e:
            raise ConfigError(f"{toml_path}: cannot read ({e.strerror or e})") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{toml_path}: invalid TOML ({e})") from None
        cfg = _merge(cfg, table, "")
    return apply_overrides(cfg, overrides)
