"""A person's drawing, made to look like an MNIST digit before anyone judges it.

MNIST's digits were size-normalised to fit a 20x20 box (keeping their aspect ratio,
anti-aliased), then placed in 28x28 so that their centre of mass sits at the centre.
`mnist_style` does the same to a 28x28 drawing; the page does the first step in the
browser, from its large canvas down to 28x28, so detail is not lost.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image

SIDE = 28
BOX = 20  # MNIST's size-normalisation box
MAX_PNG_BYTES = 64 * 1024
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CENTRE = 14  # where MNIST's centres of mass sit (pixel 14, 0-based: measured mean 13.99 over its test set)
INK = 32  # a pixel at least this bright (of 255) counts as drawn, for the bounding box


class DrawingError(ValueError):
    """The drawing is not a 28x28 image: the message says what is wrong."""


def from_pixels(pixels: Any) -> np.ndarray:
    """A JSON drawing: 784 numbers, or 28 rows of 28, each 0..255 (0 = background) ->
    uint8 [28, 28]."""
    if not isinstance(pixels, list):
        raise DrawingError("pixels must be a list of 784 numbers or 28 rows of 28")
    rows = pixels if pixels and all(isinstance(r, list) for r in pixels) else None
    flat = [v for r in rows for v in r] if rows is not None else pixels
    if rows is not None and (len(rows) != SIDE or any(len(r) != SIDE for r in rows)):
        raise DrawingError(f"pixels must be {SIDE} rows of {SIDE}")
    if len(flat) != SIDE * SIDE:
        raise DrawingError(f"pixels must hold {SIDE * SIDE} values (28x28), got {len(flat)}")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 255 for v in flat):
        raise DrawingError("every pixel must be a number from 0 to 255")
    return np.asarray(flat, dtype=np.float64).round().astype(np.uint8).reshape(SIDE, SIDE)


def from_png(data: bytes) -> np.ndarray:
    """A PNG of at most 64 KB whose image is 28x28 -> uint8 [28, 28], bright ink on a dark
    background: a dark-on-light drawing is inverted, and on a transparent background the
alpha channel is the ink."""
    if len(data) > MAX_PNG_BYTES:
        raise DrawingError(f"the PNG is {len(data)} bytes; the limit is {MAX_PNG_BYTES} (64 KB)")
    if not data.startswith(PNG_SIGNATURE):
        raise DrawingError("not a PNG (it does not start with the PNG signature)")
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as im:
            if im.size != (SIDE, SIDE):  # read from the header, before any pixel is decoded
                raise DrawingError(f"the PNG is {im.size[0]}x{im.size[1]}; it must be {SIDE}x{SIDE}")
            im.load()
            rgba = im.convert("RGBA")
    except DrawingError:
        raise
    except Exception as e:  # Pillow raises many kinds for a damaged file: all mean "cannot decode"
        raise DrawingError(f"the PNG cannot be decoded ({type(e).__name__})") from None
    pixels = np.asarray(rgba)  # [28, 28, 4]
    if pixels[..., 3].min() < 255:  # strokes on a transparent background: the alpha is the ink
        return pixels[..., 3].copy()
    grey = np.asarray(rgba.convert("L"))
    return (255 - grey if grey.mean() > 127 else grey).astype(np.uint8)  # MNIST: light ink on dark


def mnist_style(image: np.ndarray) -> np.ndarray:
    """uint8 [28, 28] -> uint8 [28, 28]: the drawn part scaled to fit 20x20 (aspect kept,
    anti-aliased), placed so its centre of mass is at the centre. Raises DrawingError for
    an empty drawing."""
    ys, xs = np.nonzero(image >= INK)
    if len(ys) == 0:
        raise DrawingError("the drawing is empty")
    crop = image[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    h, w = crop.shape
    scale = BOX / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = np.asarray(Image.fromarray(crop).resize(size, Image.Resampling.LANCZOS), dtype=np.float64)
    out = np.zeros((SIDE, SIDE), dtype=np.float64)
    mass = small.sum()
    cy = (small.sum(1) * np.arange(small.shape[0])).sum() / mass  # centre of mass in the small image
    cx = (small.sum(0) * np.arange(small.shape[1])).sum() / mass
    top = int(np.clip(round(CENTRE - cy), 0, SIDE - small.shape[0]))
    left = int(np.clip(round(CENTRE - cx), 0, SIDE - small.shape[1]))
    out[top : top + small.shape[0], left : left + small.shape[1]] = small
    return out.clip(0, 255).round().astype(np.uint8)
