"""A drawing becomes an MNIST-style digit: fitted to 20x20, centred by mass; PNGs are
checked before they are decoded."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from mnistgan.serve.drawing import DrawingError, from_pixels, from_png, mnist_style


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    ys, xs = np.indices(image.shape)
    m = image.astype(np.float64)
    return (ys * m).sum() / m.sum(), (xs * m).sum() / m.sum()


def png_of(array: np.ndarray, mode: str | None = None) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array, mode).save(buf, format="PNG")
    return buf.getvalue()


def test_a_small_off_centre_stroke_is_fitted_to_20_pixels_and_centred_by_mass():
    image = np.zeros((28, 28), dtype=np.uint8)
    image[1:9, 1:3] = 255  # a short stroke in the top-left corner
    image[1:3, 1:5] = 255
    out = mnist_style(image)
    ys, xs = np.nonzero(out >= 32)
    assert ys.max() - ys.min() + 1 == 20 and xs.max() - xs.min() + 1 <= 20  # the longer side is 20
    cy, cx = centre_of_mass(out)
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5
    assert np.array_equal(mnist_style(out), out)  # an MNIST-style digit is left as it is


def test_most_real_mnist_digits_are_left_exactly_as_they_are():
    """MNIST made its digits this way, so doing it again changes most of them not at all
    (the rest were cropped or rounded differently by the original processing)."""
    from tests.conftest import SHARED_MNIST

    path = SHARED_MNIST / "t10k-images-idx3-ubyte.gz"
    if not path.is_file():
        pytest.skip("no shared MNIST copy")
    from mnistgan.data.idx import read_idx

    digits = np.asarray(read_idx(path)[:100])
    same = [np.array_equal(mnist_style(d), d) for d in digits]
    assert np.mean(same) >= 0.6
    centres = np.array([centre_of_mass(mnist_style(d)) for d in digits])
    assert np.abs(centres - 14).max() <= 0.5  # every one centred by mass


def test_pixels_as_a_list_or_rows():
    flat = list(range(256)) + [0] * (784 - 256)
    assert from_pixels(flat).reshape(-1).tolist() == flat
    rows = np.arange(784).reshape(28, 28) % 256
    assert np.array_equal(from_pixels(rows.tolist()), rows)
    for bad, message in (([0] * 783, "784 values"), ([[0] * 28] * 27, "28 rows of 28"), ([300] * 784, "0 to 255"),
                         ([True] * 784, "0 to 255"), ("x", "a list"), ([float("nan")] * 784, "0 to 255")):
        with pytest.raises(DrawingError, match=message):
            from_pixels(bad)
    with pytest.raises(DrawingError, match="empty"):
        mnist_style(np.zeros((28, 28), dtype=np.uint8))


def test_png_ink_on_paper_or_on_transparency():
    ink = np.zeros((28, 28), dtype=np.uint8)
    ink[5:20, 10:14] = 200
    assert np.array_equal(from_png(png_of(ink)), ink)  # light on dark: as is
    assert np.array_equal(from_png(png_of(255 - ink)), ink)  # dark on light: inverted
    rgba = np.zeros((28, 28, 4), dtype=np.uint8)
    rgba[..., 3] = ink  # black strokes on a transparent background: the alpha is the ink
    assert np.array_equal(from_png(png_of(rgba, "RGBA")), ink)


def test_png_limits_are_checked_before_decoding():
    with pytest.raises(DrawingError, match="must be 28x28"):
        from_png(png_of(np.zeros((28, 29), dtype=np.uint8)))
    with pytest.raises(DrawingError, match="the limit is 65536"):
        from_png(b"\x89PNG\r\n\x1a\n" + bytes(70_000))
    with pytest.raises(DrawingError, match="not a PNG"):
        from_png(b"GIF89a" + bytes(30))
    with pytest.raises(DrawingError, match="cannot be decoded"):
        from_png(png_of(np.zeros((28, 28), dtype=np.uint8))[:-20])
