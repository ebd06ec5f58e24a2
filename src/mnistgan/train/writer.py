"""The background writer: a run's files are written off the training path.

The training thread hands the writer jobs (write this grid, these weights, this state,
this metrics line), each over CPU copies made before the next step can change them
(`snapshot`), and goes on training. One thread runs the jobs in the order given, so the
rule of the loop holds on disk: an epoch's grid, weights and lines are written before
its checkpoint, and an epoch counts once its state is on disk. Every write is atomic
(mnistgan.atomic), as before.

The queue is bounded: a training thread that outruns the disk waits for it, and that
wait is counted as epoch-end work in the run's wall-clock split. The first failed job
(a full disk, say) stops the writer: later jobs are dropped, so nothing is written after
a file that failed, and the error is raised in the training thread at the next epoch
end (`check`), or when the writer is drained (`flush`, `close`), as the same one-line
error a synchronous write gave.

    with Writer() as writer:
        writer.submit(lambda: save_png(path, grid))
        writer.check()   # at an epoch end: raises the first failure, if any
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

import torch

Job = Callable[[], object]
DEPTH = 16  # jobs waiting at most: an epoch end queues about 5, and a log line 1


def snapshot(obj: Any) -> Any:
    """A copy of a tree of dicts, lists and tuples whose tensors are CPU copies, made
    now: the training thread may change the originals once this returns. GPU tensors are
    copied without a sync each, then waited for once."""
    on_gpu: list[torch.device] = []

    def copy(x: Any) -> Any:
        if isinstance(x, torch.Tensor):
            if x.device.type == "cpu":
                return x.detach().clone()
            on_gpu.append(x.device)
            return x.detach().to("cpu", non_blocking=True)
        if isinstance(x, dict):
            return {k: copy(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return type(x)(copy(v) for v in x)
        return x

    out = copy(obj)
    for device in set(on_gpu):
        torch.cuda.current_stream(device).synchronize()
    return out


class Writer:
    """Runs write jobs on one background thread, in order; `inline=True` runs each job
    in submit() instead (the synchronous writes of earlier versions, for comparison).
    `waiting()` is entered while the training thread waits on the writer."""

    def __init__(self, depth: int = DEPTH, inline: bool = False,
                 waiting: Callable[[], AbstractContextManager[Any]] = nullcontext) -> None:
        self.inline, self.waiting = inline, waiting
        self.error: BaseException | None = None
        self.jobs: queue.Queue[Job | None] = queue.Queue(maxsize=depth)
        self.thread: threading.Thread | None = None
        if not inline:
            self.thread = threading.Thread(target=self._run, name="mnistgan-writer", daemon=True)
            self.thread.start()

    def _run(self) -> None:
        while True:
            job = self.jobs.get()
            try:
                if job is None:
                    return
                if self.error is None:  # after a failure, nothing more is written
                    job()
            except BaseException as e:  # noqa: BLE001 (raised in the training thread by check())
                self.error = e
            finally:
                self.jobs.task_done()

    def submit(self, job: Job) -> None:
        """Queue `job` (its data must be snapshots); waits while the queue is full."""
        if self.inline:
            with self.waiting():
                if self.error is None:
                    try:
                        job()
                    except BaseException as e:  # surfaces at check(), like a background failure
                        self.error = e
            return
        try:
            self.jobs.put_nowait(job)
        except queue.Full:
            with self.waiting():
                self.jobs.put(job)

    def check(self) -> None:
        """Raise the first failure of a job, if one failed."""
        if self.error is not None:
            raise self.error

    def flush(self) -> None:
        """Wait until every queued job has run, then check()."""
        if not self.inline:
            with self.waiting():
                self.jobs.join()
        self.check()

    def close(self) -> None:
        """Run what is queued and end the thread; raises a failure that check() has not."""
        if self.thread is not None and self.thread.is_alive():
            with self.waiting():
                self.jobs.put(None)
                self.thread.join()
        self.check()


@contextmanager
def writing(writer: Writer) -> Iterator[Writer]:
    """Use `writer` inside; on the way out (also on an error or a signal) its queue is
    drained. A failure of a write is raised unless another error is already on its way
    out (that one is the run's error; the files are atomic either way)."""
    try:
        yield writer
    except BaseException:
        try:
            writer.close()
        except Exception:  # noqa: BLE001 (the error already raised wins)
            pass
        raise
    writer.close()
