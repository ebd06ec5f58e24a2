"""Image helpers on numpy + Pillow: sample grids, PNG and GIF output."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from mnistgan.atomic import atomic_write_bytes


def as_pictures(images: np.ndarray) -> np.ndarray:
    """uint8 [N, H, W] or [N, 1, H, W] -> [N, H, W] (grey); [N, 3, H, W] -> [N, H, W, 3] (RGB),
    the layout Pillow reads."""
    images = np.asarray(images)
    if images.ndim == 3:
        return images
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"expected images [N, H, W] or [N, 1 or 3, H, W], got shape {images.shape}")
    return images[:, 0] if images.shape[1] == 1 else images.transpose(0, 2, 3, 1)


def make_grid(images: np.ndarray, nrow: int | None = None, pad: int = 2, pad_value: int = 0) -> np.ndarray:
    """uint8 [N, H, W] (or [N, 1, H, W]) -> one uint8 [rows*(H+pad)+pad, nrow*(W+pad)+pad] image;
    uint8 [N, 3, H, W] -> one RGB image [rows*(H+pad)+pad, nrow*(W+pad)+pad, 3]."""
    images = as_pictures(images)
    n, h, w = images.shape[:3]
    nrow = nrow or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / nrow)
    grid = np.full((rows * (h + pad) + pad, nrow * (w + pad) + pad, *images.shape[3:]), pad_value, dtype=np.uint8)
    for i, img in enumerate(images):
        r, c = divmod(i, nrow)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        grid[y : y + h, x : x + w] = img
    return grid


def upscale(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement, so 28x28 digits stay crisp on screen."""
    return image.repeat(factor, axis=0).repeat(factor, axis=1) if factor > 1 else image


def png_bytes(image: np.ndarray, fast: bool = False) -> bytes:
    """PNG bytes of a uint8 [H, W] (grey) or [H, W, 3] (RGB) image: smallest by default; `fast` trades a little size
    for several times less encoding time (the web app's grids)."""
    buf = io.BytesIO()
    options = {"compress_level": 1} if fast else {"optimize": True}
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buf, format="PNG", **options)
    return buf.getvalue()


def save_png(path: str | Path, image: np.ndarray) -> None:
    atomic_write_bytes(Path(path), png_bytes(image))


def gif_bytes(frames: Sequence[np.ndarray], ms_per_frame: int = 200) -> bytes:
    """An animated, looping GIF of greyscale (or RGB) frames; the last frame is held longer."""
    pil = [Image.fromarray(np.asarray(f, dtype=np.uint8)) for f in frames]
    durations = [ms_per_frame] * (len(pil) - 1) + [ms_per_frame * 5]
    buf = io.BytesIO()
    pil[0].save(buf, format="GIF", save_all=True, append_images=pil[1:], duration=durations, loop=0)
    return buf.getvalue()
