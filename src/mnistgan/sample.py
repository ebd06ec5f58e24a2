"""Loading a trained generator from a run folder, weights file or checkpoint, and sampling.
Imports nothing from train/: weights and states are read through mnistgan.io."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mnistgan import pretrained
from mnistgan.atomic import atomic_write_bytes
from mnistgan.config import RunConfig
from mnistgan.errors import CheckpointError, ConfigError
from mnistgan.images import make_grid, png_bytes, upscale
from mnistgan.io import state as checkpoint
from mnistgan.io.weights import load_discriminator_file, load_into, load_weights_and_epoch
from mnistgan.models import Discriminator, Generator, build_discriminator, build_generator
from mnistgan.runfolder import BEST_GENERATOR, BEST_STATE, read_best
from mnistgan.runtime import one_thread
from mnistgan.tensors import as_images


def resolve(path: str | Path, last: bool = False) -> Path:
    """A run folder means its best generator (generator-best.safetensors, kept by the light
    evaluation during training) unless `last`, then its final generator.safetensors, then
    its newest training state. A file means itself. `pretrained:NAME` means the shipped
    generator, once its files match the manifest (it ships one: `last` changes nothing)."""
    if pretrained.is_name(path):
        return pretrained.where(path) / pretrained.GENERATOR
    path = Path(path)
    if path.is_dir():
        candidates = ([] if last else [path / BEST_GENERATOR]) + [path / "generator.safetensors"]
        for weights in candidates:
            if weights.is_file():
                return weights
        states = checkpoint.list_states(path)
        if not states:
            raise CheckpointError(f"{path}: no generator.safetensors or checkpoint in this folder")
        return states[-1]
    if not path.exists():
        shipped = f" (the shipped model is pretrained:{path})" if str(path) in pretrained.Shipped().names() else ""
        raise CheckpointError(f"{path}: no such file or folder{shipped}")
    return path


def describe(path: str | Path, last: bool = False) -> str:
    """One line saying which generator `resolve` picks from a run folder, for the CLI."""
    if pretrained.is_name(path):
        return f"using the shipped generator {path} ({resolve(path)}; sha256 checked)"
    path, src = Path(path), resolve(path, last)
    best = read_best(path) if path.is_dir() else None
    if src.name == BEST_GENERATOR.name and best:
        return (f"using the best generator: epoch {best['epoch']}, light-evaluation FID {best['fid_lenet']:.4g} "
                f"({src}); --last for the final one")
    return f"using {src}"


@dataclass(frozen=True)
class Loaded:
    """A generator for use, its run's config, the file it came from and its epoch: all from
    one read of that file."""

    G: Generator
    cfg: RunConfig
    src: Path
    epoch: int | None


def load_generator_from(path: str | Path, device: str | torch.device = "cpu", last: bool = False) -> Loaded:
    """The generator for use (the EMA weights when the run kept them), with where it came from."""
    src = resolve(path, last)
    if src.suffix == ".safetensors":
        G, cfg, epoch = load_weights_and_epoch(src)
    else:
        state = checkpoint.load_state(src)
        cfg, epoch = checkpoint.config_of(state, src), int(state["epoch"])
        G = build_generator(cfg.model)
        load_into(G, state.get("G_ema", state["G"]), src)
    return Loaded(G.to(device).eval(), cfg, src, epoch)


def load_generator_and_config(path: str | Path, device: str | torch.device = "cpu",
                              last: bool = False) -> tuple[Generator, RunConfig]:
    """The generator for use (the EMA weights when the run kept them) and its run's config."""
    loaded = load_generator_from(path, device, last)
    return loaded.G, loaded.cfg


def load_generator(path: str | Path, device: str | torch.device = "cpu", last: bool = False) -> Generator:
    """A trained generator, in eval mode: from a run folder, its best one unless `last`.
    `G.sample(n, seed=0, digit=None)` gives [n, C, 28, 28] in [-1, 1] (`digit` for a
    conditional G; C = G.img_channels, 1 for grey images)."""
    return load_generator_and_config(path, device, last)[0]


def load(name: str, device: str | torch.device = "cpu") -> Generator:
    """A shipped generator by name (`best`, or `pretrained:best`), checked against its
    sha256, in eval mode: `mnistgan.load("best").sample(16, seed=0, digit=7)`. Only shipped
    names: a folder of the same name is never read (load_generator takes paths)."""
    return load_generator(name if pretrained.is_name(name) else pretrained.PREFIX + name, device)


# Bounds on `sample`, checked before anything is generated (memory, with the reasons):
MAX_SAMPLES = 100_000  # G's float32 output: 314 MB; the uint8 array 78 MB
MAX_SCALE = 16  # enough to show a 28-pixel digit 448 pixels tall
MAX_GRID_PIXELS = 100_000_000  # a 100-megapixel PNG grid: 100 MB in memory, plus the encoder's


def check_sample_size(n: int, scale: int = 1, fmt: str = "png") -> None:
    """Refuse sizes past the bounds above, with the limit in the message."""
    if not 1 <= n <= MAX_SAMPLES:
        raise ConfigError(f"-n must be between 1 and {MAX_SAMPLES} (memory), got {n}")
    if not 1 <= scale <= MAX_SCALE:
        raise ConfigError(f"--scale must be between 1 and {MAX_SCALE}, got {scale}")
    side = int(np.ceil(np.sqrt(n)))
    pixels = (side * 30 + 2) * (int(np.ceil(n / side)) * 30 + 2) * scale * scale
    if fmt == "png" and pixels > MAX_GRID_PIXELS:
        raise ConfigError(f"-n {n} at --scale {scale} makes a {pixels / 1e6:.0f}-megapixel grid; the limit is "
                          f"{MAX_GRID_PIXELS // 1_000_000} megapixels (memory): lower -n or --scale, or use --format npz")


def sample_uint8(G: Generator, n: int, seed: int = 0, digit: int | None = None) -> np.ndarray:
    """n images as uint8 [n, 28, 28], 0 = black background as in MNIST; [n, C, 28, 28] for
    a generator of C > 1 channels."""
    return as_images(G.sample(n, seed=seed, digit=digit)).cpu().numpy()


def parse_digits(text: str, num_classes: int) -> list[int]:
    """'0-9', '3,5,7' or '1-3,8' -> a list of classes, each checked against the model."""
    if num_classes == 0:
        raise ConfigError("this generator is unconditional: it cannot draw a chosen digit (train a -cond preset)")
    digits: list[int] = []
    try:
        for part in text.split(","):
            lo, _, hi = part.strip().partition("-")
            digits += list(range(int(lo), int(hi or lo) + 1))
    except ValueError:
        raise ConfigError(f"--digits {text!r}: expected a list such as 0-9 or 3,5,7") from None
    bad = [d for d in digits if not 0 <= d < num_classes]
    if bad or not digits:
        raise ConfigError(f"--digits {text!r}: classes must be between 0 and {num_classes - 1}")
    return digits


def write_samples(G: Generator, out: Path, n: int = 64, seed: int = 0, fmt: str | None = None,
                  scale: int = 1, digit: int | None = None, digits: list[int] | None = None) -> Path:
    """Write samples (atomically) as a PNG grid (RGB for 3 channels) or as an .npz holding
    `images` uint8 [N, 28, 28], or [N, C, 28, 28] for C > 1 channels (and `labels` [N] for
    a conditional G): n images (all of class `digit` if
    given), or with `digits` a row of n per class, the same noise in every row."""
    fmt = fmt or ("npz" if out.suffix == ".npz" else "png")
    if fmt not in ("png", "npz"):
        raise ValueError(f"unknown format {fmt!r} (png or npz)")
    rows = digits or [digit]
    check_sample_size(n * len(rows), scale, fmt)
    if out.is_dir():
        raise ConfigError(f"{out}: a folder; --out needs a file name")
    with one_thread():  # the same images for a seed, also on a busy machine
        images = np.concatenate([sample_uint8(G, n, seed, d) for d in rows])  # [rows * n, (C,) 28, 28]
    labels = [G.labels(n, d) for d in rows]
    if fmt == "npz":
        buf = io.BytesIO()
        extra = {"labels": torch.cat(labels).numpy()} if G.num_classes else {}
        np.savez_compressed(buf, images=images, seed=np.int64(seed), **extra)
        data = buf.getvalue()
    else:
        data = png_bytes(upscale(make_grid(images, nrow=n if digits else None), scale))
    return atomic_write_bytes(out, data)


def load_discriminator(path: str | Path, device: str | torch.device = "cpu",
                       last: bool = False) -> Discriminator | None:
    """The trained D that goes with `resolve(path, last)`: from a run folder, the best
    epoch's (checkpoints/best.pt) when the best generator is used, else the newest
    training state's; from a state file, its own; None for a weights-only file. A shipped
    model's is its discriminator.safetensors."""
    path = pretrained.where(path)
    if (path / pretrained.DISCRIMINATOR).is_file():
        return load_discriminator_file(path / pretrained.DISCRIMINATOR).to(device).eval()
    if path.is_dir():
        use_best = resolve(path, last).name == BEST_GENERATOR.name and (path / BEST_STATE).is_file()
        states = [path / BEST_STATE] if use_best else checkpoint.list_states(path)
    else:
        states = [path] if path.suffix == ".pt" else []
    if not states:
        return None
    state = checkpoint.load_state(states[-1])
    D = build_discriminator(checkpoint.config_of(state, states[-1]).model)
    load_into(D, state["D"], states[-1])
    return D.to(device).eval()
