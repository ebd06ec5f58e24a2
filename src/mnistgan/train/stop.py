"""Stopping a run on SIGINT or SIGTERM without losing its progress.

While the loop is stepping, a signal only sets a flag: after the current step (or call of
k steps) the loop saves a mid-epoch checkpoint and raises `Stopped`. Anywhere else
(loading data, the epoch-end work) the signal raises `Stopped` at once. Either way the
run's background writer (train/writer.py) is drained before the process exits, so what
was queued, the state named in the message included, is on disk; writes are atomic, so
the newest complete checkpoint stands. A second signal always stops at once.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Stopped(KeyboardInterrupt):
    """A run (or any command) stopped by a signal: a KeyboardInterrupt, so no `except
    Exception` swallows it."""

    def __init__(self, signum: int, saved: str | None = None) -> None:
        super().__init__(signum)
        self.signum, self.saved = signum, saved

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name


class StopRequest:
    """The flag the handler sets; the loop checks it after every step."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.deferring = False

    def handle(self, signum: int, frame: Any) -> None:
        if self.deferring and self.signum is None:
            self.signum = signum
            return
        raise Stopped(signum)

    @contextmanager
    def installed(self) -> Iterator[StopRequest]:
        """Handle SIGINT and SIGTERM while inside (main thread only; elsewhere a no-op)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {s: signal.signal(s, self.handle) for s in SIGNALS}
        try:
            yield self
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """Inside, a first signal waits for the loop to check `signum`."""
        self.deferring = True
        try:
            yield
        finally:
            self.deferring = False
