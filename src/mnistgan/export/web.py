"""A generator as one static web page that draws digits in the browser, with no server
at all: `mnistgan export RUN --format web --out DIR` writes DIR/index.html.

The page holds, base64-encoded, the generator as ONNX (export/onnx.py), onnxruntime-web's
single-file module build and its WebAssembly binary, so it opens from disk (file://,
where browsers refuse to fetch side files) and works offline. The noise is the page's
own: a seeded generator (mulberry32, then Box-Muller) in JavaScript, so a seed names the
same digits in every browser, though not the same as `mnistgan sample --seed` (torch's).

onnxruntime-web comes from npm: a tarball (`npm pack onnxruntime-web@VERSION`) or an
unpacked package given with --ort, else `npm pack` is run once and its two files are
kept in the cache.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import tarfile
import tempfile
from importlib import resources
from pathlib import Path

from mnistgan.atomic import atomic_write_bytes
from mnistgan.errors import ConfigError, first_line
from mnistgan.export.onnx import export_model

ORT_WEB_VERSION = "1.30.0"
# the module build with its WebAssembly glue inlined (no second script to fetch), and the binary
ORT_FILES = ("ort.wasm.bundle.min.mjs", "ort-wasm-simd-threaded.wasm")
MAX_ORT_BYTES = 64 << 20  # each file; the wasm is ~14 MB


def _from_tarball(path: Path) -> dict[str, bytes]:
    """The two files from an npm tarball, read by member name (nothing is extracted)."""
    files = {}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for name in ORT_FILES:
                member = tar.getmember(f"package/dist/{name}")
                if not member.isfile() or member.size > MAX_ORT_BYTES:
                    raise ConfigError(f"{path}: package/dist/{name} is not a regular file of at most 64 MB")
                files[name] = tar.extractfile(member).read()
    except KeyError as e:
        raise ConfigError(f"{path}: not an onnxruntime-web package (no {first_line(e)})") from None
    except (tarfile.TarError, OSError, EOFError) as e:
        raise ConfigError(f"{path}: not a readable npm tarball ({first_line(e)})") from None
    return files


def _from_folder(path: Path) -> dict[str, bytes] | None:
    """The two files from an unpacked package: the folder itself, dist/ or package/dist/."""
    for folder in (path, path / "dist", path / "package" / "dist"):
        if all((folder / name).is_file() for name in ORT_FILES):
            return {name: (folder / name).read_bytes() for name in ORT_FILES}
    return None


def _npm_pack(cache: Path) -> dict[str, bytes]:
    npm = shutil.which("npm")
    if npm is None:
        raise ConfigError(f"--format web needs onnxruntime-web from npm: install npm, or run `npm pack "
                          f"onnxruntime-web@{ORT_WEB_VERSION}` elsewhere and pass --ort THE.tgz")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            subprocess.run([npm, "pack", f"onnxruntime-web@{ORT_WEB_VERSION}"], cwd=tmp, check=True,
                           capture_output=True, text=True, timeout=600)
        except subprocess.CalledProcessError as e:
            raise ConfigError(f"npm pack onnxruntime-web@{ORT_WEB_VERSION} failed: {first_line(Exception(e.stderr))}") from None
        except subprocess.TimeoutExpired:
            raise ConfigError(f"npm pack onnxruntime-web@{ORT_WEB_VERSION} took more than 10 minutes") from None
        files = _from_tarball(next(Path(tmp).glob("onnxruntime-web-*.tgz")))
    for name, data in files.items():
        atomic_write_bytes(cache / name, data)
    return files


def ort_web_files(ort: Path | None, cache_dir: Path) -> dict[str, bytes]:
    """onnxruntime-web's two files: from `ort` (a tarball or an unpacked package), else the
    cache, else `npm pack` (then cached)."""
    if ort is not None:
        if ort.is_dir():
            found = _from_folder(ort)
            if found is None:
                raise ConfigError(f"{ort}: no {' and '.join(ORT_FILES)} in it, its dist/ or package/dist/")
            return found
        if not ort.is_file():
            raise ConfigError(f"--ort {ort}: no such file or folder")
        return _from_tarball(ort)
    cache = cache_dir / f"onnxruntime-web-{ORT_WEB_VERSION}"
    return _from_folder(cache) or _npm_pack(cache)


def page_html(model: bytes, metadata: dict[str, str], ort: dict[str, bytes]) -> str:
    template = resources.files("mnistgan.export").joinpath("web_page.html").read_text()
    b64 = {"__MODEL_B64__": model, "__ORT_B64__": ort[ORT_FILES[0]], "__WASM_B64__": ort[ORT_FILES[1]]}
    for key, data in b64.items():
        template = template.replace(key, base64.b64encode(data).decode("ascii"))  # no "<" in base64: safe in HTML
    meta = json.dumps(metadata).replace("<", "\\u003c")  # a preset name cannot end the script element
    return template.replace("__META_JSON__", meta).replace("__ORT_VERSION__", ORT_WEB_VERSION)


def export_web(source: Path, out_dir: Path, cache_dir: Path, ort: Path | None = None,
               last: bool = False) -> tuple[Path, float]:
    """Write out_dir/index.html: the generator of `source` in a page of its own."""
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"{out_dir}: a file; --format web writes a folder (index.html inside it)")
    files = ort_web_files(ort, cache_dir)  # first: a missing onnxruntime-web costs no export
    model, metadata, diff = export_model(source, last=last)
    return atomic_write_bytes(out_dir / "index.html", page_html(model, metadata, files).encode()), diff
