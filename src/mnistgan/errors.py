"""Errors a user can act on. The CLI prints them as one line, without a traceback."""

import errno


def first_line(e: BaseException, limit: int = 160) -> str:
    """An exception's first line, shortened: library errors can span pages."""
    text = str(e).strip()
    return text.splitlines()[0][:limit] if text else type(e).__name__


class MnistganError(Exception):
    """Base class: the message names the file or option and the problem."""


class DataError(MnistganError):
    """A dataset file is missing, corrupt, or fails verification."""


class ConfigError(MnistganError):
    """An unknown key, a wrong type, or a bad value in the configuration."""


class CheckpointError(MnistganError):
    """A checkpoint or weights file is missing, corrupt, tampered with, or incompatible."""


class FileSystemError(MnistganError):
    """A file could not be written or read (full disk, read-only folder, ...); the message
    says which, in plain words, and what is still intact."""


class TrainingStopped(MnistganError):
    """The health monitor stopped a run: it diverged, or a failure with train.on_failure "stop"."""


_PLAIN = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "the disk quota is exhausted",
    errno.EFBIG: "the file is larger than the file-size limit allows",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EIO: "input/output error (the disk or the network file system failed)",
    errno.EISDIR: "a folder is there, where a file is expected",
    errno.ENOTDIR: "a file is there, where a folder is expected",
    errno.ENOTEMPTY: "a folder is there, where a file is expected",
    errno.EEXIST: "a file is already there, where a folder is expected",
    errno.ENOENT: "no such file or folder",
    errno.ENAMETOOLONG: "the name is too long",
    errno.EMFILE: "too many open files",
}


def plain_os_error(e: OSError) -> str:
    """`path: what happened`, in plain words, for one line."""
    what = _PLAIN.get(e.errno or 0) or (e.strerror or str(e)).lower()
    return f"{e.filename}: {what}" if e.filename else what
