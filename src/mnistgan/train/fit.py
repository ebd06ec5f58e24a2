"""Sizes that follow the dataset: a preset's sizes suit MNIST (60,000 training and 10,000
test images), and shrink to fit a smaller set when the user has not set them. The
images' channels follow it too: model.img_channels is the dataset's (3 for stacked-mnist).

What the user set is known from where it came from: the keys of the TOML file and of
`--set` (config.explicit_keys), not from the values. Those stay as given, and one that
does not fit is an error, as before (train/loop.py's check_config, the light
evaluation's check). The fitted config is the run's config: config.json records it.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path

from mnistgan.config import MIN_EVAL_N, DataConfig, RunConfig
from mnistgan.data.datasets import get_spec
from mnistgan.data.subset import subset_count

log = logging.getLogger(__name__)

# The training images the presets' epoch-counted cadences were chosen for (MNIST's training split).
PRESET_TRAIN_IMAGES = 60_000


@dataclass(frozen=True)
class SetSize:
    name: str
    train: int  # images trained on: the training split, or data.subset of it
    test: int  # images in the test split
    channels: int = 1  # of each image: 1 grey, 3 RGB
    scorable: bool = True  # an evaluator scores its images (DatasetSpec.scorable)

    @classmethod
    def of(cls, data: DataConfig, cache_dir: Path | None = None) -> SetSize:
        """From the dataset's spec (its manifest, for an imported set): nothing is loaded."""
        spec = get_spec(data.name, cache_dir)
        train = subset_count(spec.files["train"][0].shape[0], data.subset)
        return cls(data.name, train, spec.files["test"][0].shape[0], spec.channels, spec.scorable)


def fit_to_data(cfg: RunConfig, size: SetSize, explicit: frozenset[str] = frozenset(), where: str = "") -> RunConfig:
    """`cfg` with the sizes the user did not set (the dotted keys in `explicit`) fitted to
    `size`, and one info line naming each change (after `where`, e.g. a sweep's setting):
    - train.batch_size: at most the training split (times loss.n_critic, a step's images), in
      whole packs of model.pack;
    - train.grid_size: at most the training split (its real yardstick for diversity);
    - eval.n: at most the test split, the light evaluation's samples and its floor's;
    - eval.every: 0 (off) when the test split is under MIN_EVAL_N, too few to score, and for
      a colour set (no evaluator scores it yet; stacked-mnist is scored channel by channel);
      on a training set smaller than PRESET_TRAIN_IMAGES, as many epochs apart as make the
      same number of images (600 images: 100x): on the EPYC at 1 thread a classic epoch of 600
      images trains in 0.2 s and a light evaluation at n = 2,000 takes about 3 s;
    - train.grid_every: scaled as eval.every, for the same reason: a 600-image run wrote a
      grid and the 7.7 MB generator.safetensors after each of about 2,700 0.2 s epochs in 10
      minutes (21 GB) on the EPYC;
    - model.img_channels: the dataset's channels."""
    t, e = cfg.train, cfg.eval
    train, changes = {}, []
    per_step = size.train // cfg.loss.n_critic
    if "train.batch_size" not in explicit and 1 <= per_step < t.batch_size:
        whole = per_step // cfg.model.pack * cfg.model.pack  # whole packs for a packed D (model.pack)
        train["batch_size"] = whole or per_step
    if "train.grid_size" not in explicit and t.grid_size > size.train:
        train["grid_size"] = size.train
    scale = round(PRESET_TRAIN_IMAGES / max(size.train, 1))
    if "train.grid_every" not in explicit and scale > 1:
        train["grid_every"] = t.grid_every * scale
    evaluation = {}
    if size.test < MIN_EVAL_N or not size.scorable:
        if "eval.every" not in explicit and e.every:
            evaluation["every"] = 0
    else:
        if "eval.n" not in explicit and e.n > size.test:
            evaluation["n"] = size.test
        if "eval.every" not in explicit and e.every and scale > 1:
            evaluation["every"] = e.every * scale
    model = {"img_channels": size.channels} if "model.img_channels" not in explicit and \
        cfg.model.img_channels != size.channels else {}
    for section, new in (("train", train), ("eval", evaluation), ("model", model)):
        old = getattr(cfg, section)
        changes += [f"{section}.{key} {getattr(old, key)} -> {value}" for key, value in new.items()]
    if not changes:
        return cfg
    why = "" if evaluation.get("every") != 0 else (f" (under {MIN_EVAL_N} test images: no light evaluation)"
                                                    if size.test < MIN_EVAL_N else
                                                     " (no evaluator scores colour images yet)")
    log.info("%s%s has %d training and %d test images; fitted to them: %s%s (set them to choose)", where,
             size.name, size.train, size.test, ", ".join(changes), why)
    return dataclasses.replace(cfg, train=dataclasses.replace(t, **train), eval=dataclasses.replace(e, **evaluation),
                               model=dataclasses.replace(cfg.model, **model))
