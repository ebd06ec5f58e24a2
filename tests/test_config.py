import pytest

from mnistgan.config import ALIASES, PRESETS, RunConfig, from_dict, load_config, parse_override, preset
from mnistgan.errors import ConfigError


def test_classic_defaults_are_the_spec():
    cfg = load_config("classic")
    assert cfg.model.z_dim == 64 and cfg.model.leaky_slope == 0.2 and cfg.model.arch == "mlp"
    assert cfg.train.lr_g == cfg.train.lr_d == 2e-4 and cfg.train.batch_size == 100


def test_overrides_are_typed():
    cfg = load_config(overrides=["train.epochs=5", "train.lr_g=1", "data.name=fashion-mnist"])
    assert cfg.train.epochs == 5 and cfg.train.lr_g == 1.0 and isinstance(cfg.train.lr_g, float)
    assert cfg.data.name == "fashion-mnist"
    assert parse_override("a.b.c=[1, 2]") == {"a": {"b": {"c": [1, 2]}}}


@pytest.mark.parametrize("bad, match", [
    ("train.epoch=5", "unknown config key 'train.epoch'"),
    ("train.epochs=five", "expected int"),
    ("train.epochs=2.5", "expected int"),
    ("train.epochs=0", "between 1 and 100000"),
    ("train.lr_d=-1", "positive"),
    ("train.lr_decay_start=1.5", r"lr_decay_start must be in \[0, 1\]"),
    ("model.pack=9", "model.pack must be between 1 and 8"),
    ("train=3", "expected a table"),
    ("nonsense", "expected section.key=value"),
])
def test_bad_overrides_are_rejected(bad, match):
    with pytest.raises(ConfigError, match=match):
        load_config(overrides=[bad])


def test_a_packed_d_needs_whole_packs_per_batch_no_labels_and_no_ada():
    assert load_config(overrides=["model.pack=2"]).model.pack == 2  # the classic batch of 100
    with pytest.raises(ConfigError, match="train.batch_size 100 must be a multiple of model.pack 3"):
        load_config(overrides=["model.pack=3"])
    with pytest.raises(ConfigError, match="model.pack=2 needs an unconditional model"):
        load_config("classic-cond", overrides=["model.pack=2"])
    with pytest.raises(ConfigError, match="train.augment=ada does not take model.pack > 1"):
        load_config(overrides=["model.pack=2", "train.augment='ada'"])


def test_toml_file_then_overrides(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[train]\nepochs = 7\nseed = 3\n[model]\nhidden = 128\n')
    cfg = load_config(toml_path=path, overrides=["train.seed=4"])
    assert (cfg.train.epochs, cfg.train.seed, cfg.model.hidden) == (7, 4, 128)
    path.write_text("[train]\nepochz = 1\n")
    with pytest.raises(ConfigError, match="epochz"):
        load_config(toml_path=path)
    path.write_text("[train\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(toml_path=path)


def test_unknown_preset():
    with pytest.raises(ConfigError, match="unknown preset"):
        load_config("fancy")


def test_json_roundtrip():
    cfg = load_config(overrides=["train.epochs=3"])
    import json

    assert from_dict(json.loads(cfg.to_json())) == cfg
    assert from_dict({}) == RunConfig()


def test_configs_saved_by_0_1_still_load():
    old = {"preset": "classic", "train": {"epochs": 50, "label_smoothing": 0.1, "beta1": 0.5, "beta2": 0.99}}
    cfg = from_dict(old)
    assert cfg.loss.label_smoothing == 0.1 and cfg.loss.name == "bce"
    assert (cfg.train.beta1_g, cfg.train.beta1_d, cfg.train.beta2_g, cfg.train.beta2_d) == (0.5, 0.5, 0.99, 0.99)
    assert from_dict({"train": {"epochs": 3}}).loss.label_smoothing == 0.0  # before smoothing existed: hard targets


def test_configs_with_checkpoint_minutes_load_with_the_same_interval_in_seconds():
    assert from_dict({"train": {"checkpoint_minutes": 5.0}}).train.checkpoint_every_s == 300.0
    assert from_dict({"train": {"checkpoint_minutes": 0}}).train.checkpoint_every_s == 0.0  # every epoch end
    with pytest.raises(ConfigError, match="train.checkpoint_every_s: expected float"):
        from_dict({"train": {"checkpoint_minutes": "often"}})


def test_overrides_that_depend_on_each_other_apply_together():
    cfg = load_config("classic", overrides=["loss.name=hinge", "loss.label_smoothing=0"])
    assert (cfg.loss.name, cfg.loss.label_smoothing) == ("hinge", 0.0)
    with pytest.raises(ConfigError, match="also set loss.label_smoothing=0"):
        load_config("classic", overrides=["loss.name=hinge"])


def test_best_is_an_alias_of_a_preset_conditional_and_unconditional():
    assert preset("best") == PRESETS[ALIASES["best"]] and preset("best").model.num_classes == 10  # draws a 7
    assert preset("best-uncond") == PRESETS[ALIASES["best-uncond"]] and preset("best-uncond").model.num_classes == 0
