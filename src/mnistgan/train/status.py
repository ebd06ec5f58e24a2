"""status.json in a run folder: whether the run is running, finished, stopped or
interrupted, for `mnistgan runs` (and anyone looking at the folder).

    {"state": "running", "pid": 1234, "host": "box", "started": 1764284000.0, "wall_s": 0.0}
    {"state": "finished", "reason": "epochs" | "budget", "ended": ..., "wall_s": 131.9,
     "split": {"wall_s": 42.0, "start": 2.1, "data": 0.4, "steps": 36.2, "epoch_end": 0.9, "eval": 2.4}, ...}
    {"state": "stopped" | "interrupted" | "failed", "message": "...", ...}

`wall_s` adds up the wall-clock time of every session of the run (resumes included);
`split` is the last session's, from its process start, by phase (train/wallclock.py). A
process killed with SIGKILL cannot write its end: the file still says "running", and
the runs table checks whether that pid is still alive on this host.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mnistgan.atomic import atomic_write_bytes
from mnistgan.errors import TrainingStopped, first_line
from mnistgan.runfolder import read_json

STATUS = "status.json"


def read_status(run_dir: Path) -> dict[str, Any] | None:
    """The run's status.json, or None if it has none or it is unreadable."""
    status = read_json(run_dir / STATUS)
    return status if status is not None and isinstance(status.get("state"), str) else None


def _write(run_dir: Path, status: dict[str, Any]) -> None:
    atomic_write_bytes(run_dir / STATUS, (json.dumps(status) + "\n").encode())


@contextmanager
def recorded(run_dir: Path, finished_reason: Callable[[], str], enabled: bool = True,
             split: Callable[[], dict[str, float]] | None = None) -> Iterator[None]:
    """Mark the run as running for the duration of the block, then record how it ended
    (with the session's wall-clock split, when `split` gives it). `finished_reason()`
    says why a block that returned normally ended ("epochs" or "budget"). The end is
    recorded on a best-effort basis: a full disk must not hide the error that ended the run."""
    if not enabled:
        yield
        return
    before = read_status(run_dir) or {}
    prior = float(before.get("wall_s", 0.0)) if isinstance(before.get("wall_s"), (int, float)) else 0.0
    start = time.time()
    base = {"pid": os.getpid(), "host": socket.gethostname(), "started": start}
    _write(run_dir, {"state": "running", **base, "wall_s": prior})
    end: dict[str, Any]
    try:
        yield
        end = {"state": "finished", "reason": finished_reason()}
    except TrainingStopped as e:
        end = {"state": "stopped", "message": str(e)}
        raise
    except KeyboardInterrupt as e:  # SIGINT, and SIGTERM through train.stop
        end = {"state": "interrupted", "message": type(e).__name__}
        raise
    except BaseException as e:
        end = {"state": "failed", "message": first_line(e, 200)}
        raise
    finally:
        try:
            extra = {"split": split()} if split else {}
            _write(run_dir, {**end, **base, "ended": time.time(), "wall_s": round(prior + time.time() - start, 3),
                             **extra})
        except OSError:
            pass
