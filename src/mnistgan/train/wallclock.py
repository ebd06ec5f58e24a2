"""A run's wall time, split by what the training process was doing.

    start      from the process's start (`mnistgan train`: interpreter, imports) or the
               call of train() to the first step, but the data: models, optimizers, a
               resumed checkpoint, the run folder
    data       reading the training split and moving it to the device
    steps      training steps, and the bookkeeping between them
    epoch_end  epoch-end work on the training thread: health checks, the grid's samples,
               snapshots for the writer, and any wait for the writer (train/writer.py),
               the last drain included
    eval       the light evaluation (sampling and scoring)

One clock, switched between phases, so the parts add up to the session's wall time until
the split is taken (status.json's `wall_s` adds up sessions).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mnistgan.runtime import process_age

PHASES = ("start", "data", "steps", "epoch_end", "eval")
LABELS = {"start": "start", "data": "data", "steps": "steps", "epoch_end": "epoch ends", "eval": "evaluation"}


class WallClock:
    """Seconds per phase since `origin` (a time.monotonic() reading; by default, when
    this process started); time not in a named phase goes to the phase that was current
    (at first, "start")."""

    def __init__(self, origin: float | None = None) -> None:
        self.origin = time.monotonic() - process_age() if origin is None else origin
        self.seconds = dict.fromkeys(PHASES, 0.0)
        self.current, self.since = "start", self.origin

    def switch(self, phase: str) -> str:
        """Charge the time since the last switch to the current phase; make `phase`
        current. Returns the phase that was current."""
        now = time.monotonic()
        self.seconds[self.current] += now - self.since
        previous, self.current, self.since = self.current, phase, now
        return previous

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        previous = self.switch(name)
        try:
            yield
        finally:
            self.switch(previous)

    def split(self) -> dict[str, float]:
        """{"wall_s": total, phase: seconds, ...}, rounded to milliseconds."""
        self.switch(self.current)
        return {"wall_s": round(time.monotonic() - self.origin, 3)} | {k: round(v, 3) for k, v in self.seconds.items()}


def describe(split: dict[str, Any]) -> str:
    """One line: 'wall 31.2 s: start 2.1 s (7%), data 0.4 s (1%), steps 27.0 s (87%), ...'
    (what is not a number, as in a damaged status.json, is left out)."""
    number = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)  # noqa: E731
    total = float(split["wall_s"]) if number(split.get("wall_s")) else 0.0
    parts = [f"{LABELS[k]} {split[k]:.1f} s" + (f" ({split[k] / total:.0%})" if total > 0 else "")
             for k in PHASES if number(split.get(k))]
    return f"wall {total:.1f} s: " + ", ".join(parts)
