"""Every preset trains as it did before the refactors that could have moved it, on every CPU.

Two checks, since float results depend on the CPU:

- **Bitwise, on the machine the digests were made on.** pinned.json holds sha256 digests of
  every network after a tiny 3-epoch run, per CPU fingerprint: torch's kernel level, native
  bf16, and a digest of every feature flag and cache size torch reports (`cpu_kind`). Each
  preset at its own precision (train.precision=auto: bf16 where native), at 2 threads. The
  fingerprint is that fine because a coarser one failed: a 2-core Intel Xeon with AMX and
  AVX10.1 (L2 2 MiB per core) trained every preset to other bits than the Sapphire Rapids
  whose kind ("AVX512+AMX") it shared, with its fp32 weights 2.5e-8 away. The entries here
  are that machine's (made 2026-12-01, before rpgan-cond-lr4e-4 existed), a Zen 4 EPYC's
  (AVX512+AVX512_BF16, every preset before rpgan-cond-concat, 2026-12-04) and a Zen 5 EPYC's
  (AVX512+AVX512_BF16, every preset before rpgan-cond-d16 but rpgan-cond-quick, which took mode
  seeking after it, 2026-12-05) and a Zen 3 EPYC's (AVX2, no native bf16, every preset, 2026-12-06);
  older ones are in pinned.json's history up to commit d4cb8cc. On another machine
  `python -m tests.train.test_pinned` prints its entry.
- **Within a tolerance, everywhere.** The same runs in fp32, compared with 256 weights of
  each network sampled from a reference run (pinned.json "fp32"). Measured on the Zen 4
  EPYC: forcing AVX2 kernels (ATEN_CPU_CAPABILITY=avx2, ONEDNN_MAX_CPU_ISA=AVX2,
  MKL_ENABLE_INSTRUCTIONS=AVX2) moved the weights by at most 2.2e-8 (relative L2), and 1
  or 2 threads by at most 3.1e-8; a 1% change of G's learning rate alone moved them by
  2.0e-6 (dcgan-cond's D, through G) to 9.7e-4 (classic's G). So TOLERANCE = 1e-6 passes
  every CPU and still catches such a change (a test below shows it). bf16 is left to the
  bitwise check: its rounding moved the weights by up to 6.4e-4 between kinds, as much as
  that learning-rate change. One weight is left out: D's last bias under rpgan (SHIFT_FREE).
  A real AVX2-only CPU moved four presets further than forcing AVX2 did: on a 2-core AMD EPYC
  (Zen 3, 2026-12-06) eleven presets stayed within 1.4e-7, but rpgan-cond-lr4e-4 (G 6.1e-6),
  rpgan-cond-concat (G 2.3e-5), rpgan-cond-head (D 3.8e-6) and rpgan-cond-head512 (G 6.1e-4) did
  not: rounding grown over 3 epochs at their higher learning rates. Those four get a looser
  tolerance (WIDER), 4x the largest distance seen; it still catches a broken network or
  config (distances of order 1), and the bitwise check pins them exactly on that EPYC too.
  rpgan-cond-d16's fp32 reference is that Zen 3's, not yet run on another CPU; its rounding grows
  as rpgan-cond-fast's does (torch's scalar kernels, ATEN_CPU_CAPABILITY=default, moved its G 4.0e-3
  from it there, rpgan-cond-fast's 4.8e-3 from the Zen 5's reference), and rpgan-cond-fast's AVX2
  run is 1.3e-7 from that reference. rpgan-cond-quick's reference (D at 16 for 8 epochs, with mode
  seeking) is that Zen 3's too (2026-12-06).

Regenerate after an intended change: `python -m tests.train.test_pinned [PRESET ...]` prints this
machine's entries, of every preset or of those named (then explain the change in the commit).
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import pytest
import torch

from mnistgan import config
from mnistgan.config import load_config
from mnistgan.data.sources import Sources
from mnistgan.hardware import hardware
from mnistgan.train.loop import train

PINNED_FILE = Path(__file__).with_name("pinned.json")
PRESETS = tuple(config.PRESETS)
SAMPLES = 256  # weights of each network kept in the fp32 reference
TOLERANCE = 1e-6  # relative L2 distance to the fp32 reference (see above)
WIDER = {"rpgan-cond-lr4e-4": 3e-5, "rpgan-cond-concat": 1e-4, "rpgan-cond-head": 2e-5,
         "rpgan-cond-head512": 3e-3}  # measured across CPUs (see above)
THREADS = 2
# rpgan's loss and its R1 and R2 are unchanged by a constant added to every score of D, so D's last
# bias gets no gradient but rounding noise, which Adam (beta1 = 0 in the rpgan presets) turns into
# steps of about lr: it walks its own way on each CPU. On a 2-core AMD EPYC (AVX2) rpgan's D was
# 5.3e-4 from the Xeon's reference at 2 threads, all of it in out.bias (G within 1e-8).
SHIFT_FREE = {"D": ("out.bias",)}


def cpu_kind() -> str:
    """E.g. "AVX512+AMX/2928e10d1df1": what the kernels dispatch on, then every other fact torch
    reports of the CPU but its core counts (its name, flags and cache sizes)."""
    hw = hardware("cpu")
    caps = torch.cpu.get_capabilities()
    facts = ";".join(f"{k}={v}" for k, v in sorted(caps.items()) if not k.startswith("num_"))
    return f"{hw.capability}+{hw.bf16 or 'no-bf16'}/{hashlib.sha256(facts.encode()).hexdigest()[:12]}"


def digest(module: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for name, t in module.state_dict().items():
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def sampled(module: torch.nn.Module, unpinned: tuple[str, ...] = ()) -> list[float]:
    """SAMPLES float weights spread evenly over the network's float tensors, in order; those of
    the tensors named in `unpinned` are NaN, left out of the distance."""
    flat = torch.cat([(t.double() * math.nan if name in unpinned else t.double()).detach().reshape(-1)
                      for name, t in module.state_dict().items() if t.is_floating_point()])
    return flat[torch.linspace(0, flat.numel() - 1, SAMPLES).long()].tolist()


def distance(weights: list[float], reference: list[float]) -> float:
    """Relative L2 distance, over the weights that are numbers."""
    pairs = [(w, r) for w, r in zip(weights, reference) if not math.isnan(w)]
    return math.dist(*zip(*pairs)) / math.hypot(*(r for _, r in pairs))


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(THREADS)  # bf16's sums depend on the thread count
    yield
    torch.set_num_threads(before)


def run_preset(preset: str, run_dir: Path, folder: Path, *extra: str) -> dict[str, torch.nn.Module]:
    model = config.preset(preset).model
    narrow_d = 0 < model.channels_d < model.channels  # kept narrower than G (rpgan-cond-d16), so its path is pinned
    small = (["model.channels=8", f"model.channels_d={4 if narrow_d else 8}"]
             if preset.startswith(("dcgan", "rpgan")) else [])  # a fast test
    cfg = load_config(preset, overrides=["data.name='tiny'", "train.batch_size=50", "train.epochs=3",
                                         "train.grid_size=16", "eval.every=0", *small, *extra])
    return dict(train(cfg, run_dir, sources=Sources(data_dir=folder, download=False)).networks())


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_weights_are_bitwise_unchanged_on_the_cpu_kinds_they_were_pinned_on(tmp_path, tiny, preset,
                                                                                   two_threads):
    pins = json.loads(PINNED_FILE.read_text())["digests"]
    if preset not in pins.get(cpu_kind(), {}):  # the fp32 check below still runs here
        pytest.skip(f"no digests of {preset} for {cpu_kind()} (pinned on {', '.join(pins)})")
    nets = run_preset(preset, tmp_path / "run", tiny[1])
    assert {name: digest(net) for name, net in nets.items()} == pins[cpu_kind()][preset]


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_weights_in_fp32_match_the_reference_on_every_cpu(tmp_path, tiny, preset, two_threads):
    nets = run_preset(preset, tmp_path / "run", tiny[1], "train.precision='fp32'")
    reference = json.loads(PINNED_FILE.read_text())["fp32"][preset]
    assert set(nets) == set(reference)
    shift_free = load_config(preset).loss.name == "rpgan"
    for name, net in nets.items():
        assert distance(sampled(net, SHIFT_FREE.get(name, ()) if shift_free else ()),
                        reference[name]) < WIDER.get(preset, TOLERANCE), name


def test_the_tolerance_catches_a_one_percent_change_of_one_learning_rate(tmp_path, tiny, two_threads):
    nets = run_preset("dcgan-cond", tmp_path / "run", tiny[1], "train.precision='fp32'", "train.lr_g=2.02e-4")
    reference = json.loads(PINNED_FILE.read_text())["fp32"]["dcgan-cond"]
    assert all(distance(sampled(net), reference[name]) > TOLERANCE
               for name, net in nets.items())


if __name__ == "__main__":  # print this machine's entries for pinned.json
    import sys
    import tempfile

    from mnistgan.data import datasets
    from tests.conftest import write_tiny

    torch.set_num_threads(THREADS)
    presets = sys.argv[1:] or PRESETS
    with tempfile.TemporaryDirectory() as tmp:
        datasets.DATASETS["tiny"] = write_tiny(Path(tmp) / "data")
        digests = {p: {n: digest(m) for n, m in run_preset(p, Path(tmp) / p, Path(tmp) / "data").items()}
                   for p in presets}
        fp32 = {p: {n: sampled(m) for n, m in run_preset(p, Path(tmp) / f"{p}-fp32", Path(tmp) / "data",
                                                         "train.precision='fp32'").items()} for p in presets}
    print(json.dumps({"kind": cpu_kind(), "digests": digests, "fp32": fp32}))
