"""A process that imports mnistgan once, then forks a real `mnistgan` process per job, so the
fault tests can kill many trainings without paying for a Python and torch start each time.

    python -m tests.faults.zygote DATA_DIR     (DATA_DIR holds the tiny dataset)

One JSON request per stdin line, one JSON answer per stdout line:
    {"run": [cli args], "out": path, "delay": s, "fsize": bytes}  ->  {"pid": pid}
    {"wait": pid, "timeout": s}                                   ->  {"status": exit code, or -signal}
Nothing runs torch before forking, so the children start with no thread pools to inherit.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
import time
from pathlib import Path

import PIL.PngImagePlugin  # noqa: F401  (imported before forking, as below)
import torch._dynamo  # noqa: F401  (Adam imports it lazily: 1.5 s a child would pay)

import mnistgan.atomic
import mnistgan.cli
import mnistgan.train.loop  # noqa: F401  (imported before forking)
from mnistgan.data import datasets
from mnistgan.data.datasets import DatasetSpec, FileSpec
from mnistgan.data.idx import read_bytes, parse_idx


def tiny_spec(folder: Path) -> DatasetSpec:
    """The spec of the tiny dataset that tests/conftest.py's write_tiny wrote in `folder`."""
    import hashlib

    files = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        pair = []
        for kind in ("images-idx3", "labels-idx1"):
            name = f"{prefix}-{kind}-ubyte.gz"
            raw = read_bytes(folder / name)
            pair.append(FileSpec(name, hashlib.sha256(raw).hexdigest(), parse_idx(raw).shape))
        files[split] = (pair[0], pair[1])
    return DatasetSpec(name="tiny", files=files, mirrors=(), system_dirs=(), classes=tuple("0123456789"))


def run_child(job: dict) -> None:
    """In the forked child: become `mnistgan ARGS` with output to job["out"]; never returns."""
    code = 70
    try:
        fd = os.open(job["out"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        sys.stdout = os.fdopen(1, "w", buffering=1)
        sys.stderr = os.fdopen(2, "w", buffering=1)
        mnistgan.atomic.write_delay = job.get("delay", 0.0)
        if job.get("fsize"):
            resource.setrlimit(resource.RLIMIT_FSIZE, (job["fsize"], job["fsize"]))
        code = mnistgan.cli.main(job["run"])
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def main() -> None:
    datasets.DATASETS["tiny"] = tiny_spec(Path(sys.argv[1]))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the test signals children, never this process
    for line in sys.stdin:
        req = json.loads(line)
        if "run" in req:
            pid = os.fork()
            if pid == 0:
                signal.signal(signal.SIGINT, signal.default_int_handler)
                run_child(req)
            answer = {"pid": pid}
        else:
            pid, deadline = req["wait"], time.monotonic() + req.get("timeout", 60)
            while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
                time.sleep(0.01)
            if done[0] == 0:
                os.kill(pid, signal.SIGKILL)
                done = os.waitpid(pid, 0)
                answer = {"status": "timeout"}
            else:
                answer = {"status": os.waitstatus_to_exitcode(done[1])}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
