"""Model work runs in one thread behind a bounded queue: a full queue is refused at once,
and the event loop keeps answering while the worker is busy."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
import torch

from mnistgan.serve.worker import Busy, Worker


def test_a_full_queue_is_refused_and_the_loop_stays_free():
    worker = Worker(threads=1, max_queue=2)
    release = threading.Event()

    async def scenario():
        first = asyncio.ensure_future(worker.run(release.wait))  # occupies the worker
        await asyncio.sleep(0.05)
        queued = [asyncio.ensure_future(worker.run(lambda i=i: i)) for i in range(2)]
        await asyncio.sleep(0.05)
        with pytest.raises(Busy, match="busy"):
            await worker.run(lambda: 0)
        t = time.perf_counter()
        await asyncio.sleep(0.01)  # the loop is not blocked by the running job
        assert time.perf_counter() - t < 0.5
        release.set()
        assert await first is True and [await q for q in queued] == [0, 1]
        with pytest.raises(ZeroDivisionError):  # a job's error reaches the awaiting request
            await worker.run(lambda: 1 / 0)
        return await worker.run(torch.get_num_threads)

    assert asyncio.run(scenario()) == 1  # the worker's torch threads, not one per core
    worker.close()
