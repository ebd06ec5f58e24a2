"""Every size a user or a file can set, at its limit (accepted) and past it (refused,
with the limit in the message, before anything is allocated)."""

from __future__ import annotations

import pytest

from mnistgan import config as C
from mnistgan.cli import main
from mnistgan.config import load_config
from mnistgan.errors import ConfigError
from mnistgan.sample import MAX_SAMPLES, MAX_SCALE, check_sample_size


@pytest.mark.parametrize("key, limit", [("model.z_dim", C.MAX_Z_DIM), ("model.hidden", C.MAX_HIDDEN),
                                        ("train.batch_size", C.MAX_BATCH), ("train.epochs", C.MAX_EPOCHS),
                                        ("train.grid_size", C.MAX_GRID), ("train.keep_checkpoints", C.MAX_KEEP)])
def test_config_sizes_at_and_past_their_limit(key, limit):
    load_config(overrides=[f"{key}={limit}"])  # a config only: nothing is allocated
    for bad in (limit + 1, 0, -1):
        with pytest.raises(ConfigError, match=f"{key} must be between 1 and {limit} "):
            load_config(overrides=[f"{key}={bad}"])


def test_d_width_is_zero_for_g_width_or_within_the_limit():
    assert load_config(overrides=[f"model.channels_d={C.MAX_CHANNELS}"]).model.channels_d == C.MAX_CHANNELS
    assert load_config(overrides=["model.channels_d=0"]).model.channels_d == 0
    for bad in (C.MAX_CHANNELS + 1, -1):
        with pytest.raises(ConfigError, match=f"model.channels_d must be 0 .* between 1 and {C.MAX_CHANNELS} "):
            load_config(overrides=[f"model.channels_d={bad}"])


def test_d_head_is_zero_for_a_linear_readout_or_within_the_limit():
    assert load_config(overrides=[f"model.d_head={C.MAX_HIDDEN}"]).model.d_head == C.MAX_HIDDEN
    for bad in (C.MAX_HIDDEN + 1, -1):
        with pytest.raises(ConfigError, match=f"model.d_head must be 0 .* between 1 and {C.MAX_HIDDEN} "):
            load_config(overrides=[f"model.d_head={bad}"])


@pytest.mark.parametrize("key, bad", [("train.lr_g", "inf"), ("train.lr_d", "nan"), ("train.lr_g", "0"),
                                      ("train.checkpoint_every_s", "inf"), ("train.checkpoint_every_s", "-1")])
def test_rates_and_intervals_must_be_finite(key, bad):
    with pytest.raises(ConfigError, match=key):
        load_config(overrides=[f"{key}={bad}"])


def test_sample_sizes_at_and_past_their_limit(tmp_path, capsys):
    check_sample_size(MAX_SAMPLES, 1, "npz")
    check_sample_size(1, MAX_SCALE, "png")
    check_sample_size(10_000, 3, "png")  # 9.0 x 10^7 pixels: under the 10^8 limit
    for n, scale, fmt, words in [(MAX_SAMPLES + 1, 1, "npz", f"-n must be between 1 and {MAX_SAMPLES}"),
                                 (0, 1, "png", "-n must be between 1"),
                                 (1, MAX_SCALE + 1, "png", f"--scale must be between 1 and {MAX_SCALE}"),
                                 (1, 0, "png", "--scale must be between 1"), (1, -2, "png", "--scale must be between 1"),
                                 (10_000, 4, "png", "the limit is 100 megapixels")]:
        with pytest.raises(ConfigError, match=words):
            check_sample_size(n, scale, fmt)
    # The CLI checks before it even looks at the source.
    assert main(["sample", str(tmp_path / "missing"), "-n", "10000000"]) == 2
    assert "-n must be between 1 and 100000 (memory)" in capsys.readouterr().err
    assert main(["sample", str(tmp_path / "missing"), "--scale", "100000"]) == 2
    assert "--scale must be between 1 and 16" in capsys.readouterr().err
