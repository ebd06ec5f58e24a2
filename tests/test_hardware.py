"""train.precision=auto follows what the hardware computes natively; explicit bf16 without it warns."""

from __future__ import annotations

import importlib
import json
import logging

import pytest
import torch

from mnistgan import hardware as hw_mod
from mnistgan.config import load_config
from mnistgan.data.sources import Sources
from mnistgan.hardware import Hardware, bf16_slowdown_warning, cpu_bf16, resolve_precision
from mnistgan.train import loop
from mnistgan.train.step import Objective

step_module = importlib.import_module("mnistgan.train.step")  # mnistgan.train.step is also a function's name

SAPPHIRE_RAPIDS = Hardware("cpu", "Intel Xeon", "AVX512", cpu_bf16({"amx_bf16": True, "avx512_bf16": True}))
ZEN4 = Hardware("cpu", "AMD EPYC", "AVX512", cpu_bf16({"amx_bf16": False, "avx512_bf16": True}))
AVX2_EPYC = Hardware("cpu", "AMD EPYC", "AVX2", cpu_bf16({"avx2": True}))
H200 = Hardware("cuda", "NVIDIA H200", "9.0", "CUDA")


@pytest.mark.parametrize(("hw", "auto"), [(SAPPHIRE_RAPIDS, "bf16"), (ZEN4, "bf16"), (AVX2_EPYC, "fp32"),
                                          (H200, "bf16"), (Hardware("cuda", "old GPU", "6.1", ""), "fp32")])
def test_auto_is_bf16_only_where_it_is_native(hw, auto):
    assert resolve_precision("auto", hw) == auto
    assert resolve_precision("fp32", hw) == "fp32" and resolve_precision("bf16", hw) == "bf16"  # explicit is kept


def test_the_cpu_feature_that_makes_bf16_native():
    assert (SAPPHIRE_RAPIDS.bf16, ZEN4.bf16, AVX2_EPYC.bf16) == ("AMX", "AVX512_BF16", "")
    assert "no native bf16" in AVX2_EPYC.describe() and "AVX2" in AVX2_EPYC.describe()


def test_this_machine_is_described_from_torch():
    here = hw_mod.hardware("cpu")
    assert here.capability == torch.backends.cpu.get_cpu_capability()
    assert here.name and here.name in here.describe()


def test_explicit_bf16_without_native_support_warns_with_the_measured_slowdown():
    line = bf16_slowdown_warning("bf16", AVX2_EPYC, measure=lambda: 11.2)
    assert line.startswith("warning: ") and "11.2x" in line and "AVX2" in line and "\n" not in line
    assert bf16_slowdown_warning("bf16", ZEN4, measure=lambda: 11.2) is None
    assert bf16_slowdown_warning("auto", AVX2_EPYC, measure=lambda: 11.2) is None


def test_the_matmul_check_measures_a_ratio():
    assert 0 < hw_mod.bf16_matmul_ratio(n=64, reps=2) < 1000


def _train(tmp_path, tiny, hw, monkeypatch, *overrides):
    monkeypatch.setattr(loop, "hardware", lambda device: hw)
    monkeypatch.setattr(step_module, "hardware", lambda device: hw)
    monkeypatch.setattr(hw_mod, "bf16_matmul_ratio", lambda: 9.5)
    cfg = load_config("dcgan", overrides=["data.name='tiny'", "train.batch_size=50", "train.epochs=1",
                                          "train.grid_size=4", "eval.every=0", "model.channels=4", *overrides])
    loop.train(cfg, tmp_path / "run", sources=Sources(data_dir=tiny[1], download=False))
    lines = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    return [r["start"] for r in lines if "start" in r]


def test_a_dcgan_preset_trains_in_fp32_on_an_avx2_cpu_and_records_it(tmp_path, tiny, monkeypatch, caplog):
    assert load_config("best").train.precision == "auto"
    with caplog.at_level(logging.INFO):
        starts = _train(tmp_path, tiny, AVX2_EPYC, monkeypatch)
    assert [s["precision"] for s in starts] == ["fp32"] and "no native bf16" in starts[0]["hardware"]
    assert "training on CPU AMD EPYC" in caplog.text and "warning" not in caplog.text
    assert "computed in fp32 on CPU AMD EPYC" in (tmp_path / "run" / "MODEL_CARD.md").read_text()


def test_explicit_bf16_on_an_avx2_cpu_still_trains_with_one_warning(tmp_path, tiny, monkeypatch, caplog):
    with caplog.at_level(logging.WARNING):
        starts = _train(tmp_path, tiny, AVX2_EPYC, monkeypatch, "train.precision='bf16'")
    assert [s["precision"] for s in starts] == ["bf16"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "9.5x the time of fp32" in warnings[0]


def test_the_objective_autocasts_only_when_the_precision_resolves_to_bf16(monkeypatch):
    cfg = load_config("dcgan")
    for hw, amp in ((ZEN4, torch.autocast), (AVX2_EPYC, type(None))):
        monkeypatch.setattr(step_module, "hardware", lambda device, hw=hw: hw)
        obj = Objective.from_config(cfg, torch.device("cpu"))
        assert obj.precision == resolve_precision("auto", hw)
        assert isinstance(obj.amp(), torch.autocast) == (amp is torch.autocast)
