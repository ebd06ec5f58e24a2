"""Atomic file writes: a reader sees the old file or the new one, never half of one.

Every file mnistgan writes goes through `atomic_write_bytes`: the bytes go to a hidden
temp file in the target's folder (`.NAME.XXXX.tmp`), are fsynced, then renamed over the
target. An OSError (full disk, read-only folder, file-size limit) names the target, and
leaves the old file and no temp file behind. A process killed mid-write can leave a temp
file; `clean_temp` removes those.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

TEMP_SUFFIX = ".tmp"
_CHUNK = 1 << 20
# Test hook: seconds to sleep after each chunk, to widen the window in which a kill
# lands inside a write (tests/faults). Always 0 in use.
write_delay = 0.0


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """Write `data` to a temp file beside `path`, fsync it, then rename it over `path`."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    except OSError as e:
        raise _named(e, path) from None
    tmp = Path(name)
    try:
        try:
            _write_all(fd, data, path)
            os.fchmod(fd, 0o644)  # mkstemp makes 0600; saved runs and data are meant to be shared
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise _named(e, path) from None
        raise
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # make the rename itself durable
        finally:
            os.close(dir_fd)
    except OSError:
        pass  # the file is in place; some file systems cannot fsync a folder
    return path


def append_line(path: Path, line: str) -> None:
    """Append one line (one write for any line mnistgan logs): a crash leaves at worst a
    torn last line, which readers skip and a resume removes."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            _write_all(fd, (line + "\n").encode(), path)
        finally:
            os.close(fd)
    except OSError as e:
        raise _named(e, path) from None


def _write_all(fd: int, data: bytes, path: Path) -> None:
    """Every byte of `data` to `fd`, in chunks (`path` is the file the bytes are for: the
    fault-injection tests fail the writes of chosen files here)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view[:_CHUNK]) :]
        if write_delay:
            time.sleep(write_delay)


def clean_temp(folder: Path) -> list[Path]:
    """Remove the temp files that killed writes left in `folder` (not in subfolders)."""
    removed = []
    for tmp in Path(folder).glob(f".*{TEMP_SUFFIX}"):
        if tmp.is_file():
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def _named(e: OSError, path: Path) -> OSError:
    """The same error, naming the file the user asked for rather than a temp file."""
    return type(e)(e.errno, e.strerror, str(path)) if e.errno else e
