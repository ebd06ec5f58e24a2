"""Errors a user can act on. The CLI prints them as one line, without a traceback."""


class MnistganError(Exception):
    """Base class: the message names the file or option and the problem."""


class DataError(MnistganError):
    """A dataset file is missing, corrupt, or fails verification."""


class ConfigError(MnistganError):
    """An unknown key, a wrong type, or a bad value in the configuration."""


class CheckpointError(MnistganError):
    """A checkpoint or weights file is missing, corrupt, tampered with, or incompatible."""


class TrainingStopped(MnistganError):
    """The health monitor stopped a run: it diverged, or a failure with train.on_failure "stop"."""
