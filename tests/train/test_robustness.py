"""The default training over several seeds (slow: about 4 CPU-minutes a seed).

What a user relies on: `mnistgan train` with its defaults ends with a usable generator,
whatever path the chaotic run takes. Either the final samples are healthy, or the tool
said what went wrong and kept the best generator, which is.
"""

from __future__ import annotations

import statistics

import pytest
import torch

from mnistgan.config import load_config
from mnistgan.data.sources import Sources
from mnistgan.sample import load_generator
from mnistgan.train.loop import train
from mnistgan.runfolder import read_best, read_metrics

from ..conftest import SHARED_MNIST


@pytest.mark.slow
@pytest.mark.skipif(not SHARED_MNIST.is_dir(), reason="needs ../shared/datasets/mnist")
def test_default_training_over_three_seeds_keeps_a_good_generator(tmp_path):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        runs = {}
        for seed in (0, 1, 2):
            run = tmp_path / f"s{seed}"
            run.mkdir()
            cfg = load_config("classic", overrides=[f"train.seed={seed}"])
            train(cfg, run, sources=Sources(data_dir=SHARED_MNIST, cache_dir=tmp_path / "cache", download=False))
            runs[seed] = run
    finally:
        torch.set_num_threads(threads)
    bests = {s: read_best(r) for s, r in runs.items()}
    median = statistics.median(b["fid_lenet"] for b in bests.values())
    for seed, run in runs.items():
        rows = read_metrics(run)
        evals = {r["epoch"]: r["eval"] for r in rows if "eval" in r}
        best = bests[seed]
        assert best["fid_lenet"] <= 1.5 * median, f"seed {seed}: best FID {best['fid_lenet']} vs median {median}"
        assert evals[best["epoch"]]["classes_covered"] >= 9, f"seed {seed}: best generator misses classes"
        final = evals[max(evals)]
        healthy = final["fid_lenet"] <= 1.5 * median and final["classes_covered"] >= 9
        warned = any("event" in r and r["event"] != "recovered" for r in rows)
        assert healthy or warned, f"seed {seed}: final generator is poor and no health event said so"
        assert load_generator(run).sample(4).shape == (4, 1, 28, 28)  # the run folder serves the best one
