"""Stacked MNIST: three MNIST digits as the three channels of one 28x28 image, so 1000
modes (Metz et al. 2017; the protocol of VEEGAN, PacGAN and R3GAN).

Built deterministically from the verified base set (MNIST): per split, seeded triples of
that split's image indices. What is stored is the triples and their labels, not the
images: int32 [N, 3] and int16 [N] (the label d0*100 + d1*10 + d2 of the triple's digits),
1.8 MB for 128,000 images where the images themselves would be 301 MB. At load, the
triples gather the verified base images into uint8 [N, 3, 28, 28]. The files sit in
<cache_dir>/<name>/ beside manifest.json, which records the recipe (base set and its
file digests, seeds, sizes) and each file's sha256; the spec (data/spec.py) pins the same
digests, so a build that differs (another MNIST, another random stream) is refused.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import numpy as np
import torch

from mnistgan.atomic import atomic_write_bytes
from mnistgan.data.datasets import Split, find_file, read_verified
from mnistgan.data.idx import encode_idx
from mnistgan.data.spec import SPLITS, DatasetSpec
from mnistgan.errors import DataError

SEEDS = {"train": 0, "test": 1}  # the triples' draw, per split
MANIFEST = "manifest.json"


def draw_triples(n_base: int, n: int, seed: int) -> np.ndarray:
    """int32 [n, 3]: indices into a split of n_base images, drawn uniformly with a seeded
    CPU generator (the same on every machine)."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, n_base, (n, 3), generator=gen).numpy().astype(np.int32)


def triple_labels(base_labels: np.ndarray, triples: np.ndarray) -> np.ndarray:
    """int16 [n]: d0*100 + d1*10 + d2 for the digits of each triple's three images."""
    d = base_labels.astype(np.int64)[triples]  # [n, 3]
    return (d[:, 0] * 100 + d[:, 1] * 10 + d[:, 2]).astype(np.int16)


def stacked_arrays(spec: DatasetSpec, base_labels: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The spec's files by name, from the base set's labels per split."""
    arrays = {}
    for split in SPLITS:
        triples_spec, labels_spec = spec.files[split]
        triples = draw_triples(base_labels[split].shape[0], triples_spec.shape[0], SEEDS[split])
        arrays[triples_spec.name] = triples
        arrays[labels_spec.name] = triple_labels(base_labels[split], triples)  # type: ignore[union-attr]
    return arrays


def build(spec: DatasetSpec, base: dict[str, Split], base_sums: dict[str, str], dest: Path) -> dict:
    """Write the set's files and manifest.json into `dest` from the verified base splits;
    every file is checked against the spec's digests (when it pins them) before any is
    written. Returns the manifest."""
    arrays = stacked_arrays(spec, {split: base[split].labels.numpy() for split in SPLITS})
    encoded = {name: encode_idx(arr) for name, arr in arrays.items()}
    sums = {name: hashlib.sha256(raw).hexdigest() for name, raw in encoded.items()}
    for f in spec.all_files():
        if f.sha256 and sums[f.name] != f.sha256:
            raise DataError(f"{spec.name}: the built {f.name} does not match its pinned sha256 ({sums[f.name][:16]}..., "
                            f"expected {f.sha256[:16]}...); nothing was written")
    dest.mkdir(parents=True, exist_ok=True)
    for name, raw in encoded.items():
        atomic_write_bytes(dest / name, gzip.compress(raw, mtime=0))
    manifest = {"name": spec.name, "base": spec.base, "base_sha256": base_sums, "seeds": SEEDS, "channels": 3,
                "splits": {split: {"triples": spec.files[split][0].name, "labels": spec.files[split][1].name,  # type: ignore[union-attr]
                                   "count": spec.files[split][0].shape[0]} for split in SPLITS},
                "files": {name: {"sha256": sums[name], "shape": list(arrays[name].shape), "dtype": str(arrays[name].dtype)}
                          for name in encoded}}
    atomic_write_bytes(dest / MANIFEST, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())
    return manifest


def verified(folder: Path, spec: DatasetSpec) -> bool:
    """Whether `folder` holds every file of the set, each matching the spec."""
    try:
        for f in spec.all_files():
            path = find_file(folder, f)
            if path is None:
                return False
            read_verified(path, f)
    except DataError:
        return False
    return True


def read_stacked(folder: Path, spec: DatasetSpec, split: str, base: Split) -> Split:
    """One split, materialised: the verified triples gather `base`'s images (the same
    split of the base set) into uint8 [N, 3, 28, 28]; the stored labels are checked
    against the base labels."""
    triples_spec, labels_spec = spec.files[split]
    paths = [find_file(folder, f) for f in (triples_spec, labels_spec)]
    if None in paths:
        raise DataError(f"{folder}: missing {triples_spec.name} or {labels_spec.name}; build it with: "  # type: ignore[union-attr]
                        f"mnistgan data fetch {spec.name}")
    triples = read_verified(paths[0], triples_spec).astype(np.int64)  # type: ignore[arg-type]
    labels = read_verified(paths[1], labels_spec)  # type: ignore[arg-type,union-attr]
    n_base = base.images.shape[0]
    if triples.min() < 0 or triples.max() >= n_base:
        raise DataError(f"{paths[0]}: indices outside the {n_base} images of {spec.base} {split}")
    if not np.array_equal(labels, triple_labels(base.labels.numpy(), triples)):
        raise DataError(f"{paths[1]}: labels do not match the digits of {spec.base} {split} (another {spec.base}?)")
    index = torch.from_numpy(triples)
    return Split(base.images[index], torch.from_numpy(labels.astype(np.int64)), folder)  # [N, 3, 28, 28]
