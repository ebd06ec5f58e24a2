"""Augmentation that D sees: DiffAugment (Zhao et al. 2020) and adaptive ADA (Karras et
al. 2020, StyleGAN2-ADA), for small training sets (train.augment).

Every image D is shown, real or generated, in D's update, R1's and G's, first passes
through the same random transforms, so D cannot memorise a small training set. They are
differentiable, so G's gradients flow through them; and since real and generated images
get the same ones, G still learns the un-augmented images (as long as the transforms do
not "leak": DiffAugment's are mild enough to apply to every image; ADA keeps p below
where it would). `AugmentedD` is D as the step calls it, D(augment(x), y): the losses
call D as before and own the maths; the step does not change.

R1 is taken as in StyleGAN2-ADA: D sees the augmented reals, and the gradient is with
respect to the reals before augmentation (the R1 class differentiates D(augment(x))
with respect to its input x).

The transforms, on [B, 1, H, W] images in [-1, 1] with a black (-1) background:
- translation by whole pixels, up to 1/8 of the side (DiffAugment), the background filling in;
- rotation by up to ROTATE degrees either way (small: a 6 turned far is a 9);
- scaling by 2^u, |u| <= SCALE;
- brightness: plus u - 0.5, u ~ U(0, 1) (DiffAugment);
- contrast: the deviation from the image's mean times u + 0.5 (DiffAugment);
- cutout: a square of half the side set to the background (DiffAugment).
No flips: a mirrored 2 or 7 is not a digit. The geometric ones make one affine map per
image, sampled once (affine_grid, grid_sample). Each transform applies to each image
with probability p. Every random number is drawn whatever p is, from the augmentation's
own generator on the images' device, so the stream, and exact resume, do not depend on p.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mnistgan.tensors import as_input
from mnistgan.train.step import Amp

# What each train.augment applies: DiffAugment's policy (its colour, less saturation: the
# images are grey), and ADA's, which adds the geometric transforms of its "bgc" pipeline.
POLICIES = {
    "diffaug": ("translation", "brightness", "contrast", "cutout"),
    "ada": ("translation", "rotation", "scaling", "brightness", "contrast", "cutout"),
}
TRANSLATE = 0.125  # of the side, rounded to whole pixels: 4 at 28
ROTATE = 10.0  # degrees
SCALE = 0.2  # log2 of the scale factor: 0.87x to 1.15x
CUTOUT = 0.5  # of the side
ADA_INTERVAL = 4  # steps between adjustments of p (StyleGAN2-ADA's)


def geometric(x: torch.Tensor, shift: torch.Tensor, angle: torch.Tensor, log2_scale: torch.Tensor) -> torch.Tensor:
    """Move each image [B, 1, H, W] by shift [B, 2] pixels (x, y), turn it by angle [B]
    radians and scale it by 2^log2_scale [B], about its centre; the background (-1) fills in."""
    B, _, H, W = x.shape
    inv = torch.exp2(-log2_scale)  # output coordinates -> input ones: the inverse map
    cos, sin = torch.cos(angle) * inv, torch.sin(angle) * inv
    tx, ty = -2 * shift[:, 0] / W, -2 * shift[:, 1] / H  # content moves by +shift
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)  # [B, 2, 3]
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x + 1, grid, mode="bilinear", padding_mode="zeros", align_corners=False) - 1


def brightness(x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Add u - 0.5 to each image (u [B] in [0, 1]; 0.5: unchanged)."""
    return x + (u - 0.5).view(-1, 1, 1, 1)


def contrast(x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Scale each image's deviation from its mean by u + 0.5 (u [B] in [0, 1]; 0.5: unchanged)."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (u + 0.5).view(-1, 1, 1, 1) + mean


def cutout(x: torch.Tensor, centre: torch.Tensor, on: torch.Tensor) -> torch.Tensor:
    """Set a square of CUTOUT x the side, centred at centre [B, 2] (whole pixels x, y,
    clipped at the border), to the background, in the images where on [B] is true."""
    B, _, H, W = x.shape
    size = int(H * CUTOUT + 0.5)
    rows = torch.arange(H, device=x.device) - (centre[:, 1:2] - size // 2)  # [B, H]: row - square's top
    cols = torch.arange(W, device=x.device) - (centre[:, 0:1] - size // 2)
    hole = (rows >= 0) & (rows < size) & on[:, None]  # [B, H]
    hole = hole[:, :, None] & ((cols >= 0) & (cols < size))[:, None, :]  # [B, H, W]
    keep = (~hole).unsqueeze(1).to(x.dtype)
    return (x + 1) * keep - 1


class Augment(nn.Module):
    """The transforms of `policy`, each applied to each image with probability p (a
    buffer on the device: ADA moves it without a host sync). With `target`, p adapts as
    in StyleGAN2-ADA: every ADA_INTERVAL steps, r = the mean over the interval of the
    steps' overfitting signal, and p moves by sign(r - target) x the images D saw /
    (kimg x 1000), within [0, 1]. The signal is the step's E[sign(D's raw score on
    reals)] (StyleGAN2-ADA's r_t), or with `heldout` set, HeldOut's. Holds the generator
    it draws from: its state, p and the interval's sums go into the checkpoint."""

    def __init__(self, policy: tuple[str, ...], p: float, generator: torch.Generator,
                 target: float | None = None, rate: float = 0.0) -> None:
        super().__init__()
        self.policy, self.gen, self.target, self.rate = policy, generator, target, rate
        device = generator.device
        self.register_buffer("p", torch.tensor(float(p), device=device))
        self.signs = torch.zeros((), device=device)  # the interval's sum of the signal
        self.count = 0  # steps in the interval so far
        self.last = torch.zeros((), device=device)  # the last interval's mean signal, for the log
        self.heldout: HeldOut | None = None  # train.ada_signal=heldout: the loop sets it

    def _uniform(self, B: int, *shape: int) -> torch.Tensor:
        return torch.rand(B, *shape, generator=self.gen, device=self.gen.device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, 1, H, W] -> the same shape, each image with its own random transforms."""
        if x.device.type == "cpu" and not self.p:  # ADA at p = 0 draws nothing and returns x as it is.
            return x  # (Only on the CPU, where reading p is free: on a GPU it would wait for the device.)
        B, _, H, W = x.shape
        draws = {name: (self._uniform(B) < self.p, self._uniform(B, 2)) for name in self.policy}  # (on, params)
        zero = torch.zeros(B, device=x.device)

        def amount(name: str, scale: float) -> torch.Tensor:  # (2u - 1) x scale where on, else 0
            if name not in draws:
                return zero
            on, u = draws[name]
            return torch.where(on, (2 * u[:, 0] - 1) * scale, zero)

        if {"translation", "rotation", "scaling"} & draws.keys():
            shift = torch.zeros(B, 2, device=x.device)
            if "translation" in draws:
                on, u = draws["translation"]
                most = int(W * TRANSLATE + 0.5)
                shift = torch.where(on[:, None], (u * (2 * most + 1)).floor().clamp(max=2 * most) - most, shift)
            x = geometric(x, shift, amount("rotation", math.radians(ROTATE)), amount("scaling", SCALE))
        for name, transform in (("brightness", brightness), ("contrast", contrast)):
            if name in draws:
                on, u = draws[name]
                x = transform(x, torch.where(on, u[:, 0], 0.5).to(x.dtype))
        if "cutout" in draws:
            on, u = draws["cutout"]
            x = cutout(x, (u * torch.tensor([W, H], device=x.device)).floor().long(), on)
        return x

    def adapt(self, sign_real: torch.Tensor, D: nn.Module | None = None, real: torch.Tensor | None = None,
              y: torch.Tensor | None = None, amp: Amp = contextlib.nullcontext) -> None:
        """After each step, with the step's E[sign(D's raw score on reals)] (a 0-d tensor),
        and for the held-out signal the raw D, the step's reals and their labels."""
        if self.target is None:
            return
        self.signs += sign_real if self.heldout is None else self.heldout.signal(D, self, real, y, amp)
        self.count += 1
        if self.count == ADA_INTERVAL:
            self.last.copy_(self.signs / ADA_INTERVAL)
            self.p.copy_((self.p + torch.sign(self.last - self.target) * self.rate).clamp(0, 1))
            self.signs.zero_()
            self.count = 0

    def log(self) -> dict[str, float]:
        """For a metrics.jsonl line: p and the last interval's signal, when p adapts."""
        return {"augment_p": float(self.p), "ada_signal": float(self.last)} if self.target is not None else {}

    def state(self) -> dict[str, Any]:
        return {"p": self.p.cpu(), "rng": self.gen.get_state(), "signs": self.signs.cpu(), "count": self.count,
                "last": self.last.cpu()}

    def load(self, saved: dict[str, Any]) -> None:
        self.p.copy_(saved["p"])
        self.gen.set_state(saved["rng"])
        self.signs.copy_(saved["signs"])
        self.count = int(saved["count"])
        self.last.copy_(saved.get("last", torch.zeros(())))  # a checkpoint from before it was logged: 0


class HeldOut:
    """ADA's held-out signal (train.ada_signal=heldout): how often D, as it sees images
    (through the augmentation), scores one of the step's training reals above a held-out
    real, over B / ADA_INTERVAL pairs a step: the train-test AUC of `mnistgan evaluate`,
    estimated. 0.5 while D treats its training images like unseen ones, towards 1 as it
    memorises them; unlike r_t it does not rise because D is winning against a poor G
    (StyleGAN2-ADA's validation heuristic r_v, as a ranking: shift-invariant, so any loss
    has it). The held-out rows are drawn with the augmentation's generator (exact resume)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        self.images, self.labels = images, labels  # uint8 [N, (C,) 28, 28], int64 [N], on the device

    @torch.no_grad()
    def signal(self, D: nn.Module, augment: Augment, real: torch.Tensor, y: torch.Tensor | None,
               amp: Amp) -> torch.Tensor:
        m = max(1, real.shape[0] // ADA_INTERVAL)
        rows = torch.randint(self.images.shape[0], (m,), generator=augment.gen, device=augment.gen.device)
        with amp():  # the augmentation's generator is on the training device, as the images are
            s_train = D(augment(real[:m]), None if y is None else y[:m]).float().flatten()
            s_held = D(augment(as_input(self.images[rows])), None if y is None else self.labels[rows]).float().flatten()
        return (s_train > s_held).float().mean() + 0.5 * (s_train == s_held).float().mean()


def build_augment(augment: str, p: float, target: float, kimg: int, images_per_step: int, seed: int,
                  device: torch.device) -> Augment | None:
    """train.augment's pipeline (None for "none"): diffaug at the fixed p; ada from p = 0,
    moving by images_per_step x ADA_INTERVAL / (kimg x 1000) per interval."""
    if augment == "none":
        return None
    gen = torch.Generator(device).manual_seed(seed)
    if augment == "diffaug":
        return Augment(POLICIES["diffaug"], p, gen)
    return Augment(POLICIES["ada"], 0.0, gen, target, images_per_step * ADA_INTERVAL / (kimg * 1000))


class AugmentedD(nn.Module):
    """D as the step calls it: D(augment(x), y). Holds no weights of its own: the raw D's
    parameters are the optimizer's, as with torch.compile's wrapper."""

    def __init__(self, D: nn.Module, augment: Augment) -> None:
        super().__init__()
        self.D, self.augment = D, augment

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.D(self.augment(x), y)
