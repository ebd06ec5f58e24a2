import gzip
import struct

import numpy as np
import pytest

from mnistgan.data.idx import encode_idx, read_idx, write_idx
from mnistgan.errors import DataError


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_roundtrip(tmp_path, dtype, suffix):
    arr = (np.arange(2 * 3 * 4) - 5).astype(dtype).reshape(2, 3, 4)
    path = tmp_path / f"a.idx{suffix}"
    write_idx(path, arr)
    back = read_idx(path)
    assert back.dtype == arr.dtype and back.shape == arr.shape
    np.testing.assert_array_equal(back, arr)


def test_header_is_big_endian_mnist_layout():
    raw = encode_idx(np.zeros((3, 28, 28), np.uint8))
    assert raw[:4] == b"\x00\x00\x08\x03"
    assert struct.unpack(">3I", raw[4:16]) == (3, 28, 28)


def _err(path) -> str:
    with pytest.raises(DataError) as e:
        read_idx(path)
    msg = str(e.value)
    assert str(path) in msg and "\n" not in msg
    return msg


def test_wrong_magic(tmp_path):
    path = tmp_path / "bad"
    path.write_bytes(b"\x12\x34\x08\x01" + b"\x00" * 8)
    assert "magic" in _err(path)


def test_truncated(tmp_path):
    path = tmp_path / "trunc"
    path.write_bytes(encode_idx(np.zeros((10, 28, 28), np.uint8))[:-100])
    assert "truncated" in _err(path)


def test_trailing_bytes(tmp_path):
    path = tmp_path / "long"
    path.write_bytes(encode_idx(np.zeros((2, 2), np.uint8)) + b"xx")
    assert "trailing" in _err(path)


def test_truncated_header(tmp_path):
    path = tmp_path / "hdr"
    path.write_bytes(b"\x00\x00\x08\x03\x00\x00")
    assert "header" in _err(path)


def test_corrupt_gzip(tmp_path):
    path = tmp_path / "x.gz"
    good = gzip.compress(encode_idx(np.zeros((100, 28, 28), np.uint8)))
    path.write_bytes(good[: len(good) // 2])
    assert "gzip" in _err(path)
    path.write_bytes(b"not gzip at all")
    assert "gzip" in _err(path)


def test_missing_file(tmp_path):
    assert "cannot read" in _err(tmp_path / "nope.gz")
