"""Reading files mnistgan wrote, with one-line errors for the ways they can be bad."""

from __future__ import annotations

from pathlib import Path

from mnistgan.errors import CheckpointError

# No file mnistgan writes comes near this, even at the config's size limits (2.4 GB of state).
MAX_FILE_BYTES = 4 << 30


def read_file(path: Path, what: str) -> bytes:
    """The whole file, with one-line errors for the ways it can be missing or unreadable."""
    if path.is_dir():
        raise CheckpointError(f"{path}: a folder, not a {what}")
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise CheckpointError(f"{path}: {size} bytes, more than any {what} mnistgan writes "
                                  f"({MAX_FILE_BYTES} at most)")
        return path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such {what}") from None


def sniff(data: bytes) -> str:
    """What a file that is not the expected kind seems to be, for the error message."""
    if data.startswith(b"\x89PNG"):
        return "a PNG image"
    if data[:1] == b"\x80":
        return "a bare pickle, which mnistgan never writes and will not unpickle"
    if len(data) > 10 and data[8:10] == b'{"':
        return "a safetensors weights file (use it with sample or evaluate)"
    return "not a zip archive" if data else "an empty file"
