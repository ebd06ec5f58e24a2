"""`mnistgan data import`: each kind of source, the MNIST-style conversion, the manifest,
verification on load, and every refusal leaving nothing half-imported."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mnistgan.cli import main
from mnistgan.data.datasets import get_spec, imported_names
from mnistgan.data.idx import read_idx
from mnistgan.data.importer import centre_by_mass, convert_image, import_dataset
from mnistgan.data.sources import Sources, load_split
from mnistgan.errors import DataError
from tests.conftest import draw, tiny_arrays, write_idx_set, write_png_set


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def _nothing_left(cache: Path) -> bool:
    folder = cache / "custom"
    return not folder.exists() or not any(folder.iterdir())


# --- the conversion ---------------------------------------------------------------------


def test_convert_fits_the_digit_in_20x20_and_centres_it_by_mass(tmp_path):
    im = Image.new("L", (120, 60), 0)  # a white bar, far off centre, on black
    ImageDraw.Draw(im).rectangle((90, 5, 99, 54), fill=255)
    im.save(tmp_path / "bar.png")
    out = convert_image(tmp_path / "bar.png", invert=False)
    assert out.shape == (28, 28) and out.dtype == np.uint8
    rows, cols = np.flatnonzero((out > 30).any(1)), np.flatnonzero((out > 30).any(0))
    assert rows[-1] - rows[0] + 1 == 20  # the long side fills 20 pixels
    assert cols[-1] - cols[0] + 1 in (4, 5)  # 10 x 50 scaled by 20/50, aspect kept
    m = out.astype(float)
    cy = (m.sum(1) * np.arange(28)).sum() / m.sum()
    cx = (m.sum(0) * np.arange(28)).sum() / m.sum()
    assert abs(cy - 13.5) <= 0.5 and abs(cx - 13.5) <= 0.5


def test_convert_inverts_dark_on_light_and_refuses_the_wrong_polarity(tmp_path):
    draw(1, (40, 40)).save(tmp_path / "dark.png")
    out = convert_image(tmp_path / "dark.png", invert=True)
    assert out[0, 0] == 0 and out.max() > 200  # white on black, like MNIST
    with pytest.raises(DataError, match=r"dark\.png: the background is light.*pass --invert"):
        convert_image(tmp_path / "dark.png", invert=False)


def test_centre_by_mass_keeps_every_pixel_of_a_fitted_digit():
    digit = np.zeros((20, 20))
    digit[:, :3] = 255  # mass at the left edge: the shift moves it right, nothing is cut
    out = centre_by_mass(digit)
    assert out.sum() == digit.sum()


# --- each kind of source ----------------------------------------------------------------


def test_idx_folder_keeps_its_split_and_verifies_on_load(tmp_path, cache):
    src = write_idx_set(tmp_path / "kmnist")
    m = import_dataset(src, "kmnist-like", cache)
    assert m["split"] == {"kind": "source"} and m["count"] == {"train": 120, "test": 40}
    assert m["classes"] == [str(i) for i in range(10)]
    home = cache / "custom" / "kmnist-like"
    for name, f in m["files"].items():  # the manifest's sha256 is of each file's content
        assert hashlib.sha256(gzip.decompress((home / name).read_bytes())).hexdigest() == f["sha256"]
    train = load_split("kmnist-like", "train", Sources(cache_dir=cache, download=False))
    want_images, want_labels = tiny_arrays(120, 0)
    assert np.array_equal(train.images.numpy(), want_images)
    assert np.array_equal(train.labels.numpy(), want_labels)
    # Verified on every load, like the built-in sets: a changed byte is refused, naming the file.
    path = home / "t10k-images-idx3-ubyte.gz"
    raw = bytearray(gzip.decompress(path.read_bytes()))
    raw[-1] ^= 0xFF
    path.write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte\.gz: checksum mismatch"):
        load_split("kmnist-like", "test", Sources(cache_dir=cache, download=False))


def test_a_lone_train_file_gets_a_seeded_holdout_stated_in_the_manifest(tmp_path, cache):
    src = write_idx_set(tmp_path / "one", n_train=100, test=False)
    m = import_dataset(src, "one", cache, test_share=0.2, seed=3)
    assert m["split"] == {"kind": "holdout", "test_share": 0.2, "seed": 3}
    assert m["count"] == {"train": 80, "test": 20}
    src_images = read_idx(src / "train-images-idx3-ubyte.gz")
    s = Sources(cache_dir=cache)
    parts = np.concatenate([load_split("one", sp, s).images.numpy() for sp in ("train", "test")])
    assert sorted(map(bytes, parts)) == sorted(map(bytes, src_images))  # every image once, in one split
    import_dataset(src, "two", cache, test_share=0.2, seed=3)  # seeded: the same holdout again
    assert np.array_equal(load_split("two", "test", s).images, load_split("one", "test", s).images)


def test_npz_with_and_without_labels(tmp_path, cache):
    images, labels = tiny_arrays(50, 0)
    np.savez(tmp_path / "l.npz", images=images, labels=labels)
    np.savez(tmp_path / "u.npz", images=images)
    m = import_dataset(tmp_path / "l.npz", "npz-l", cache)
    assert m["classes"] == [str(i) for i in range(10)] and m["split"]["kind"] == "holdout"
    m = import_dataset(tmp_path / "u.npz", "npz-u", cache)
    assert m["classes"] == [] and m["labels"] == "none"
    spec = get_spec("npz-u", cache)
    assert not spec.labelled and spec.files["train"][1] is None
    assert load_split("npz-u", "train", Sources(cache_dir=cache)).images.shape == (45, 28, 28)
    m = import_dataset(tmp_path / "l.npz", "npz-dropped", cache, labels="none")
    assert m["classes"] == []
    assert imported_names(cache) == ["npz-dropped", "npz-l", "npz-u"]


def test_keras_npz_keeps_its_split(tmp_path, cache):
    (a, ya), (b, yb) = tiny_arrays(30, 0), tiny_arrays(10, 1)
    np.savez(tmp_path / "mnist.npz", x_train=a, y_train=ya, x_test=b, y_test=yb)
    m = import_dataset(tmp_path / "mnist.npz", "keras", cache)
    assert m["split"] == {"kind": "source"} and m["count"] == {"train": 30, "test": 10}


def test_png_folder_with_class_subfolders(tmp_path, cache):
    src = write_png_set(tmp_path / "pngs")
    m = import_dataset(src, "shapes", cache, invert=True)
    assert m["classes"] == ["0", "1", "2"] and m["count"] == {"train": 32, "test": 4}
    assert sum(m["per_class"]["train"]) == 32
    home = cache / "custom" / "shapes"
    with Image.open(home / "preview.png") as im:  # 32 converted images, 8 per row, doubled
        assert im.size == (2 * (8 * 30 + 2), 2 * (4 * 30 + 2))
    train = load_split("shapes", "train", Sources(cache_dir=cache))
    assert train.images[:, 0, :].max() < 60  # white on black: the top row is background
    ones = train.images[train.labels == 1].float()  # a vertical bar fitted to 20 rows
    assert (ones.sum(2) > 0).sum(1).min() >= 19


def test_png_folder_with_train_and_test_keeps_the_split(tmp_path, cache):
    src = write_png_set(tmp_path / "split", per_class=5, split=True)
    m = import_dataset(src, "split", cache, invert=True)
    assert m["split"] == {"kind": "source"} and m["count"] == {"train": 15, "test": 12}


def test_unlabelled_png_folder(tmp_path, cache):
    src = tmp_path / "loose"
    src.mkdir()
    for i in range(6):
        draw(i % 3, (40, 40)).save(src / f"{i}.png")
    m = import_dataset(src, "loose", cache, invert=True)
    assert m["classes"] == [] and m["count"]["train"] + m["count"]["test"] == 6


# --- refusals: one line naming the file and the problem, nothing half-imported -------------


def _refused(src: Path, cache: Path, match: str, **kw) -> None:
    with pytest.raises(DataError, match=match):
        import_dataset(src, kw.pop("name", "bad"), cache, **kw)
    assert _nothing_left(cache)


def test_an_unreadable_image_is_named_and_nothing_is_imported(tmp_path, cache):
    src = write_png_set(tmp_path / "pngs", per_class=3)
    (src / "2" / "zz-broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    _refused(src, cache, r"2/zz-broken\.png: unreadable image", invert=True)


def test_mixed_sizes_that_cannot_be_converted(tmp_path, cache):
    src = write_idx_set(tmp_path / "mixed", size=32)  # train 28x28, test 32x32: IDX is not resized
    _refused(src, cache, r"t10k-images-idx3-ubyte\.gz: images must be \[N, 28, 28\], got \[40, 32, 32\]")
    tiny = write_png_set(tmp_path / "tiny", per_class=2)
    Image.new("L", (3, 40), 255).save(tiny / "1" / "sliver.png")
    _refused(tiny, cache, r"1/sliver\.png: 3x40 pixels cannot be converted", invert=True)


def test_empty_folders(tmp_path, cache):
    (tmp_path / "empty").mkdir()
    _refused(tmp_path / "empty", cache, r"empty: empty folder")
    src = write_png_set(tmp_path / "pngs", per_class=2)
    (src / "3").mkdir()
    _refused(src, cache, r"pngs/3: empty folder", invert=True)


def test_labels_out_of_range(tmp_path, cache):
    images, _ = tiny_arrays(20, 0)
    np.savez(tmp_path / "neg.npz", images=images, labels=np.full(20, -1, np.int64))
    _refused(tmp_path / "neg.npz", cache, r"neg\.npz: labels: labels out of range: -1\.\.-1")
    np.savez(tmp_path / "big.npz", images=images, labels=np.full(20, 300, np.int64))
    _refused(tmp_path / "big.npz", cache, r"labels out of range: 300\.\.300 \(must be 0\.\.255\)")
    (a, ya), (b, yb) = tiny_arrays(30, 0), tiny_arrays(10, 1)
    np.savez(tmp_path / "k.npz", x_train=a, y_train=ya % 5, x_test=b, y_test=yb)  # test has 5..9, train 0..4
    _refused(tmp_path / "k.npz", cache, r"x_test: labels out of range: test label 9, but the train split's labels are 0\.\.4")


def test_an_existing_name_needs_force_which_replaces_it_whole(tmp_path, cache):
    import_dataset(write_idx_set(tmp_path / "a", n_train=60), "mine", cache)
    with pytest.raises(DataError, match=r"a dataset named 'mine' was already imported \(--force replaces it\)"):
        import_dataset(write_idx_set(tmp_path / "b", n_train=80), "mine", cache)
    assert get_spec("mine", cache).files["train"][0].shape == (60, 28, 28)
    (cache / "real").mkdir(parents=True)
    (cache / "real" / "mine-0123456789ab-n10-s0.json").write_text("{}")  # a floor computed from the old set
    (cache / "real" / "mine-2-0123456789ab-n10-s0.json").write_text("{}")  # another set's, named alike
    import_dataset(tmp_path / "b", "mine", cache, force=True)
    assert get_spec("mine", cache).files["train"][0].shape == (80, 28, 28)
    assert not (cache / "real" / "mine-0123456789ab-n10-s0.json").exists()
    assert (cache / "real" / "mine-2-0123456789ab-n10-s0.json").exists()
    assert sorted(p.name for p in (cache / "custom").iterdir()) == ["mine"]  # no temp folders left
    # A failed forced import keeps the old set.
    with pytest.raises(DataError):
        import_dataset(tmp_path / "nothing-here", "mine", cache, force=True)
    assert get_spec("mine", cache).files["train"][0].shape == (80, 28, 28)


def test_bad_names(tmp_path, cache):
    src = write_idx_set(tmp_path / "a", n_train=20)
    for name, why in (("mnist", "built-in"), ("My Set", "lowercase"), ("../x", "lowercase")):
        _refused(src, cache, why, name=name)


# --- the CLI ----------------------------------------------------------------------------


def test_cli_import_prints_the_preview_and_how_to_train(tmp_path, capsys):
    src = write_png_set(tmp_path / "pngs", per_class=3)
    assert main(["data", "import", str(src), "--name", "shapes", "--invert"]) == 0
    out = capsys.readouterr().out
    preview = tmp_path / "xdg-cache" / "mnistgan" / "custom" / "shapes" / "preview.png"
    assert f"check the converted images: {preview}" in out and preview.is_file()
    assert "train on it: mnistgan train --set data.name=shapes" in out
    assert main(["data", "import", str(src), "--name", "shapes"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already imported" in err
    assert main(["data", "info", "shapes"]) == 0
    info = capsys.readouterr().out
    assert "shapes train: (5, 28, 28) uint8" in info and "shapes test: (4, 28, 28) uint8" in info  # 4 to score
    manifest = json.loads((preview.parent / "manifest.json").read_text())
    assert manifest["source"] == str(src.resolve()) and manifest["source_kind"] == "images"


def test_cli_unknown_dataset_suggests_importing(tmp_path, capsys):
    assert main(["train", "--set", "data.name=nope", "--outdir", str(tmp_path / "runs")]) == 2
    assert "mnistgan data import SRC --name nope" in capsys.readouterr().err
