"""Bad input: one line naming the problem, before any folder is made or run started."""

from __future__ import annotations

import pytest

from mnistgan.cli import main
from mnistgan.sweep.spec import SweepSpec, read_spec

from .conftest import sweep_args


def _error(capsys) -> str:
    err = capsys.readouterr().err
    lines = [x for x in err.splitlines() if x.startswith("mnistgan: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("extra, message", [
    (["--set", "train.nope=1"], "unknown config key 'train.nope'"),
    (["--grid", "trian.lr_g=1e-4,2e-4"], "unknown config key 'trian'"),
    (["--seeds", "5-2"], "the range is empty"),
    (["--seeds", "0-"], "expected a range such as 0-7"),
    (["--grid", "train.lr_g="], "expected key=value"),
    (["--grid", "train.lr_g=1e-4,,2e-4"], "no empty value"),
    (["--search", "3", "--space", "train.lr_g=loguniform(1e-3,1e-4)"], "the range is empty"),
    (["--search", "3", "--space", "train.lr_g=loguniform(0,1e-4)"], "a log range needs a positive low end"),
    (["--search", "3", "--space", "loss.r1_gamma=choice()"], "no values to choose from"),
    (["--search", "3", "--space", "train.lr_g=normal(0,1)"], "expected loguniform(lo,hi)"),
    (["--search", "3", "--space", "train.lr_g=uniform(-1,1)"], "cannot be sampled at -1.0"),
    (["--search", "3", "--space", "model.channels=uniform(10,20)"], "expected int, got float"),
    (["--search", "3"], "a search needs a space"),
    # label smoothing applies to the bce loss only: the hinge setting may not have it
    (["--grid", "loss.name=bce,hinge", "--set", "loss.label_smoothing=0.1"], "setting name=hinge: loss.label_smoothing"),
    (["--set", "train.seed=3"], "train.seed is set by the sweep's seeds"),
    # G and D of hidden 8192 hold ~270 M parameters: 64 of them need far more memory than any machine here
    (["--set", "model.hidden=8192", "--jobs", "64"], "would not fit in the"),
])
def test_bad_input_is_one_line_and_makes_nothing(tinyset, tmp_path, capsys, extra, message):
    assert main(sweep_args(tmp_path / "sweeps", *extra)) == 2
    assert message in _error(capsys)
    assert not (tmp_path / "sweeps").exists()


def test_a_spec_file_with_an_unknown_key_or_bad_table(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('preset = "classic"\nseed = "0-3"\n')
    with pytest.raises(Exception, match="unknown sweep key 'seed'"):
        read_spec(bad)
    bad.write_text('[grid]\n"train.lr_g" = 1e-4\n')
    with pytest.raises(Exception, match="expected a list of values"):
        read_spec(bad)


def test_a_spec_round_trips_through_its_toml(tmp_path):
    spec = SweepSpec(name="q", preset="dcgan", seeds=(0, 2), threads_per_job=2, evaluate_n=500,
                     set=(("train.minutes", 10.0), ("data.name", "mnist")),
                     grid=(("preset", ("dcgan", "dcgan-cond")), ("train.precision", ("fp32", "bf16"))))
    (tmp_path / "q.toml").write_text(spec.to_toml())
    assert read_spec(tmp_path / "q.toml") == spec


def test_flags_and_a_spec_file_together_are_refused(tmp_path, capsys):
    (tmp_path / "s.toml").write_text('preset = "classic"\n')
    assert main(["sweep", str(tmp_path / "s.toml"), "--seeds", "0-1", "--outdir", str(tmp_path)]) == 2
    assert "give a spec file or flags, not both" in _error(capsys)
