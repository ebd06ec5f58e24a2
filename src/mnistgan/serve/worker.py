"""Model work off the event loop: one thread, a bounded queue.

The event loop only parses requests and awaits results, so it keeps answering (health
checks, static files, errors) while a model runs. One worker thread runs every torch
call in turn with a fixed number of intra-op threads (default 1): on this project's
2-core machine, the worker's torch thread and the event loop then use a core each,
instead of torch's default one-thread-per-core fighting the loop. A full queue is
refused at once (503), rather than letting latency grow without bound.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import torch

T = TypeVar("T")
MAX_QUEUE = 64  # waiting jobs; at ~2 ms each, a full queue is ~0.1 s of work


class Busy(Exception):
    """The queue is full: the client should try again shortly."""


class Worker:
    def __init__(self, threads: int = 1, max_queue: int = MAX_QUEUE) -> None:
        self.threads = threads
        self._jobs: queue.Queue[tuple[Callable[[], Any], concurrent.futures.Future] | None] = queue.Queue(max_queue)
        self._thread = threading.Thread(target=self._loop, name="mnistgan-inference", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        torch.set_num_threads(self.threads)  # torch's intra-op pool is per process; set from the thread that uses it
        while (job := self._jobs.get()) is not None:
            fn, future = job
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn())
                except BaseException as e:  # handed to the awaiting request, which turns it into a reply
                    future.set_exception(e)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """fn(*args) in the worker thread; raises Busy at once when the queue is full."""
        future: concurrent.futures.Future = concurrent.futures.Future()
        try:
            self._jobs.put_nowait((lambda: fn(*args), future))
        except queue.Full:
            raise Busy(f"the server is busy ({self._jobs.maxsize} requests waiting); try again") from None
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        self._jobs.put(None)
        self._thread.join(timeout=5)
