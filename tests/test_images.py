import io

import numpy as np
from PIL import Image

from mnistgan.images import gif_bytes, make_grid, png_bytes, upscale


def test_grid_places_each_image_in_reading_order():
    images = np.stack([np.full((28, 28), i, np.uint8) for i in range(1, 6)])
    grid = make_grid(images, nrow=3, pad=2)
    assert grid.shape == (2 * 30 + 2, 3 * 30 + 2)
    assert grid[2, 2] == 1 and grid[2, 32] == 2 and grid[32, 2] == 4 and grid[32, 32] == 5
    assert grid[32, 62] == 0  # the empty sixth cell stays background
    assert make_grid(images[:, None]).shape == make_grid(images).shape  # [N, 1, H, W] accepted


def test_png_and_gif_round_trip():
    img = upscale(np.arange(16, dtype=np.uint8).reshape(4, 4), 3)
    assert img.shape == (12, 12)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(png_bytes(img)))), img)
    gif = Image.open(io.BytesIO(gif_bytes([img, 255 - img, img])))
    assert gif.n_frames == 3
