"""Shared by the fault tests: the short training they break, and the check that a run
folder holds nothing damaged."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import torch
from PIL import Image

from mnistgan.atomic import TEMP_SUFFIX
from mnistgan.config import read_config
from mnistgan.io import state as checkpoint
from mnistgan.io.weights import load_generator_file

ROOT = Path(__file__).resolve().parents[2]
# 200 images / batch 10 = 20 steps per epoch; a small model, so a run takes about a second.
# Every epoch's files (a set this small would have them every 300th epoch).
SETTINGS = ["data.name='tiny'", "train.batch_size=10", "train.log_every=7", "train.grid_size=16",
            "train.grid_every=1", "model.hidden=32", "model.z_dim=16", "eval.every=0", "train.checkpoint_every_s=0"]


def train_args(data: Path, epochs: int, *extra: str) -> list[str]:
    return ["train", "--data-dir", str(data), "--no-download", "--threads", "1",
            *[x for s in [*SETTINGS, f"train.epochs={epochs}", *extra] for x in ("--set", s)]]


def check_run_folder(run: Path) -> list[Path]:
    """Every file in `run` loads (a torn last metrics line aside); returns the temp files,
    which are the only other thing allowed."""
    temps = []
    for path in sorted(p for p in run.rglob("*") if p.is_file()):
        if path.name.startswith(".") and path.name.endswith(TEMP_SUFFIX):
            temps.append(path)
        elif path.suffix == ".pt":
            checkpoint.load_state(path)
        elif path.suffix == ".safetensors":
            load_generator_file(path)
        elif path.suffix == ".png":
            with Image.open(path) as im:
                im.load()
        elif path.name == "config.json":
            read_config(path)
        elif path.name == "metrics.jsonl":
            lines = path.read_text().splitlines(keepends=True)
            for line in lines[:-1]:
                json.loads(line)
        elif path.name == "status.json":
            json.loads(path.read_text())
        elif path.name == "MODEL_CARD.md":
            path.read_text()
        elif path.name != "best.json":
            raise AssertionError(f"unexpected file {path}")
    return temps


def same_weights(a: Path, b: Path) -> None:
    """Two training-state files hold the same G, D and Adam states, bitwise."""
    sa, sb = checkpoint.load_state(a), checkpoint.load_state(b)
    assert (sa["epoch"], sa["step"]) == (sb["epoch"], sb["step"])
    for key in ("G", "D"):
        for name in sa[key]:
            assert torch.equal(sa[key][name], sb[key][name]), f"{key}.{name} differs"
    for key in ("opt_g", "opt_d"):
        for i, st in sa[key]["state"].items():
            for name, t in st.items():
                assert torch.equal(t, sb[key]["state"][i][name]), f"{key}[{i}].{name} differs"


class Zygote:
    """Client of tests/faults/zygote.py: forks real mnistgan processes on request."""

    def __init__(self, data: Path) -> None:
        env = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PATH": "/usr/bin:/bin",
               "XDG_CACHE_HOME": str(data / "cache")}
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.faults.zygote", str(data)], cwd=ROOT, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def _ask(self, request: dict) -> dict:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, "the zygote died"
        return json.loads(line)

    def spawn(self, args: list[str], out: Path, delay: float = 0.0, fsize: int | None = None) -> int:
        return self._ask({"run": args, "out": str(out), "delay": delay, "fsize": fsize})["pid"]

    def wait(self, pid: int, timeout: float = 60) -> int:
        status = self._ask({"wait": pid, "timeout": timeout})["status"]
        assert status != "timeout", f"process {pid} did not finish in {timeout} s"
        return status

    def run(self, args: list[str], out: Path, **kw) -> int:
        return self.wait(self.spawn(args, out, **kw))

    def close(self) -> None:
        assert self.proc.stdin
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
