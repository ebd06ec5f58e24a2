import errno

import pytest

from mnistgan import atomic
from mnistgan.atomic import append_line, atomic_write_bytes, clean_temp


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    path = tmp_path / "f.bin"
    path.write_bytes(b"old")

    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "write", full)
    with pytest.raises(OSError) as e:
        atomic_write_bytes(path, b"new")
    assert e.value.errno == errno.ENOSPC and e.value.filename == str(path)  # names the target, not the temp
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]


def test_atomic_write_replaces_and_is_readable_by_others(tmp_path):
    path = atomic_write_bytes(tmp_path / "f.bin", b"new")
    assert path.read_bytes() == b"new" and path.stat().st_mode & 0o777 == 0o644


def test_append_line_and_clean_temp(tmp_path):
    append_line(tmp_path / "log", "a")
    append_line(tmp_path / "log", "b")
    assert (tmp_path / "log").read_text() == "a\nb\n"
    (tmp_path / ".f.bin.x1y2.tmp").write_bytes(b"half")
    (tmp_path / "keep.tmp").write_bytes(b"not ours: not hidden")
    assert [p.name for p in clean_temp(tmp_path)] == [".f.bin.x1y2.tmp"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.tmp", "log"]
