"""Image helpers on numpy + Pillow: sample grids, PNG and GIF output."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from mnistgan.atomic import atomic_write_bytes


def make_grid(images: np.ndarray, nrow: int | None = None, pad: int = 2, pad_value: int = 0) -> np.ndarray:
    """uint8 [N, H, W] (or [N, 1, H, W]) -> one uint8 [rows*(H+pad)+pad, nrow*(W+pad)+pad] image."""
    images = np.asarray(images)
    if images.ndim == 4:
        images = images[:, 0]
    n, h, w = images.shape
    nrow = nrow or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / nrow)
    grid = np.full((rows * (h + pad) + pad, nrow * (w + pad) + pad), pad_value, dtype=np.uint8)
    for i, img in enumerate(images):
        r, c = divmod(i, nrow)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        grid[y : y + h, x : x + w] = img
    return grid


def upscale(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement, so 28x28 digits stay crisp on screen."""
    return image.repeat(factor, axis=0).repeat(factor, axis=1) if factor > 1 else image


def png_bytes(image: np.ndarray, fast: bool = False) -> bytes:
    """PNG bytes of a uint8 [H, W] image: smallest by default; `fast` trades a little size
    for several times less encoding time (the web app's grids)."""
    buf = io.BytesIO()
    options = {"compress_level": 1} if fast else {"optimize": True}
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buf, format="PNG", **options)
    return buf.getvalue()


def save_png(path: str | Path, image: np.ndarray) -> None:
    atomic_write_bytes(Path(path), png_bytes(image))


def gif_bytes(frames: Sequence[np.ndarray], ms_per_frame: int = 200) -> bytes:
    """An animated, looping GIF of greyscale frames; the last frame is held longer."""
    pil = [Image.fromarray(np.asarray(f, dtype=np.uint8)) for f in frames]
    durations = [ms_per_frame] * (len(pil) - 1) + [ms_per_frame * 5]
    buf = io.BytesIO()
    pil[0].save(buf, format="GIF", save_all=True, append_images=pil[1:], duration=durations, loop=0)
    return buf.getvalue()
