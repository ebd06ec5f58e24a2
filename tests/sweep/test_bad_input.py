"""Bad input: one line naming the problem, before any folder is made or run started."""

from __future__ import annotations

import logging
import re

import pytest

from mnistgan.cli import main
from mnistgan.data.sources import Sources
from mnistgan.errors import ConfigError
from mnistgan.sweep.spec import SweepSpec, from_flags, read_spec, settings

from .conftest import ROOT, sweep_args


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
                     grid=(("preset", ("dcgan", "dcgan-cond")), ("train.precision", ("fp32", "bf16"))),
                     variants=(("full", (("data.subset", 1.0),)), ("10pct", (("data.subset", 0.1), ("eval.every", 10)))))
    (tmp_path / "q.toml").write_text(spec.to_toml())
    assert read_spec(tmp_path / "q.toml") == spec


def test_variants_set_their_keys_together_times_the_grid(tmp_path, caplog):
    """A variant changes several keys at once (a subset and its evaluation interval); each
    variant meets every combination of the grid. What is fitted to a subset is said once per
    setting, named."""
    caplog.set_level(logging.INFO)
    (tmp_path / "v.toml").write_text('[grid]\npreset = ["classic", "dcgan"]\n'
                                     '[variants.full]\n'
                                     '[variants.10pct]\n"data.subset" = 0.1\n"eval.every" = 50\n')
    found = {s.label: s.cfg for s in settings(read_spec(tmp_path / "v.toml"), Sources(cache_dir=tmp_path))}
    assert list(found) == ["full-classic", "full-dcgan", "10pct-classic", "10pct-dcgan"]
    assert found["10pct-dcgan"].model.arch == "dcgan" and found["10pct-dcgan"].data.subset == 0.1
    assert found["10pct-classic"].eval.every == 50 and found["full-classic"].eval.every == 5  # the preset's
    assert found["full-dcgan"].data.subset == 1.0
    fitted = [r.getMessage() for r in caplog.records if "fitted to them" in r.getMessage()]
    assert [m.split(":")[0] for m in fitted] == ["setting 10pct-classic", "setting 10pct-dcgan"]
    assert found["10pct-classic"].train.grid_every == 10 and "train.grid_every 1 -> 10" in fitted[0]


@pytest.mark.parametrize("toml, message", [
    ('[grid]\n"eval.every" = [1, 2]\n[variants.a]\n"eval.every" = 5\n', "variant a and the grid both set eval.every"),
    ('[variants."a b"]\n"eval.every" = 5\n', "variant 'a b': name it with"),
    ('variants = 3\n', "variants must be a table"),
    ('[variants]\na = 3\n', "variants.a must be a table"),
    ('[variants.g0.1]\n"eval.every" = 5\n', 'quote it: [variants."g0.1"]'),
    ('[variants.a]\n"eval.every" = 5\n[search]\ntrials = 2\n[search.space]\n"train.lr_g" = "uniform(1e-4, 2e-4)"\n',
     "give a grid (or variants) or a search"),
])
def test_bad_variants_are_one_line(tmp_path, toml, message):
    (tmp_path / "v.toml").write_text(toml)
    with pytest.raises(ConfigError, match=re.escape(message)):
        settings(read_spec(tmp_path / "v.toml"), Sources(cache_dir=tmp_path))


def test_flags_override_a_spec_file(tmp_path):
    (tmp_path / "s.toml").write_text('seeds = "0-7"\n[set]\ntrain.epochs = 50\n"eval.every" = 5\n'
                                     '[grid]\npreset = ["classic", "dcgan"]\n')
    spec = from_flags(read_spec(tmp_path / "s.toml"), seeds="0", sets=["train.epochs=1"], grids=["loss.r1_gamma=0,1"])
    assert spec.name == "s" and spec.seeds == (0,)
    assert spec.set == (("train.epochs", 1), ("eval.every", 5))
    assert spec.grid == (("preset", ("classic", "dcgan")), ("loss.r1_gamma", (0, 1)))


def test_resume_takes_the_saved_spec(tmp_path, capsys):
    assert main(["sweep", "--resume", str(tmp_path), "--seeds", "0-1"]) == 2
    assert "only --jobs may change" in _error(capsys)
    assert main(["sweep", "--resume", str(tmp_path)]) == 2
    assert "not a sweep folder (no readable sweep.json)" in _error(capsys)


def test_more_threads_than_cores_is_one_warning_line(tinyset, caplog):
    from mnistgan.sweep.runner import check_spec, cores
    from mnistgan.data.sources import Sources

    spec = from_flags(sets=["data.name=tinyset"], jobs=cores() + 1, threads_per_job=1)
    check_spec(spec, Sources(cache_dir=tinyset / "mnistgan"))
    (warning,) = [r.message for r in caplog.records if r.levelname == "WARNING"]
    assert f"{cores() + 1} jobs x 1 threads" in warning and "\n" not in warning


@pytest.mark.parametrize("path", sorted((ROOT / "examples" / "sweeps").glob("*.toml")), ids=lambda p: p.name)
def test_every_example_spec_builds_its_settings(path, tmp_path):
    """The shipped specs stay valid as the config keys change: each reads, and each of its
    settings is a config that trains (checked without data)."""
    spec = read_spec(path)
    found = settings(spec, Sources(cache_dir=tmp_path))
    assert found and all(s.cfg.train.epochs >= 1 for s in found)
