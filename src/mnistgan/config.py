"""Run configuration: frozen dataclasses are the schema, presets are named instances.

A config is built from a preset, then a TOML file, then `--set section.key=value`
overrides, in that order. Every key is checked against the dataclass fields and every
value against the field's type, so a typo is an error rather than a silently ignored
setting. The resolved config is saved in every run folder and checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mnistgan.errors import ConfigError

# Upper bounds on every size a config (or a tampered config.json or weights file) can set,
# checked here, before anything is allocated; each error names its limit.
MAX_Z_DIM = 4096  # G's first layer holds z_dim x hidden weights: 134 MB at both limits
MAX_HIDDEN = 8192  # G and D hold about 2 x hidden^2 weights each: with grads and Adam's moments, 2.4 GB
MAX_BATCH = 60_000  # the largest training split (MNIST, Fashion-MNIST): a bigger batch cannot be drawn
MAX_EPOCHS = 100_000  # state files number epochs with 6 digits; 100,000 MNIST epochs is years of CPU time
MAX_DEPTH = 16  # mlp: hidden layers, each up to MAX_HIDDEN^2 weights
MAX_CHANNELS = 1024  # dcgan: D and G hold about 16 x channels^2 x 9 weights: 150 M at the limit
MAX_CLASSES = 1000  # label embeddings
MAX_PACK = 8  # model.pack: PacGAN's packs were of 2 to 4 images
G_CONDS = ("scale", "concat", "cbn")  # model.g_cond: how a conditional dcgan's G takes the label
IMG_CHANNELS = (1, 3)  # grey or RGB: what grids, PNGs and the web page can show
MAX_GRID = 1024  # samples in each epoch's grid: a 1 MP PNG per epoch
MAX_KEEP = 1000  # training-state files kept: 6 GB of disk at the classic model's 6 MB each
# The fewest images an evaluation scores: precision/recall and density/coverage take k = 3 neighbours.
MIN_EVAL_N = 4
AUGMENTS = ("none", "diffaug", "ada")  # train.augment
ADA_SIGNALS = ("heldout", "train")  # train.ada_signal


def _key(default: Any, help: str, bounds: str = "") -> Any:
    """A config field with its meaning and bounds, which the documentation's reference reads
    (tools/docs_hooks.py): `help` says what it does, `bounds` what values pass the checks below."""
    return field(default=default, metadata={"help": help, "bounds": bounds})


def _bounded(name: str, value: int, limit: int, reason: str) -> None:
    if not 1 <= value <= limit:
        raise ConfigError(f"{name} must be between 1 and {limit} ({reason}), got {value}")


@dataclass(frozen=True)
class DataConfig:
    name: str = _key("mnist", "the dataset: `mnist`, `fashion-mnist`, `stacked-mnist` (3 channels), or a set imported "
                     "with `mnistgan data import`",
                     "a known dataset name")
    subset: float = _key(1.0, "train on part of the training split (data/subset.py): a share in (0, 1], or a number "
                         "of images (> 1), drawn class-balanced with data.subset_seed", "more than 0")
    subset_seed: int = _key(0, "seeds the draw of data.subset, apart from train.seed")

    def __post_init__(self) -> None:
        if not 0 < self.subset < float("inf"):
            raise ConfigError(f"data.subset must be a share in (0, 1] or a number of images, got {self.subset}")


@dataclass(frozen=True)
class ModelConfig:
    """The constructor arguments of G and D (each architecture takes the ones it uses)."""

    arch: str = _key("mlp", "the model family (mnistgan.models.ARCHS)", "`mlp`, `dcgan` or `resnet`")
    z_dim: int = _key(64, "length of G's noise vector z (the spec's 64)", f"1 to {MAX_Z_DIM:,}")
    hidden: int = _key(256, "mlp: width of each hidden layer, in G (and in D unless model.hidden_d is set)",
                       f"1 to {MAX_HIDDEN:,}")
    hidden_d: int = _key(0, "mlp: width of D's hidden layers (0: model.hidden)", f"0 to {MAX_HIDDEN:,}")
    depth: int = _key(2, "mlp: hidden layers in G and in D; resnet: residual blocks per resolution",
                      f"1 to {MAX_DEPTH}; depth x width^2 at most 2 x {MAX_HIDDEN:,}^2")
    dropout_d: float = _key(0.0, "mlp: dropout after each of D's hidden layers (0: none)", "0 to < 1")
    channels: int = _key(64, "dcgan: channels at 14x14 (twice that at 7x7); resnet: at 28x28 (twice that at 14x14 "
                         "and 7x7); in G, and in D unless model.channels_d is set", f"1 to {MAX_CHANNELS:,}")
    channels_d: int = _key(0, "dcgan and resnet: D's channels, as model.channels (0: model.channels)",
                           f"0 to {MAX_CHANNELS:,}")
    d_head: int = _key(0, "dcgan: a hidden layer of this width (LeakyReLU) between D's convolutions and its score "
                       "and projection, a nonlinear readout (0: one linear readout of the features)",
                       f"0 to {MAX_HIDDEN:,}")
    leaky_slope: float = _key(0.2, "the slope of D's LeakyReLU for negative inputs")
    num_classes: int = _key(0, "0: unconditional; else G(z, y) and D(x, y) take a label in [0, num_classes) "
                            "(10 for the digits)", f"0 to {MAX_CLASSES:,}")
    g_cond: str = _key("scale", "dcgan, conditional: how the label enters G: `scale` (z times a learned embedding "
                       "of it), `concat` (its one-hot joined to z, Mirza & Osindero 2014) or `cbn` (a gain and bias per "
                       "class in each of G's batch norms, de Vries et al. 2017)", "`scale`, `concat` or `cbn`")
    spectral_norm: bool = _key(False, "spectral normalisation on D's weight layers (mlp and dcgan)")
    img_channels: int = _key(1, "channels of the images G draws and D judges: the dataset's (1 for MNIST-like sets, 3 "
                             "for stacked-mnist and colour imports), set from it unless given", "1 or 3")
    pack: int = _key(1, "PacGAN (Lin et al. 2018): D judges packs of this many images of one kind (all real or all "
                     "generated), joined along channels, one score a pack: it sees the variety of a few samples "
                     "at once, which penalises dropped modes (1: each image alone)",
                     f"1 to {MAX_PACK}; more than 1 only unconditional, and dividing train.batch_size")

    def __post_init__(self) -> None:
        if self.img_channels not in IMG_CHANNELS:
            raise ConfigError(f"model.img_channels must be 1 (grey) or 3 (RGB), got {self.img_channels}")
        _bounded("model.z_dim", self.z_dim, MAX_Z_DIM, "memory")
        _bounded("model.hidden", self.hidden, MAX_HIDDEN, "memory: G, D and Adam's state would exceed 2.4 GB")
        if self.hidden_d:
            _bounded("model.hidden_d", self.hidden_d, MAX_HIDDEN, "memory: D and Adam's state would exceed 1.2 GB")
        _bounded("model.depth", self.depth, MAX_DEPTH, "memory")
        if self.depth * max(self.hidden, self.hidden_d) ** 2 > 2 * MAX_HIDDEN**2:
            raise ConfigError(f"model.depth x model.hidden^2 must be at most 2 x {MAX_HIDDEN}^2 (memory), got "
                              f"{self.depth} x {max(self.hidden, self.hidden_d)}^2")
        if not 0 <= self.dropout_d < 1:
            raise ConfigError(f"model.dropout_d must be in [0, 1), got {self.dropout_d}")
        _bounded("model.channels", self.channels, MAX_CHANNELS, "memory")
        if not 0 <= self.channels_d <= MAX_CHANNELS:
            raise ConfigError(f"model.channels_d must be 0 (model.channels) or between 1 and {MAX_CHANNELS} (memory), "
                              f"got {self.channels_d}")
        if not 0 <= self.d_head <= MAX_HIDDEN:
            raise ConfigError(f"model.d_head must be 0 (a linear readout) or between 1 and {MAX_HIDDEN} (memory), "
                              f"got {self.d_head}")
        if not 0 <= self.num_classes <= MAX_CLASSES:
            raise ConfigError(f"model.num_classes must be between 0 (unconditional) and {MAX_CLASSES}, "
                              f"got {self.num_classes}")
        if self.g_cond not in G_CONDS:
            raise ConfigError(f"model.g_cond: unknown {self.g_cond!r} (choose from {', '.join(G_CONDS)})")
        _bounded("model.pack", self.pack, MAX_PACK, "PacGAN's packs were of 2 to 4 images")
        if self.pack > 1 and self.num_classes:
            raise ConfigError(f"model.pack={self.pack} needs an unconditional model (a pack has no one label): "
                              "set model.num_classes=0 or model.pack=1")


@dataclass(frozen=True)
class LossConfig:
    """The GAN objective (mnistgan.losses): D's loss and G's, and regularisers on D."""

    name: str = _key("bce", "the loss: `bce` (the spec's binary cross-entropy), `hinge`, `wgan-gp` or `rpgan` "
                     "(relativistic pairing)", "`bce`, `hinge`, `wgan-gp` or `rpgan`")
    label_smoothing: float = _key(0.0, "one-sided label smoothing (bce only): D's target for real images is "
                                  "1 - this (the classic presets: 0.1)", "0 to < 0.5; 0 unless the loss is bce")
    n_critic: int = _key(1, "D updates per G update (WGAN-GP's paper uses 5); a step takes n_critic real batches",
                         "1 to 100")
    gp_weight: float = _key(10.0, "wgan-gp: weight of the gradient penalty", "0 or more, finite")
    r1_gamma: float = _key(0.0, "R1 penalty on D's gradient at real images, with any loss: "
                           "gamma/2 * |grad_x D(x)|^2 (0: off)", "0 or more, finite")
    r1_every: int = _key(16, "1: R1 joins every D update; k > 1: lazy, its own D update every k steps, scaled by k",
                         "1 to 10,000")
    r2_gamma: float = _key(0.0, "R2: R1's penalty at generated images instead of real ones (0: off)",
                           "0 or more, finite")
    r2_every: int = _key(16, "as loss.r1_every, for R2", "1 to 10,000")
    cls_weight: float = _key(0.0, "rpgan, conditional dcgan or resnet: weight of a cross-entropy on the class "
                             "logits that D's projection holds (`embed(c) · h` for each class c): D learns to "
                             "classify the real images by them, G to draw images they classify as asked (0: off)",
                             "0 or more, finite; 0 unless the loss is rpgan")
    ms_weight: float = _key(0.0, "mode seeking (MSGAN), with any loss: weight of a term in G's loss that rewards "
                            "different images from different noise of one label, weight / (mean|G(z1) - G(z2)| / "
                            "mean|z1 - z2|) over pairs of the batch (0: off)", "0 or more, finite")

    def __post_init__(self) -> None:
        if not 0 <= self.label_smoothing < 0.5:
            raise ConfigError(f"loss.label_smoothing must be in [0, 0.5), got {self.label_smoothing}")
        if self.label_smoothing and self.name != "bce":
            raise ConfigError(f"loss.label_smoothing applies to the bce loss only, not {self.name!r} "
                              f"(also set loss.label_smoothing=0)")
        _bounded("loss.n_critic", self.n_critic, 100, "D steps per G step")
        _bounded("loss.r1_every", self.r1_every, 10_000, "steps")
        _bounded("loss.r2_every", self.r2_every, 10_000, "steps")
        if self.cls_weight and self.name != "rpgan":
            raise ConfigError(f"loss.cls_weight applies to the rpgan loss only, not {self.name!r}")
        for name in ("gp_weight", "r1_gamma", "r2_gamma", "cls_weight", "ms_weight"):
            if not 0 <= getattr(self, name) < float("inf"):
                raise ConfigError(f"loss.{name} must be 0 or positive and finite, got {getattr(self, name)}")


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = _key(50, "epochs to train (the classic preset: 40, see the robustness study)",
                       f"1 to {MAX_EPOCHS:,}")
    batch_size: int = _key(100, "images per step (the global batch with several processes)", f"1 to {MAX_BATCH:,}")
    lr_g: float = _key(2e-4, "Adam's learning rate for G (the spec's 2e-4)", "positive, finite")
    lr_d: float = _key(2e-4, "Adam's learning rate for D (the spec's 2e-4)", "positive, finite")
    beta1_g: float = _key(0.5, "Adam's beta1 for G (0.5, as in DCGAN, beat 0.9 clearly)", "0 to < 1")
    beta2_g: float = _key(0.999, "Adam's beta2 for G", "0 to < 1")
    beta1_d: float = _key(0.5, "Adam's beta1 for D", "0 to < 1")
    beta2_d: float = _key(0.999, "Adam's beta2 for D", "0 to < 1")
    seed: int = _key(0, "seeds the weights, the shuffle and the noise: the same seed on the same machine "
                     "trains the same weights")
    log_every: int = _key(100, "steps between metrics.jsonl lines", "1 or more")
    grid_size: int = _key(64, "fixed-noise samples drawn into each epoch's grid", f"1 to {MAX_GRID:,}")
    grid_every: int = _key(1, "epochs between the fixed-noise grid (samples/epoch_N.png) and generator.safetensors; "
                           "always after the last epoch and on a stop. Unless set, as many epochs apart on a set "
                           "under 60,000 training images as make 60,000 images (600 images: 100)",
                           f"1 to {MAX_EPOCHS:,}")
    keep_checkpoints: int = _key(2, "training-state files kept in checkpoints/", f"1 to {MAX_KEEP:,}")
    on_failure: str = _key("warn", "what a health event (D won, G collapsed) does: log it and go on, or stop",
                           "`warn` or `stop`")
    # 60 s: a 0.2 s GPU epoch does not write its 7 MB state every time (train/loop.py, Checkpoints).
    checkpoint_every_s: float = _key(60.0, "save the training state at the first epoch end this many seconds after "
                                     "the last save (0: every epoch end), and mid-epoch in an epoch that alone runs "
                                     "this long; always after the last epoch and on SIGINT or SIGTERM",
                                     "0 or more, finite")
    minutes: float = _key(0.0, "a time budget: stop at the first epoch end after this many minutes of "
                          "training steps (not the start, the epoch-end work or the light evaluation; "
                          "status.json's wall-clock split shows those; 0: none)", "0 or more, finite")
    lr_decay_start: float = _key(1.0, "the share of the run (of train.minutes when set, else of train.epochs) "
                                 "after which both learning rates fall linearly to 0 at its end (1: constant)",
                                 "0 to 1")
    ema_halflife: int = _key(0, "EMA of G's weights, sampled from when on: its half-life in images (0: off)",
                             "0 to 1,000,000,000")
    ema_rampup: float = _key(0.05, "EMA ramp-up: the half-life is at most this x the images seen so far",
                             "0 to 1 (0: no ramp-up)")
    precision: str = _key("fp32", "`bf16`: autocast for the forward passes (weights and Adam's state stay fp32); "
                          "`auto`: bf16 where the device multiplies bf16 natively (AMX, AVX512_BF16, CUDA), else "
                          "fp32 (mnistgan.hardware), resolved again by a resume", "`auto`, `fp32` or `bf16`")
    augment: str = _key("none", "augmentation that D sees, on real and generated images alike (train/augment.py): "
                        "`diffaug` (DiffAugment: translation, cutout, brightness and contrast, each with "
                        "probability train.augment_p) or `ada` (those, small rotation and scaling, with a "
                        "probability that adapts to D's overfitting, as in StyleGAN2-ADA)",
                        "`none`, `diffaug` or `ada`")
    augment_p: float = _key(1.0, "diffaug: the probability of each transform on each image (1: always, as "
                            "DiffAugment)", "0 to 1; 1 unless train.augment is diffaug")
    ada_signal: str = _key("heldout", "ada: what p follows. `heldout`: how often D scores a training real above a "
                           "held-out test image (the train-test AUC of `mnistgan evaluate`: 0.5 until D memorises); "
                           "`train`: the mean sign of D's raw scores on training reals (StyleGAN2-ADA's r_t; rpgan: "
                           "of each real's minus its fake partner's), which also rises while D simply beats a poor G",
                           "`heldout` or `train`")
    ada_target: float = _key(0.6, "ada: p rises while the signal (train.ada_signal) is above this",
                             "between 0 and 1, exclusive")
    ada_kimg: int = _key(20, "ada: thousands of images D sees for p to move by 1 (StyleGAN2-ADA: 500, for runs "
                         "of 25M images; a run here sees 30k to 3M)", "1 to 100,000")

    def __post_init__(self) -> None:
        _bounded("train.epochs", self.epochs, MAX_EPOCHS, "state files number epochs with 6 digits")
        _bounded("train.batch_size", self.batch_size, MAX_BATCH, "the largest training split")
        _bounded("train.grid_size", self.grid_size, MAX_GRID, "a 1 MP grid per epoch")
        _bounded("train.grid_every", self.grid_every, MAX_EPOCHS, "as train.epochs")
        _bounded("train.keep_checkpoints", self.keep_checkpoints, MAX_KEEP, "disk space")
        if self.log_every < 1:
            raise ConfigError(f"train.log_every must be at least 1, got {self.log_every}")
        if not 0 <= self.checkpoint_every_s < float("inf"):
            raise ConfigError(f"train.checkpoint_every_s must be 0 (every epoch end) or a number of seconds, "
                              f"got {self.checkpoint_every_s}")
        for name in ("lr_g", "lr_d"):
            if not 0 < getattr(self, name) < float("inf"):
                raise ConfigError(f"train.{name} must be positive and finite, got {getattr(self, name)}")
        if not 0 <= self.minutes < float("inf"):
            raise ConfigError(f"train.minutes must be 0 (no limit) or a number of minutes, got {self.minutes}")
        if not 0 <= self.lr_decay_start <= 1:
            raise ConfigError(f"train.lr_decay_start must be in [0, 1] (1: constant learning rates), "
                              f"got {self.lr_decay_start}")
        if not 0 <= self.ema_halflife <= 10**9:
            raise ConfigError(f"train.ema_halflife must be 0 (off) or a number of images, got {self.ema_halflife}")
        if not 0 <= self.ema_rampup <= 1:
            raise ConfigError(f"train.ema_rampup must be in [0, 1] (0: no ramp-up), got {self.ema_rampup}")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise ConfigError(f"train.precision must be 'auto', 'fp32' or 'bf16', got {self.precision!r}")
        if self.on_failure not in ("warn", "stop"):
            raise ConfigError(f"train.on_failure must be 'warn' or 'stop', got {self.on_failure!r}")
        for name in ("beta1_g", "beta2_g", "beta1_d", "beta2_d"):
            if not 0 <= getattr(self, name) < 1:
                raise ConfigError(f"train.{name} must be in [0, 1), got {getattr(self, name)}")
        if self.augment not in AUGMENTS:
            raise ConfigError(f"train.augment must be one of {', '.join(AUGMENTS)}, got {self.augment!r}")
        if not 0 <= self.augment_p <= 1:
            raise ConfigError(f"train.augment_p must be in [0, 1], got {self.augment_p}")
        if self.augment_p != 1 and self.augment != "diffaug":
            raise ConfigError("train.augment_p is diffaug's fixed probability (ada adapts its own from 0); "
                              "set train.augment=diffaug, or leave train.augment_p at 1")
        if self.ada_signal not in ADA_SIGNALS:
            raise ConfigError(f"train.ada_signal must be one of {', '.join(ADA_SIGNALS)}, got {self.ada_signal!r}")
        if not 0 < self.ada_target < 1:
            raise ConfigError(f"train.ada_target must be in (0, 1), got {self.ada_target}")
        _bounded("train.ada_kimg", self.ada_kimg, 100_000, "thousands of images")

    @property
    def ada_heldout(self) -> bool:
        """Whether ADA follows the held-out signal, so training needs the test split."""
        return self.augment == "ada" and self.ada_signal == "heldout"


@dataclass(frozen=True)
class EvalConfig:
    """The light evaluation during training, which keeps the best generator. It never
    changes the training itself, so a resume may change these settings."""

    every: int = _key(5, "epochs between light evaluations (and after the last); 0: off, and no best "
                      "generator is kept; unless set, scaled up on a set smaller than MNIST's 60,000 "
                      "training images to come as often per image", "0 or more")
    n: int = _key(2000, "samples per light evaluation, scored against as many real images",
                  f"{MIN_EVAL_N} to 10,000")

    def __post_init__(self) -> None:
        if self.every < 0:
            raise ConfigError(f"eval.every must be 0 (off) or a number of epochs, got {self.every}")
        if not MIN_EVAL_N <= self.n <= 10_000:
            raise ConfigError(f"eval.n must be between {MIN_EVAL_N} and 10000 (the test split), got {self.n}")


@dataclass(frozen=True)
class RunConfig:
    preset: str = _key("classic", "the preset this config started from (set by --preset): a label for run "
                       "tables, model cards and exports; it changes no setting")
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def __post_init__(self) -> None:  # the checks that span sections
        if self.train.batch_size % self.model.pack:
            raise ConfigError(f"train.batch_size {self.train.batch_size} must be a multiple of model.pack "
                              f"{self.model.pack}: D judges packs of {self.model.pack} images")
        if self.loss.cls_weight and not (self.model.num_classes and self.model.arch in ("dcgan", "resnet")
                                         and self.model.pack == 1 and not self.model.spectral_norm):
            raise ConfigError("loss.cls_weight needs a conditional dcgan or resnet D (model.num_classes > 0) "
                              "judging single images (model.pack=1) without spectral norm")
        if self.model.pack > 1 and self.train.augment == "ada":
            raise ConfigError("train.augment=ada does not take model.pack > 1: its overfitting signal scores single "
                              "images (use diffaug, or model.pack=1)")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


# Label smoothing held over seeds where hard targets did not (docs/explanations/robustness.md).
_SMOOTH = LossConfig(label_smoothing=0.1)
# 32 channels: 2.8x the images/s of 64 on that CPU, and a better FID at a fixed time budget
# (docs/measurements.md, "Earlier screens").
_DCGAN = ModelConfig(arch="dcgan", channels=32)
# bf16 where it is native (1.35x fp32 on AVX512_BF16 and AMX CPUs), fp32 elsewhere (bf16 emulated: 0.09x).
_DCGAN_TRAIN = TrainConfig(epochs=40, batch_size=128, ema_halflife=10_000, precision="auto")

# The spec's family at its best within twice the tutorial sizes' time (docs/measurements.md,
# "The classic preset's sizes"): G 1024 wide, D 256, an EMA of G, 40 epochs. The spec fixes the
# layers, activations, loss, optimiser and noise; the widths, the averaging of G and the length
# are ours to choose.
_CLASSIC = ModelConfig(hidden=1024, hidden_d=256)
_CLASSIC_TRAIN = TrainConfig(epochs=40, ema_halflife=10_000)

# R3GAN's loss on dcgan's networks (issue 19, docs/measurements.md, "The modern recipe at 20
# CPU-minutes"): the relativistic pairing loss with R1 and R2 at gamma 0.1, both lazy (every 16
# steps: 17 % of the step's time instead of 4.5x it), Adam betas (0, 0.99) as in R3GAN, and 48
# channels, which beat 32 on every seed at 20 CPU-minutes (not at 10: it trains half as many
# images a second).
_RPGAN = LossConfig(name="rpgan", r1_gamma=0.1, r2_gamma=0.1, r1_every=16, r2_every=16)
_RPGAN_MODEL = dataclasses.replace(_DCGAN, channels=48)
_RPGAN_TRAIN = dataclasses.replace(_DCGAN_TRAIN, beta1_g=0.0, beta1_d=0.0, beta2_g=0.99, beta2_d=0.99)
_RPGAN_COND = RunConfig("rpgan-cond", model=dataclasses.replace(_RPGAN_MODEL, num_classes=10), loss=_RPGAN,
                        train=dataclasses.replace(_RPGAN_TRAIN, grid_size=100), eval=EvalConfig(every=1))
_RPGAN_COND_LR4 = dataclasses.replace(_RPGAN_COND, preset="rpgan-cond-lr4e-4",
                                     train=dataclasses.replace(_RPGAN_COND.train, lr_g=4e-4, lr_d=4e-4))
_RPGAN_COND_CONCAT = dataclasses.replace(
    _RPGAN_COND_LR4, preset="rpgan-cond-concat",
    model=dataclasses.replace(_RPGAN_COND_LR4.model, g_cond="concat", channels_d=64),
    train=dataclasses.replace(_RPGAN_COND_LR4.train, lr_g=6e-4))
_RPGAN_COND_CONCAT_LAZY = dataclasses.replace(
    _RPGAN_COND_CONCAT, preset="rpgan-cond-concat-lazy", loss=dataclasses.replace(_RPGAN, r1_every=32, r2_every=32),
    train=dataclasses.replace(_RPGAN_COND_CONCAT.train, ema_halflife=20_000))
_RPGAN_COND_HEAD = dataclasses.replace(_RPGAN_COND_CONCAT_LAZY, preset="rpgan-cond-head",
                                       model=dataclasses.replace(_RPGAN_COND_CONCAT_LAZY.model, d_head=256))
_RPGAN_COND_HEAD512 = dataclasses.replace(_RPGAN_COND_HEAD, preset="rpgan-cond-head512",
                                          model=dataclasses.replace(_RPGAN_COND_HEAD.model, d_head=512))

_RPGAN_COND_FAST = dataclasses.replace(
    _RPGAN_COND, preset="rpgan-cond-fast",
    model=dataclasses.replace(_RPGAN_COND.model, z_dim=256, channels=32, d_head=256),
    loss=dataclasses.replace(_RPGAN, cls_weight=0.03),
    train=dataclasses.replace(_RPGAN_COND.train, epochs=48, lr_g=1.6e-3, lr_d=1.6e-3, lr_decay_start=0.5))
_RPGAN_COND_D16 = dataclasses.replace(
    _RPGAN_COND_FAST, preset="rpgan-cond-d16", model=dataclasses.replace(_RPGAN_COND_FAST.model, channels_d=16),
    train=dataclasses.replace(_RPGAN_COND_FAST.train, epochs=67))
_RPGAN_COND_QUICK = dataclasses.replace(_RPGAN_COND_D16, preset="rpgan-cond-quick",
                                        loss=dataclasses.replace(_RPGAN_COND_D16.loss, ms_weight=0.1),
                                        train=dataclasses.replace(_RPGAN_COND_D16.train, epochs=8))

PRESETS: dict[str, RunConfig] = {
    "classic": RunConfig(model=_CLASSIC, loss=_SMOOTH, train=_CLASSIC_TRAIN),
    # The default until 2026-11-30: one tutorial's sizes (two hidden layers of 256 in G and D), no EMA.
    "classic-tutorial": RunConfig("classic-tutorial", loss=_SMOOTH),
    "classic-cond": RunConfig("classic-cond", model=ModelConfig(num_classes=10), loss=_SMOOTH,
                              train=TrainConfig(grid_size=100)),
    # An epoch takes ~45 s at 1 thread: the light evaluation (~3 s) after every one.
    "dcgan": RunConfig("dcgan", model=_DCGAN, train=_DCGAN_TRAIN, eval=EvalConfig(every=1)),
    "dcgan-cond": RunConfig("dcgan-cond", model=dataclasses.replace(_DCGAN, num_classes=10),
                            train=dataclasses.replace(_DCGAN_TRAIN, grid_size=100), eval=EvalConfig(every=1)),
    "rpgan": RunConfig("rpgan", model=_RPGAN_MODEL, loss=_RPGAN, train=_RPGAN_TRAIN, eval=EvalConfig(every=1)),
    "rpgan-cond": _RPGAN_COND,
    # Twice rpgan-cond's learning rate (docs/measurements.md, "`best` at twice the learning rate"): a lower
    # FID on 8 of 9 seeds over three CPUs at 20 CPU-minutes (1 tie), at a recall 0.05 lower.
    "rpgan-cond-lr4e-4": _RPGAN_COND_LR4,
    # The label's one-hot joined to z instead of scaling it, D at 64 channels and G at 6e-4
    # (docs/measurements.md, "`best` joins the label to z"): a lower FID, more recall and more digits
    # drawn as asked than rpgan-cond-lr4e-4 on every seed on two CPUs at 20 CPU-minutes.
    "rpgan-cond-concat": _RPGAN_COND_CONCAT,
    # R1 and R2 every 32 steps instead of 16 and an average of G with twice the half-life (docs/measurements.md,
    # "`best` with cheaper penalties and a longer average"): at 20 CPU-minutes over seeds 0-4, 2.43x the floor
    # (worst 2.75x) against rpgan-cond-concat's 2.51x (2.74x), and 99.0 % drawn as asked (one CPU so far).
    "rpgan-cond-concat-lazy": _RPGAN_COND_CONCAT_LAZY,
    # D reads its features through a hidden layer of 256 (docs/measurements.md, "`best` with a hidden layer in
    # D's readout"): at 20 CPU-minutes over seeds 0-4, 2.17x the floor (worst 2.32x) against
    # rpgan-cond-concat-lazy's 2.43x (2.75x), lower on 4 of 5 seeds, at about 7 % fewer images a second.
    "rpgan-cond-head": _RPGAN_COND_HEAD,
    # A head of 512 (docs/measurements.md, "`best`'s head at 512, ..."): at 20 CPU-minutes over seeds 0-4, 2.04x the
    # floor (worst 2.11x) against rpgan-cond-head's 2.17x (2.32x), lower on 4 of 5 seeds, at 13 % fewer images a second.
    "rpgan-cond-head512": _RPGAN_COND_HEAD512,
    # The projection's classifier at 0.003 (docs/measurements.md, "`best` draws the digit asked for"): at 20
    # CPU-minutes over seeds 0-4, 99.28-99.57 % drawn as asked against rpgan-cond-head512's 98.89-99.50 %, at
    # 2.01x the floor (worst 2.22x) against 2.04x (2.11x): issue 19's CPU goals on every seed. 0.01 overshot.
    "rpgan-cond-cls": dataclasses.replace(_RPGAN_COND_HEAD512, preset="rpgan-cond-cls",
                                          loss=dataclasses.replace(_RPGAN_COND_HEAD512.loss, cls_weight=0.003)),
    # For a slow CPU: rpgan-cond-d16 for 8 epochs, about what 20 CPU-minutes buy it in fp32 on a 2-core EPYC
    # (Zen 1), with mode seeking at 0.1. On the proxy for that budget (fp32 on a Zen 3 EPYC, seeds 0-3;
    # docs/measurements.md, "The slow CPU's recipe: D at 16 with mode seeking"): 1.49x the floor (worst 1.51x),
    # recall 0.761 (0.757), 99.60-99.75 % drawn as asked, against 1.58x (1.61x), 0.774 (0.757) and 99.17-99.40 %
    # for the preset before (D at 32 for 5 epochs, with mode seeking), which was 1.95x (2.06x) and recall 0.745
    # (0.733) without it ("The slow CPU's recall: mode seeking lifts it").
    "rpgan-cond-quick": _RPGAN_COND_QUICK,
    # A small net at a high learning rate for 48 epochs, what 20 CPU-minutes buy it in bf16 on a 2-core EPYC
    # (Zen 5) (docs/measurements.md, "`best` learns fast"): at 20 CPU-minutes over seeds 0-4, 1.26x the floor
    # (worst 1.56x), recall 0.81 and 99.8-99.96 % drawn as asked, against rpgan-cond-cls's 2.01x (2.22x), 0.80 and
    # 99.3-99.6 %: lower on every seed.
    "rpgan-cond-fast": _RPGAN_COND_FAST,
    # rpgan-cond-fast with D at 16 channels, for 67 epochs: what 20 CPU-minutes buy it in bf16 on the Zen 5
    # (docs/measurements.md, "`best` with a narrower D"). At 20 CPU-minutes over seeds 0-4, 1.19x the floor
    # (worst 1.43x) there and 1.34x (1.48x) in fp32 on a Zen 3 EPYC, against rpgan-cond-fast's 1.26x (1.42x)
    # and 1.53x (1.67x): lower on 8 seeds of 10, and recall 0.766 or more on the Zen 3 (rpgan-cond-fast: 0.743).
    "rpgan-cond-d16": _RPGAN_COND_D16,
}
PRESET_ABOUT = {
    "classic": "the spec: MLP G (64 -> 1024 -> 1024 -> 784, ReLU, tanh) and D (784 -> 256 -> 256 -> 1, "
               "LeakyReLU), BCE, Adam 2e-4; EMA of G, 40 epochs",
    "classic-tutorial": "the spec at one tutorial's sizes: MLP G and D with two hidden layers of 256, no EMA",
    "classic-cond": "the spec's MLPs, conditioned: the label embedded and joined to z and to D's input",
    "dcgan": "convolutional G (7x7 -> 14x14 -> 28x28, BatchNorm) and D (strided convs), EMA of G, bf16 where native",
    "dcgan-cond": "conditional DCGAN: label embedding in G, projection discriminator; draws a chosen digit",
    "rpgan": "dcgan's networks at 48 channels, R3GAN's relativistic pairing loss with R1 and R2 (gamma 0.1, "
             "every 16 steps), Adam betas (0, 0.99)",
    "rpgan-cond": "rpgan, conditioned as dcgan-cond: draws a chosen digit",
    "rpgan-cond-lr4e-4": "rpgan-cond at twice the learning rate (4e-4 for G and D): learns faster per image",
    "rpgan-cond-concat": "rpgan-cond-lr4e-4 with the label's one-hot joined to z (model.g_cond=concat), D at 64 "
                         "channels and G at 6e-4: more variety per class",
    "rpgan-cond-concat-lazy": "rpgan-cond-concat with R1 and R2 every 32 steps and an EMA half-life of 20,000 "
                              "images",
    "rpgan-cond-head": "rpgan-cond-concat-lazy with a hidden layer of 256 (LeakyReLU) between D's convolutions and "
                       "its score and projection (model.d_head)",
    "rpgan-cond-head512": "rpgan-cond-head with the hidden layer in D's readout at 512",
    "rpgan-cond-cls": "rpgan-cond-head512 with a cross-entropy (x0.003) on the class logits D's projection holds "
                      "(loss.cls_weight): D classifies the real digits by them, G draws what they call the digit asked",
    "rpgan-cond-quick": "for a slow CPU: rpgan-cond-d16 for 8 epochs, with mode seeking at 0.1 (loss.ms_weight): G "
                        "is paid for drawing different digits from different noise",
    "rpgan-cond-fast": "rpgan-cond at 32 channels with 256-d noise, a hidden layer of 256 in D's readout, learning "
                       "rates 1.6e-3 falling to 0 over the second half, the class term at 0.03, 48 epochs (about 20 "
                       "CPU-minutes on a fast CPU): a small net at a high learning rate",
    "rpgan-cond-d16": "rpgan-cond-fast with D at 16 channels (model.channels_d=16), 67 epochs (about 20 CPU-minutes "
                      "on a fast CPU): D costs less, so G trains on more images in the same time",
}
# Names for other presets: whichever measures best at 20 CPU-minutes over seeds 0-2 (examples/sweeps/quality.toml,
# and the studies after it in docs/measurements.md), conditional (`best`, so that "draw a 7" works) and
# unconditional (`best-uncond`).
ALIASES = {"best": "rpgan-cond-d16", "best-uncond": "classic"}


def preset(name: str) -> RunConfig:
    name = ALIASES.get(name, name)
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r} (choose from {', '.join(sorted([*PRESETS, *ALIASES]))})")
    return PRESETS[name]


def _coerce(value: Any, typ: Any, where: str) -> Any:
    """Check `value` against a field type; ints are accepted where floats are expected."""
    if typ is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if typ in (int, float, str, bool) and type(value) is typ:
        return value
    raise ConfigError(f"{where}: expected {typ.__name__}, got {type(value).__name__} {value!r}")


def _merge(obj: Any, updates: dict[str, Any], where: str) -> Any:
    """A copy of dataclass `obj` with `updates` (a nested dict) applied and type-checked."""
    hints = typing.get_type_hints(type(obj))
    names = {f.name for f in dataclasses.fields(obj)}
    changes: dict[str, Any] = {}
    for key, value in updates.items():
        path = f"{where}.{key}" if where else key
        if key not in names:
            raise ConfigError(f"unknown config key {path!r} (known: {', '.join(sorted(names))})")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ConfigError(f"{path}: expected a table of settings, got {value!r}")
            changes[key] = _merge(current, value, path)
        else:
            changes[key] = _coerce(value, hints[key], path)
    return dataclasses.replace(obj, **changes)


def _migrate(d: dict[str, Any]) -> dict[str, Any]:
    """Configs saved by mnistgan 0.1 (before the loss section and per-network betas),
    before train.checkpoint_every_s replaced train.checkpoint_minutes (its mid-epoch
    interval, in minutes: the same interval, in seconds), and ADA runs from before
    train.ada_signal (r_t, `train`, was their only signal)."""
    train = d.get("train")
    if isinstance(train, dict) and train.get("augment") == "ada" and "ada_signal" not in train:
        d = d | {"train": train | {"ada_signal": "train"}}
        train = d["train"]
    if not isinstance(train, dict) or not {"label_smoothing", "beta1", "beta2", "checkpoint_minutes"} & train.keys():
        return d
    train = dict(train)
    if "checkpoint_minutes" in train:
        minutes = train.pop("checkpoint_minutes")
        number = isinstance(minutes, (int, float)) and not isinstance(minutes, bool)
        train.setdefault("checkpoint_every_s", float(minutes) * 60 if number else minutes)  # a bad value stays an error
    loss = dict(d.get("loss") or {})
    if "label_smoothing" in train:
        loss["label_smoothing"] = train.pop("label_smoothing")
    for beta in ("beta1", "beta2"):
        if beta in train:
            train[f"{beta}_g"] = train[f"{beta}_d"] = train.pop(beta)
    return d | {"train": train, "loss": loss}


def from_dict(d: dict[str, Any]) -> RunConfig:
    """Rebuild a saved config (config.json, checkpoint metadata), checking every key."""
    return _merge(RunConfig(), _migrate(d) if isinstance(d, dict) else d, "")


def model_config(d: dict[str, Any]) -> ModelConfig:
    """A model section (a weights file's constructor arguments), checked like any config."""
    return _merge(ModelConfig(), d, "model")


def parse_override(text: str) -> dict[str, Any]:
    """`train.epochs=5` -> {"train": {"epochs": 5}}; the value is parsed as TOML."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {text!r}: expected section.key=value")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()  # a bare word such as fashion-mnist is a string
    nested: dict[str, Any] = {}
    node = nested
    parts = key.strip().split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return nested


def _dotted(table: dict[str, Any], prefix: str = "") -> set[str]:
    """{"train": {"epochs": 5}} -> {"train.epochs"}."""
    keys: set[str] = set()
    for key, value in table.items():
        path = f"{prefix}{key}"
        keys |= _dotted(value, f"{path}.") if isinstance(value, dict) else {path}
    return keys


def _deep_update(into: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _deep_update(into[key], value)
        else:
            into[key] = value
    return into


def apply_overrides(cfg: RunConfig, overrides: typing.Sequence[str]) -> RunConfig:
    """Apply `section.key=value` strings (a later one wins), checked together, so that
    settings that depend on each other can change at once."""
    merged: dict[str, Any] = {}
    for text in overrides:
        _deep_update(merged, parse_override(text))
    return _merge(cfg, merged, "")


def read_config(path: str | Path) -> RunConfig:
    """A saved config.json, checked like any other config."""
    try:
        return from_dict(json.loads(Path(path).read_text()))
    except OSError as e:
        raise ConfigError(f"{path}: cannot read ({e.strerror or e})") from None
    except (json.JSONDecodeError, AttributeError, UnicodeDecodeError, RecursionError) as e:
        raise ConfigError(f"{path}: not a valid config file ({str(e)[:200]})") from None
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None


def _read_toml(toml_path: str | Path) -> dict[str, Any]:
    try:
        return tomllib.loads(Path(toml_path).read_text())
    except OSError as e:
        raise ConfigError(f"{toml_path}: cannot read ({e.strerror or e})") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{toml_path}: invalid TOML ({e})") from None


def explicit_keys(toml_path: str | Path | None = None, overrides: typing.Sequence[str] = ()) -> frozenset[str]:
    """The dotted keys the user set, in the TOML file or with `--set` ("train.batch_size"),
    as opposed to those the preset chose: a preset's sizes may be fitted to a small
    dataset (train/fit.py), the user's are not."""
    keys = _dotted(_read_toml(toml_path)) if toml_path is not None else set()
    for text in overrides:
        keys |= _dotted(parse_override(text))
    return frozenset(keys)


def load_config(
    preset_name: str = "classic",
    toml_path: str | Path | None = None,
    overrides: typing.Sequence[str] = (),
) -> RunConfig:
    """Preset, then TOML file, then `key=value` overrides."""
    cfg = preset(preset_name)
    if toml_path is not None:
        cfg = _merge(cfg, _read_toml(toml_path), "")
    return apply_overrides(cfg, overrides)
