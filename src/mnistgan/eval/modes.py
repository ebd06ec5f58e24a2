"""Stacked MNIST mode coverage (VEEGAN, PacGAN, R3GAN): three digits are the three channels of
one image, so there are 10^3 = 1000 modes, one per triple of digit labels. Each channel is
labelled by the MNIST evaluator (`embed_channels`), over N = 26,000 samples as the papers.

- modes:   how many of the 1000 triples the generated samples hit (higher is better);
- mode_kl: KL(p_generated || uniform over the 1000) in nats, natural log as in PacGAN's code
           (lower is better; 0 iff every mode has the same count, ln 1000 = 6.91 for one mode).
           Sampling alone puts a perfect model near (K - 1) / 2N: 0.019 at N = 26,000.
- digit_kl: the part of mode_kl that each channel's digit shares make: the sum over channels of
           KL(p_c || uniform over 10). The rest, KL(p || p_1 p_2 p_3), is the channels' dependence
           (an exact split for a histogram), and sampling alone puts most of the real floor's KL
           there: a skewed digit balance and channels that are not independent are told apart.

Both need the evaluator's digit for each channel (CHANNEL_LABELS), so they run only on
data with more than one channel, and are skipped elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from mnistgan.eval.inputs import Pair
from mnistgan.eval.registry import CARD, CHANNEL_LABELS, EVALUATE, LIGHT, RUNS, SWEEP, Score, metric

DIGITS = 10  # classes per channel
N = 26_000  # samples the papers count modes over (PacGAN, VEEGAN): `evaluate`'s n on a stacked set
FLOOR = ("the same on n real stacked test images, each channel labelled by the evaluator "
         "(sampling alone gives a perfect model a KL near (K - 1) / 2N)")


def channel_digits(channel_labels: Any, classes: int = DIGITS) -> torch.Tensor:
    """Per-channel labels -> int64 [N, C], checked: integers [N, C] in 0..classes-1, or
    probabilities [N, C, classes] (argmaxed)."""
    t = torch.as_tensor(np.asarray(channel_labels) if not isinstance(channel_labels, torch.Tensor)
                        else channel_labels).cpu()
    if t.ndim == 3:
        if t.shape[2] != classes:
            raise ValueError(f"per-channel probabilities must be [N, C, {classes}], got {tuple(t.shape)}")
        t = t.argmax(2)
    if t.ndim != 2 or t.is_floating_point() or t.is_complex():
        raise ValueError(f"per-channel labels must be integers [N, C], got {tuple(t.shape)} {t.dtype}")
    t = t.long()
    if len(t) == 0:
        raise ValueError("no samples")
    if t.min() < 0 or t.max() >= classes:
        raise ValueError(f"per-channel labels must lie in 0..{classes - 1}")
    return t


def mode_ids(channel_labels: Any, classes: int = DIGITS) -> tuple[torch.Tensor, int]:
    """Per-channel labels -> (mode index int64 [N], number of modes classes^C)."""
    t = channel_digits(channel_labels, classes)
    weights = classes ** torch.arange(t.shape[1] - 1, -1, -1)  # [C]: the first channel is the leading digit
    return t @ weights, classes ** t.shape[1]


def mode_counts(channel_labels: Any, classes: int = DIGITS) -> torch.Tensor:
    """int64 [classes^C]: how many samples hit each mode."""
    ids, k = mode_ids(channel_labels, classes)
    return torch.bincount(ids, minlength=k)


def modes_covered(channel_labels: Any, classes: int = DIGITS) -> int:
    return int((mode_counts(channel_labels, classes) > 0).sum())


def kl_to_uniform(counts: torch.Tensor) -> float:
    """KL(p || uniform) = sum_i p_i ln(p_i K) over the bins hit, in nats, for integer counts [K].

    p_i K = c_i K / N is formed from integers, so equal counts give ln(1) = 0 exactly."""
    n, k = int(counts.sum()), len(counts)
    hit = counts[counts > 0]
    p = hit.double() / n
    return max(float((p * ((hit * k).double() / n).log()).sum()), 0.0)


def mode_kl(channel_labels: Any, classes: int = DIGITS) -> float:
    """KL(p || uniform over the classes^C modes), nats."""
    return kl_to_uniform(mode_counts(channel_labels, classes))


def digit_counts(channel_labels: Any, classes: int = DIGITS) -> torch.Tensor:
    """int64 [C, classes]: how often each channel draws each digit."""
    t = channel_digits(channel_labels, classes)
    return torch.stack([torch.bincount(t[:, c], minlength=classes) for c in range(t.shape[1])])


def digit_kl(channel_labels: Any, classes: int = DIGITS) -> float:
    """sum over channels c of KL(p_c || uniform over `classes`), nats: p_c the share of each
    digit in channel c. 0 when every channel draws every digit equally often."""
    return sum(kl_to_uniform(counts) for counts in digit_counts(channel_labels, classes))


def embed_channels(embed: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
                   images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each channel of uint8 images [N, C, H, W] through the evaluator, as an image of the base
    set: (the channels' features side by side [N, C*F], their class probabilities averaged
    [N, 10], each channel's digit int64 [N, C]). FID and the other feature metrics then
    compare the joint distribution of the C digits' features."""
    views = [embed(images[:, c]) for c in range(images.shape[1])]
    feats = torch.cat([f for f, _ in views], dim=1)
    probs = torch.stack([p for _, p in views]).mean(0)
    return feats, probs, torch.stack([p.argmax(1) for _, p in views], dim=1)


# What the papers report on Stacked MNIST: (method, modes of 1000, KL, source). Their protocol
# (PacGAN's code): 128,000 stacked training images, 26,000 samples, a Keras MNIST CNN per channel.
PUBLISHED = (
    ("DCGAN", 99, 3.40, "VEEGAN paper (Srivastava et al. 2017), Table 2"),
    ("Unrolled GAN", 48.7, 4.32, "VEEGAN paper, Table 2"),
    ("VEEGAN", 150, 2.95, "VEEGAN paper, Table 2"),
    ("DCGAN, PacGAN's run (mean of 10)", 78.9, 4.50, "PacGAN paper (Lin et al. 2018), Table 2"),
    ("PacDCGAN2 (mean of 10 trials)", 1000, 0.06, "PacGAN paper, Table 2"),
    ("StyleGAN2", 940, 0.42, "R3GAN paper (Huang et al. 2024), Table 3"),
    ("R3GAN", 1000, 0.029, "R3GAN paper, Table 3"),
)


def published_lines() -> list[str]:
    """The published rows, for `evaluate`'s text beside a stacked run's own figures."""
    return ["published (modes of 1000 / KL):"] + [f"  {method:<34}{m:>7g} / {kl:<6g} {source}"
                                                  for method, m, kl, source in PUBLISHED]


SHOWN = {EVALUATE, CARD, LIGHT, RUNS, SWEEP}


@metric("modes", label="Modes covered (Stacked MNIST)", short="modes", better="higher",
        about="triples of digits (one per channel) hit by the samples; 0..1000", needs={CHANNEL_LABELS},
        shown=SHOWN, floor=FLOOR, floor_column="floor_modes")
def modes(p: Pair) -> Score:
    assert p.cand.channel_labels is not None  # CHANNEL_LABELS
    return float(modes_covered(p.cand.channel_labels)), None


@metric("mode_kl", label="KL to uniform modes (Stacked MNIST)", short="mode KL", better="lower",
        about="KL(p_generated || uniform over the 1000 modes), nats; 0 for a uniform histogram, 6.91 for one mode",
        needs={CHANNEL_LABELS}, shown=SHOWN, floor=FLOOR, floor_column="floor_mode_kl")
def mode_kl_metric(p: Pair) -> Score:
    assert p.cand.channel_labels is not None  # CHANNEL_LABELS
    return mode_kl(p.cand.channel_labels), None


@metric("digit_kl", label="KL of the digit shares (Stacked MNIST)", short="digit KL", better="lower",
        about="sum over the channels of KL(digit shares || uniform over 10), nats: the part of mode KL that the "
              "digit balance makes; the rest is dependence between channels",
        needs={CHANNEL_LABELS}, shown={EVALUATE, CARD}, floor=FLOOR)
def digit_kl_metric(p: Pair) -> Score:
    assert p.cand.channel_labels is not None  # CHANNEL_LABELS
    return digit_kl(p.cand.channel_labels), None
