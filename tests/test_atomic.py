import pytest

from mnistgan.atomic import atomic_write, atomic_write_bytes


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"old")

    def failing(tmp):
        tmp.write_bytes(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        atomic_write(path, failing)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]


def test_atomic_write_replaces_and_is_readable_by_others(tmp_path):
    path = atomic_write_bytes(tmp_path / "f.bin", b"new")
    assert path.read_bytes() == b"new" and path.stat().st_mode & 0o777 == 0o644
