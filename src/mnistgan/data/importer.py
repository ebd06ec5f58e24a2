"""`mnistgan data import`: a user's own 28x28 set into the cache, under a name of its own.

    import_dataset(Path("my-digits/"), "mine", cache_dir)  ->  <cache_dir>/custom/mine/

Three kinds of source (read_source):
- a folder of IDX files, any 28x28 set (KMNIST, EMNIST digits, the user's own): MNIST's
  names, or any `*images*idx3*` file with its `*labels*idx1*` twin;
- an .npz holding `images` uint8 [N, 28, 28] and optionally `labels` [N], or Keras's
  `x_train`, `y_train`, `x_test`, `y_test`;
- a folder of PNG/JPEG files, one subfolder per class (or none: unlabelled), optionally
  inside `train/` and `test/`. Each image is converted the MNIST way (convert_image): to
  grey, unless asked to keep its colour (`--colour`: 3 channels, [N, 3, 28, 28]).

A source's own train/test split is kept; without one, a seeded share of the images is
held out as the test split, and the manifest says so. The result is the built-in sets'
file layout (IDX .gz files) plus manifest.json with the sha256 of each file, so the set is
verified on every load like MNIST. Everything is written into a temp folder beside the
destination and renamed into place at the end: a failed import leaves nothing behind,
and a forced re-import replaces the old set in one rename.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import shutil
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from mnistgan.atomic import atomic_write_bytes
from mnistgan.config import MIN_EVAL_N
from mnistgan.data.clusters import DEFAULT_K, cluster_labels, dims
from mnistgan.data.datasets import (CUSTOM_DIR, DATASETS, MANIFEST, MANIFEST_FORMAT, NAME_RULE, SPLITS,
                                    imported_spec, read_split, small_set_hint)
from mnistgan.data.idx import encode_idx, read_idx
from mnistgan.errors import DataError
from mnistgan.images import make_grid, save_png, upscale

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
MAX_CLASSES = 256  # labels are stored as uint8 IDX, like MNIST's
MIN_SIDE, MAX_SIDE = 8, 4096  # image files: smaller holds no digit; larger is not a digit scan
FIT, SIDE = 20, 28  # MNIST: the digit fitted in 20x20, centred by mass in 28x28
PREVIEW = 64  # converted images shown in preview.png
FILE_NAMES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
              "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}


@dataclass
class Part:
    """One split as read from the source."""

    images: np.ndarray  # uint8 [N, 28, 28], white on black
    labels: np.ndarray | None  # int64 [N] in 0..C-1, or None
    origin: str  # the file or folder it came from, for messages


@dataclass
class Source:
    kind: str  # "idx" | "npz" | "images"
    parts: dict[str, Part]  # "train" and "test", or "all" when the source has no split
    classes: tuple[str, ...] | None  # class names when labelled, from the source


# --- converting one image file the MNIST way ---------------------------------------


def convert_image(path: Path, invert: bool, colour: bool = False) -> np.ndarray:
    """An image file -> uint8 [28, 28], white digit on black, as MNIST was made: grayscale;
    the digit's bounding box fitted into 20x20 keeping its aspect ratio (anti-aliased);
    then placed in 28x28 so that its centre of mass is at the centre. With `colour`,
    uint8 [3, 28, 28]: each RGB channel cropped, fitted and placed as the grey image is."""
    try:
        with Image.open(path) as im:
            im.load()
            if not (MIN_SIDE <= min(im.size) and max(im.size) <= MAX_SIDE):
                raise DataError(f"{path}: {im.size[0]}x{im.size[1]} pixels cannot be converted (each side must be "
                                f"{MIN_SIDE} to {MAX_SIDE})")
            # Transparent pixels become background: dark for white-on-black, light for --invert.
            rgba = im.convert("RGBA")
            canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255) if invert else (0, 0, 0, 255))
            flat = Image.alpha_composite(canvas, rgba)
            gray = np.asarray(flat.convert("L"), dtype=np.float64)
            rgb = np.asarray(flat.convert("RGB"), dtype=np.float64).transpose(2, 0, 1)  # [3, H, W]
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as e:
        raise DataError(f"{path}: unreadable image ({type(e).__name__}: {e})") from None
    if invert:
        gray, rgb = 255.0 - gray, 255.0 - rgb
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    if border.mean() > 127:
        raise DataError(f"{path}: the background is light (mean border brightness {border.mean():.0f} of 255): "
                        + ("it is already white on black, so leave out --invert" if invert else
                           "for dark digits on a light background, pass --invert"))
    ink = gray > max(gray.max() * 0.2, 1.0)  # ignore faint noise (JPEG artefacts) in the bounding box
    if not ink.any():
        raise DataError(f"{path}: blank image (no digit brighter than the background)")
    rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
    box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    fitted = fit_box(gray[box])
    if not colour:
        return centre_by_mass(fitted)
    top, left = mass_offset(fitted)  # the grey image's: every channel moves alike
    return np.stack([place(fit_box(plane[box]), top, left) for plane in rgb])


def fit_box(crop: np.ndarray) -> np.ndarray:
    """float [h, w] -> float [h', w'] fitted into FIT x FIT, keeping the aspect ratio (anti-aliased)."""
    h, w = crop.shape
    scale = FIT / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))  # PIL's (width, height)
    fitted = np.asarray(Image.fromarray(crop.astype(np.float32), mode="F").resize(size, Image.Resampling.LANCZOS))
    return np.clip(fitted, 0, 255)


def mass_offset(digit: np.ndarray) -> tuple[int, int]:
    """Where float [h, w]'s top-left corner goes in 28x28 for its centre of mass to be at
    (13.5, 13.5), the middle of the field."""
    h, w = digit.shape
    mass = digit.sum()
    cy = (digit.sum(1) * np.arange(h)).sum() / mass
    cx = (digit.sum(0) * np.arange(w)).sum() / mass
    return int(round((SIDE - 1) / 2 - cy)), int(round((SIDE - 1) / 2 - cx))


def centre_by_mass(digit: np.ndarray) -> np.ndarray:
    """float [h, w] (h, w <= 20) -> uint8 [28, 28] with the centre of mass at (13.5, 13.5),
    the middle of the field (pixels pushed past the border are cut, as in MNIST)."""
    return place(digit, *mass_offset(digit))


def place(digit: np.ndarray, top: int, left: int) -> np.ndarray:
    """float [h, w] -> uint8 [28, 28] with its top-left corner at (top, left), rounded."""
    h, w = digit.shape
    out = np.zeros((SIDE, SIDE))
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + h, SIDE), min(left + w, SIDE)
    out[y0:y1, x0:x1] = digit[y0 - top : y1 - top, x0 - left : x1 - left]
    return np.rint(out).astype(np.uint8)


# --- reading each kind of source ------------------------------------------------------


def _check_images(arr: np.ndarray, origin: str) -> np.ndarray:
    if arr.dtype != np.uint8:
        raise DataError(f"{origin}: images must be uint8 (0..255), got {arr.dtype}")
    if arr.ndim != 3 or arr.shape[1:] != (SIDE, SIDE):
        raise DataError(f"{origin}: images must be [N, 28, 28], got {list(arr.shape)} (only image files are "
                        "resized; convert other sizes to PNG files or to 28x28 first)")
    if arr.shape[0] == 0:
        raise DataError(f"{origin}: no images")
    return arr


def _check_labels(arr: np.ndarray, n: int, origin: str) -> np.ndarray:
    if arr.dtype.kind not in "iu":
        raise DataError(f"{origin}: labels must be integers, got {arr.dtype}")
    if arr.shape != (n,):
        raise DataError(f"{origin}: {list(arr.shape)} labels for {n} images (expected [{n}])")
    if arr.min() < 0 or arr.max() >= MAX_CLASSES:
        raise DataError(f"{origin}: labels out of range: {int(arr.min())}..{int(arr.max())} "
                        f"(must be 0..{MAX_CLASSES - 1})")
    return arr.astype(np.int64)


def _idx_split(name: str) -> str | None:
    low = name.lower()
    if "train" in low:
        return "train"
    if "t10k" in low or "test" in low:
        return "test"
    return None


def read_idx_folder(folder: Path) -> Source:
    images = sorted(p for p in folder.iterdir() if p.is_file() and "images" in p.name and "idx3" in p.name)
    if not images:
        raise DataError(f"{folder}: no IDX image files (*images*idx3*) here")
    parts: dict[str, Part] = {}
    for path in images:
        split = _idx_split(path.name) if len(images) > 1 else (_idx_split(path.name) or "all")
        if split is None or split in parts:
            raise DataError(f"{path}: cannot tell which split this is (name the files train-… and t10k-…/test-…)")
        arr = _check_images(read_idx(path), str(path))
        twin = folder / path.name.replace("images", "labels").replace("idx3", "idx1")
        labels = _check_labels(read_idx(twin), arr.shape[0], str(twin)) if twin.is_file() else None
        parts[split] = Part(arr, labels, str(path))
    if set(parts) not in ({"all"}, {"train", "test"}, {"train"}):
        raise DataError(f"{folder}: found the {', '.join(sorted(parts))} split(s) only; a test split needs a train split")
    if set(parts) == {"train"}:
        parts = {"all": parts["train"]}  # a lone train file: hold out a test split from it
    return Source("idx", parts, None)


def read_npz(path: Path) -> Source:
    try:
        with np.load(path, allow_pickle=False) as z:  # no pickles: loading runs no code
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise DataError(f"{path}: unreadable .npz ({type(e).__name__}: {e})") from None
    if "images" in arrays:
        images = _check_images(arrays["images"], f"{path}: images")
        labels = arrays.get("labels")
        return Source("npz", {"all": Part(images, None if labels is None else
                                          _check_labels(labels, images.shape[0], f"{path}: labels"), str(path))}, None)
    if "x_train" in arrays and "x_test" in arrays:  # Keras's mnist.npz layout: keep its split
        parts = {}
        for split in ("train", "test"):
            images = _check_images(arrays[f"x_{split}"], f"{path}: x_{split}")
            y = arrays.get(f"y_{split}")
            parts[split] = Part(images, None if y is None else _check_labels(y, images.shape[0], f"{path}: y_{split}"),
                                f"{path}: x_{split}")
        return Source("npz", parts, None)
    raise DataError(f"{path}: no 'images' array (found: {', '.join(arrays) or 'nothing'}); expected images uint8 "
                    "[N, 28, 28] and optionally labels [N]")


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _read_image_tree(folder: Path, invert: bool, classes: list[str] | None,
                     colour: bool = False) -> tuple[Part, list[str] | None]:
    """One split: class subfolders of image files, or image files directly in `folder`."""
    subdirs = sorted((p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")), key=_class_order)
    loose = _image_files(folder)
    if subdirs and loose:
        raise DataError(f"{folder}: holds both image files and class subfolders; put every image in a class "
                        "subfolder (or none, for an unlabelled set)")
    if not subdirs:
        if not loose:
            raise DataError(f"{folder}: empty folder (no .png/.jpg/.jpeg files and no class subfolders)")
        return Part(np.stack([convert_image(p, invert, colour) for p in loose]), None, str(folder)), None
    names = [p.name for p in subdirs]
    if classes is not None and names != classes:  # a test split must name the train split's classes
        raise DataError(f"{folder}: class subfolders {names} differ from the train split's {classes}")
    if len(names) > MAX_CLASSES:
        raise DataError(f"{folder}: {len(names)} class subfolders; at most {MAX_CLASSES} classes")
    images, labels = [], []
    for label, sub in enumerate(subdirs):
        files = _image_files(sub)
        if not files:
            raise DataError(f"{sub}: empty folder (no .png/.jpg/.jpeg files in this class)")
        images += [convert_image(p, invert, colour) for p in files]
        labels += [label] * len(files)
    return Part(np.stack(images), np.array(labels, dtype=np.int64), str(folder)), names


def _class_order(p: Path) -> tuple[int, int | str]:
    """Numeric class folders (0, 1, ..., 10) in numeric order, then the rest by name."""
    return (0, int(p.name)) if p.name.isdigit() else (1, p.name)


def read_image_folder(folder: Path, invert: bool, colour: bool = False) -> Source:
    if (folder / "train").is_dir() and (folder / "test").is_dir():  # the source's own split
        train, classes = _read_image_tree(folder / "train", invert, None, colour)
        test, _ = _read_image_tree(folder / "test", invert, classes, colour)
        return Source("images", {"train": train, "test": test}, None if classes is None else tuple(classes))
    part, classes = _read_image_tree(folder, invert, None, colour)
    return Source("images", {"all": part}, None if classes is None else tuple(classes))


def read_source(src: Path, invert: bool = False, colour: bool = False) -> Source:
    """Read any of the three kinds of source (see the module docstring); `colour` keeps image
    files in RGB (arrays are read as they are: grey [N, 28, 28])."""
    if src.is_file():
        if src.suffix.lower() != ".npz":
            raise DataError(f"{src}: not a source: give an .npz file, a folder of IDX files or a folder of images")
        source = read_npz(src)
    elif src.is_dir():
        entries = [p for p in src.iterdir() if not p.name.startswith(".")]
        if not entries:
            raise DataError(f"{src}: empty folder")
        has_idx = any("idx3" in p.name and p.is_file() for p in entries)
        source = read_idx_folder(src) if has_idx else read_image_folder(src, invert, colour)
    else:
        raise DataError(f"{src}: no such file or folder")
    if colour and source.kind != "images":
        raise DataError(f"{src}: --colour keeps image files in colour; this source holds grey arrays ({source.kind})")
    if invert and source.kind != "images":  # arrays are used as they are, but --invert still means dark on light
        source.parts = {k: Part(255 - p.images, p.labels, p.origin) for k, p in source.parts.items()}
    return source


# --- splitting, writing, the manifest ---------------------------------------------------


def holdout(part: Part, share: float, seed: int) -> dict[str, Part]:
    """A seeded random `share` of the images as the test split: at least one, and at least
    one left to train on; and at least MIN_EVAL_N (the fewest an evaluation scores) where
    that leaves half the set to train on, so that a set of 8 images or more can be evaluated."""
    n = part.images.shape[0]
    if n < 2:
        raise DataError(f"{part.origin}: {n} image(s); at least 2 are needed (one to train, one to test)")
    n_test = min(max(1, round(n * share)), n - 1)
    n_test = max(n_test, min(MIN_EVAL_N, n // 2))
    perm = np.random.default_rng(seed).permutation(n)
    test, train = np.sort(perm[:n_test]), np.sort(perm[n_test:])  # keep the source's order within each

    def take(idx: np.ndarray, what: str) -> Part:
        return Part(part.images[idx], None if part.labels is None else part.labels[idx], f"{part.origin} ({what})")

    return {"train": take(train, "train"), "test": take(test, "test")}


def _class_names(source: Source, parts: dict[str, Part]) -> tuple[str, ...]:
    if source.classes is not None:
        return source.classes
    top = int(parts["train"].labels.max())  # type: ignore[union-attr]
    test_top = int(parts["test"].labels.max())  # type: ignore[union-attr]
    if test_top > top:
        raise DataError(f"{parts['test'].origin}: labels out of range: test label {test_top}, but the train split's "
                        f"labels are 0..{top}")
    return tuple(str(i) for i in range(top + 1))


def _clustered(parts: dict[str, Part], k: int, seed: int) -> tuple[dict[str, Part], dict[str, Any]]:
    """Both splits labelled by k equal clusters of the train images, and the manifest's note."""
    train, test = parts["train"], parts["test"]
    train_labels, test_labels = cluster_labels(train.images, test.images, k, seed)
    note = {"labels": "clusters", "clusters": {"k": k, "seed": seed, "dims": dims(len(train_labels))}}
    return {"train": Part(train.images, train_labels, train.origin),
            "test": Part(test.images, test_labels, test.origin)}, note


def import_dataset(src: Path, name: str, cache_dir: Path, *, labels: str = "auto", invert: bool = False,
                   force: bool = False, test_share: float = 0.1, seed: int = 0, colour: bool = False,
                   clusters: int = DEFAULT_K) -> dict[str, Any]:
    """Import `src` as dataset `name` into <cache_dir>/custom/<name>/; returns its manifest.
    labels: "auto" (use the source's labels when it has them), "none" (drop them) or
    "clusters" (replace them by `clusters` equal clusters of the train images: data/clusters.py).
    colour: keep image files in RGB (3 channels) rather than converting them to grey."""
    if not NAME_RULE.match(name):
        raise DataError(f"--name {name!r}: use 1-64 lowercase letters, digits, '-' or '_', starting with a letter or digit")
    if name in DATASETS:
        raise DataError(f"--name {name!r} is a built-in dataset; choose another name")
    if labels not in ("auto", "none", "clusters"):
        raise DataError(f"--labels {labels!r}: choose auto, none or clusters")
    if labels == "clusters" and not 2 <= clusters <= MAX_CLASSES:
        raise DataError(f"--clusters {clusters}: give 2 to {MAX_CLASSES}")
    if not 0 < test_share < 1:
        raise DataError(f"--holdout {test_share}: must be between 0 and 1")
    dest = cache_dir / CUSTOM_DIR / name
    if dest.exists() and not force:
        raise DataError(f"{dest}: a dataset named {name!r} was already imported (--force replaces it)")
    source = read_source(src, invert, colour)
    parts = source.parts
    if labels == "none":
        parts = {k: Part(p.images, None, p.origin) for k, p in parts.items()}
    labelled = [p.labels is not None for p in parts.values()]
    if any(labelled) and not all(labelled):
        raise DataError(f"{src}: one split has labels and the other has none; give labels for both, or --labels none")
    split_note: dict[str, Any] = {"kind": "source"}
    if "all" in parts:
        parts = holdout(parts["all"], test_share, seed)
        split_note = {"kind": "holdout", "test_share": test_share, "seed": seed}
    label_note: dict[str, Any] = {"labels": "auto"}
    if labels == "clusters":
        parts, label_note = _clustered(parts, clusters, seed)
        classes = tuple(f"c{i}" for i in range(clusters))  # "c7", never "7": cluster 7 need not be the digit 7
    else:
        classes = _class_names(source, parts) if all(labelled) else ()
    if classes and len(classes) < 2:
        raise DataError(f"{src}: every image has label 0; a labelled set needs at least 2 classes (or --labels none)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{name}.import-", dir=dest.parent))
    try:
        manifest = _write_set(stage, parts, classes, {
            "name": name, "source": str(src.resolve()), "source_kind": source.kind, "invert": invert,
            "channels": 3 if colour else 1,
            **(label_note if classes else {"labels": "none"}), "split": split_note,
            "imported": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
        spec = imported_spec(stage)  # read back and verify, as every load will
        for split in SPLITS:
            read_split(stage, spec, split)
        _replace(stage, dest)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    _forget_derived(cache_dir, name)
    return manifest


def _write_set(folder: Path, parts: dict[str, Part], classes: tuple[str, ...], about: dict[str, Any]) -> dict[str, Any]:
    """The IDX files, preview.png and manifest.json (last) into `folder`."""
    files: dict[str, Any] = {}
    splits: dict[str, Any] = {}
    for split in SPLITS:
        part = parts[split]
        img_name, lab_name = FILE_NAMES[split]
        arrays = [(img_name, part.images)] + ([(lab_name, part.labels.astype(np.uint8))] if classes else [])
        for fname, arr in arrays:
            raw = encode_idx(arr)
            atomic_write_bytes(folder / fname, gzip.compress(raw, mtime=0))
            files[fname] = {"sha256": hashlib.sha256(raw).hexdigest(), "shape": list(arr.shape)}
        splits[split] = {"images": img_name, "labels": lab_name if classes else None, "count": int(part.images.shape[0])}
    preview = make_grid(parts["train"].images[:PREVIEW], nrow=8)
    save_png(folder / "preview.png", upscale(preview, 2))
    counts = {s: np.bincount(parts[s].labels, minlength=len(classes)).tolist() for s in SPLITS} if classes else None
    train_rows = {row.tobytes() for row in parts["train"].images}
    copies = sum(row.tobytes() in train_rows for row in parts["test"].images)  # exact duplicates across splits
    manifest = {"format": MANIFEST_FORMAT, **about, "count": {s: splits[s]["count"] for s in SPLITS},
                "test_copies_of_train": copies,
                "classes": list(classes), "per_class": counts, "splits": splits, "files": files,
                "preview": "preview.png"}
    atomic_write_bytes(folder / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())
    return manifest


def _replace(stage: Path, dest: Path) -> None:
    """Move the staged set into place; an old set is moved aside first and removed after,
    so at every moment `dest` is either the old set or the new one, whole."""
    old = None
    if dest.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old-", dir=dest.parent))
        dest.rename(old / dest.name)
    try:
        stage.rename(dest)
    except BaseException:
        if old is not None:
            (old / dest.name).rename(dest)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _forget_derived(cache_dir: Path, name: str) -> None:
    """A re-imported set invalidates what was computed from the old one: its cached
    evaluators and real-data floors."""
    # Exactly the names eval/evaluator.py (NAME-<10 hex>) and eval/evaluate.py (NAME-<12 hex>-nN-sS)
    # give them: a prefix match would also take another set's files ("fashion" vs "fashion-mnist").
    derived = re.compile(re.escape(name) + r"-(?:[0-9a-f]{10}|[0-9a-f]{12}-n\d+-s\d+)\.(?:json|safetensors)")
    for folder in (cache_dir / "evaluators", cache_dir / "real"):
        if folder.is_dir():
            for p in folder.iterdir():
                if derived.fullmatch(p.name):
                    p.unlink(missing_ok=True)


def describe(manifest: dict[str, Any], folder: Path) -> list[str]:
    """What `data import` prints: counts, classes, split, what evaluation it gets, the preview."""
    c, classes = manifest["count"], manifest["classes"]
    split = manifest["split"]
    how = ("the source's own split" if split["kind"] == "source" else
           f"a seeded holdout of {split['test_share']:.0%} as the test split (seed {split['seed']})")
    lines = [f"imported {manifest['name']}: {c['train']} train + {c['test']} test images from {manifest['source']} "
             f"({manifest['source_kind']}); {how}; into {folder}"]
    if manifest["labels"] == "clusters":
        lines.append(f"labels: {len(classes)} equal clusters of the train images, not the source's (k-means on "
                     f"{manifest['clusters']['dims']} principal components, seed {manifest['clusters']['seed']}): "
                     "train a conditional preset such as best on it, and sample without --digit for the set's mix")
    if classes:
        lines.append(f"classes ({len(classes)}): {', '.join(classes)}; evaluate its runs after "
                     f"`mnistgan evaluator build --dataset {manifest['name']}` (or it is built on first use)")
    else:
        lines.append("no labels: runs on it are scored with FID, KID, precision/recall and density/coverage on the "
                     "MNIST evaluator's features, memorisation in pixels and D's report; the classifier score, "
                     "class histogram and conditional models need labels")
    copies = manifest.get("test_copies_of_train", 0)
    if copies:
        lines.append(f"warning: {copies} of the {c['test']} test images are exact copies of training images; the "
                     "real floor and the memorisation check are then too optimistic")
    hint = small_set_hint(manifest["name"], c["train"])
    if hint:
        lines.append(hint)
    lines.append(f"check the converted images: {folder / manifest['preview']}")
    lines.append(f"train on it: mnistgan train --set data.name={manifest['name']}")
    return lines
