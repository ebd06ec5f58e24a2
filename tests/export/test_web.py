"""`export --format web`: one static page that runs G with onnxruntime-web, opened from
disk (file://, no server) in headless Chromium; its images match torch's G on the
page's own noise, for every class asked. Needs onnxruntime-web from npm (env
MNISTGAN_ORT_WEB: a tarball or folder; else `npm pack`): skips without it, except under CI."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from mnistgan.cli import main  # noqa: E402
from mnistgan.errors import ConfigError  # noqa: E402
from mnistgan.export import web  # noqa: E402
from mnistgan.io.weights import save_generator  # noqa: E402
from tests.browser_support import launch_chromium, need, need_chromium, watch_errors  # noqa: E402
from tests.export.test_onnx import tiny_generator  # noqa: E402


@pytest.fixture(scope="module")
def ort_dir(tmp_path_factory) -> Path:
    """onnxruntime-web's two files, fetched once for the module."""
    folder = tmp_path_factory.mktemp("ort-web")
    given = os.environ.get("MNISTGAN_ORT_WEB")
    if not given and shutil.which("npm") is None:
        need("no npm to fetch onnxruntime-web (apt-get install npm), and MNISTGAN_ORT_WEB is not set")
    files = web.ort_web_files(Path(given) if given else None, cache_dir=folder / "cache")
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


@pytest.fixture(scope="module")
def browser():
    need_chromium()
    with launch_chromium() as b:
        yield b


def open_page(browser, path: Path):
    page = browser.new_page(viewport={"width": 600, "height": 900})
    errors = watch_errors(page)
    page.goto(path.as_uri())
    page.wait_for_function("window.mnistgan !== undefined", timeout=60_000)
    return page, errors


def page_images(page) -> tuple[np.ndarray, np.ndarray, int, int | None]:
    got = page.evaluate("({z: Array.from(mnistgan.z), images: Array.from(mnistgan.images), n: mnistgan.n, "
                        "digit: mnistgan.digit})")
    n = got["n"]
    return (np.asarray(got["z"], dtype=np.float32).reshape(n, -1),
            np.asarray(got["images"], dtype=np.float32).reshape(n, 1, 28, 28), n, got["digit"])


@pytest.mark.parametrize("preset", ["classic", "dcgan-cond"])
def test_the_page_runs_g_in_the_browser_from_disk(preset, ort_dir, browser, tmp_path):
    G, cfg = tiny_generator(preset)
    weights = tmp_path / "generator.safetensors"
    save_generator(weights, G, cfg, epoch=2)
    assert main(["export", str(weights), "--format", "web", "--out", str(tmp_path / "site"), "--ort", str(ort_dir)]) == 0
    page, errors = open_page(browser, tmp_path / "site" / "index.html")
    z, images, n, _ = page_images(page)
    assert n == 64 and z.shape == (64, G.z_dim)
    assert abs(float(z.mean())) < 0.15 and abs(float(z.std()) - 1) < 0.1  # standard normal noise
    labels = G.labels(n)
    want = G.generate(torch.from_numpy(z), labels).numpy()
    assert np.abs(images - want).max() <= 1e-4
    if G.num_classes:
        page.click("#digits button >> nth=3")
        page.wait_for_function("window.mnistgan.digit === 3")
        z3, images3, _, _ = page_images(page)
        assert np.abs(images3 - G.generate(torch.from_numpy(z3), G.labels(n, 3)).numpy()).max() <= 1e-4
        assert "only 3s" in page.locator("#status").inner_text()
    else:
        assert page.locator("#digits").is_hidden()
    before = page.evaluate("mnistgan.seed")
    page.click("#new")
    page.wait_for_function(f"window.mnistgan.seed !== {before!r}")
    assert errors == []
    page.close()


def test_onnxruntime_web_comes_from_a_package_or_says_how(tmp_path, monkeypatch):
    bad = tmp_path / "not-a.tgz"
    bad.write_bytes(b"not a tarball")
    with pytest.raises(ConfigError, match="not a readable npm tarball"):
        web.ort_web_files(bad, tmp_path / "cache")
    with pytest.raises(ConfigError, match="no ort.wasm.bundle.min.mjs"):
        web.ort_web_files(tmp_path, tmp_path / "cache")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(ConfigError, match="needs onnxruntime-web from npm"):
        web.ort_web_files(None, tmp_path / "empty-cache")
