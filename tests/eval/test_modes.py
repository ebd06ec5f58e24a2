"""Stacked MNIST modes and KL on synthetic per-channel labels, checked by hand."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from mnistgan.eval import registry as R
from mnistgan.eval.inputs import Embedded, Pair
from mnistgan.eval.modes import digit_kl, embed_channels, mode_counts, mode_kl, modes_covered

ALL = np.array(list(itertools.product(range(10), repeat=3)))  # [1000, 3]: every triple once


def test_every_mode_equally_often_covers_1000_with_kl_exactly_0():
    labels = np.tile(ALL, (26, 1))  # 26,000 samples, 26 per mode
    assert modes_covered(labels) == 1000
    assert mode_kl(labels) == 0.0


def test_one_mode_only_covers_1_with_kl_ln_1000():
    labels = np.tile([[3, 1, 4]], (500, 1))
    assert modes_covered(labels) == 1
    assert mode_kl(labels) == pytest.approx(math.log(1000), abs=1e-12)
    assert mode_counts(labels)[314] == 500  # the first channel is the leading digit


def test_a_known_histogram_matches_the_hand_computation():
    # modes 007 x3, 123 x2, 999 x1: p = (1/2, 1/3, 1/6); KL = sum p ln(1000 p)
    labels = [[0, 0, 7]] * 3 + [[1, 2, 3]] * 2 + [[9, 9, 9]]
    by_hand = 0.5 * math.log(500) + (1 / 3) * math.log(1000 / 3) + (1 / 6) * math.log(1000 / 6)
    assert modes_covered(labels) == 3
    assert mode_kl(labels) == pytest.approx(by_hand, rel=1e-12)


def test_digit_kl_is_the_channels_digit_balance_and_the_rest_of_mode_kl_is_their_dependence():
    # uniform triples: every channel balanced, so no digit KL and no mode KL
    assert digit_kl(np.tile(ALL, (2, 1))) == 0.0
    # each channel draws 0 half the time and 1..9 evenly otherwise, independently: by hand,
    # KL(p_c || U10) = 0.5 ln 5 + 9 (1/18) ln(10/18) per channel; mode KL is exactly three of them
    per_channel = [0] * 9 + list(range(1, 10))  # 18 labels: 0 nine times, 1..9 once each
    labels = np.array(list(itertools.product(per_channel, repeat=3)))  # the product: independent channels
    by_hand = 0.5 * math.log(5) + 0.5 * math.log(10 / 18)
    assert digit_kl(labels) == pytest.approx(3 * by_hand, rel=1e-12)
    assert mode_kl(labels) == pytest.approx(digit_kl(labels), rel=1e-12)
    # balanced channels that always agree (000, 111, ...): no digit KL, all of it dependence
    agree = np.repeat(np.arange(10), 3).reshape(10, 3)
    assert digit_kl(agree) == 0.0 and mode_kl(agree) == pytest.approx(math.log(100), rel=1e-12)


def test_per_channel_probabilities_are_argmaxed():
    labels = torch.tensor([[0, 0, 7], [1, 2, 3], [1, 2, 3]])
    probs = torch.nn.functional.one_hot(labels, 10).double() * 0.9 + 0.01  # [3, 3, 10]
    assert mode_kl(probs) == mode_kl(labels) and modes_covered(probs) == 2


@pytest.mark.parametrize("bad", [np.array([[0, 0, 10]]), np.array([[0.5, 0, 1]]), np.array([1, 2, 3]),
                                 np.zeros((0, 3), dtype=int)])
def test_bad_labels_are_refused(bad):
    with pytest.raises(ValueError):
        mode_kl(bad)


def test_the_registered_metrics_read_the_candidates_channel_labels():
    feats, probs = torch.zeros(26, 4, dtype=torch.float64), torch.full((26, 10), 0.1, dtype=torch.float64)
    cand = Embedded(feats, probs, channel_labels=torch.tensor([[3, 1, 4]] * 26))
    values = R.compute(Pair(cand, cand, 0), ("modes", "mode_kl", "digit_kl"))
    assert values == {"modes": (1.0, None), "mode_kl": (pytest.approx(math.log(1000)), None),
                      "digit_kl": (pytest.approx(3 * math.log(10)), None)}


def test_they_need_channel_labels_and_are_skipped_without_them():
    for key in ("modes", "mode_kl", "digit_kl"):
        assert R.get(key).needs == {R.CHANNEL_LABELS}
        assert key not in R.metrics(have=R.available(labelled=True, conditional=True))
        assert key in R.metrics(R.EVALUATE, R.available(labelled=True, channel_labels=True))


def test_each_channel_is_seen_by_the_evaluator_as_an_image_of_its_base_set():
    def embed(images):  # a fake evaluator: the digit is the image's mean pixel value
        digit = images.reshape(len(images), -1).double().mean(1).long()
        return digit.double()[:, None].repeat(1, 4), torch.nn.functional.one_hot(digit, 10).double()

    images = torch.stack([torch.full((5, 28, 28), c, dtype=torch.uint8) for c in (3, 1, 4)], dim=1)  # [5, 3, 28, 28]
    feats, probs, labels = embed_channels(embed, images)
    assert torch.equal(labels, torch.tensor([[3, 1, 4]] * 5))
    assert feats.shape == (5, 12) and torch.equal(feats[0], torch.tensor([3.0] * 4 + [1.0] * 4 + [4.0] * 4))
    assert torch.allclose(probs.sum(1), torch.ones(5, dtype=torch.float64))
    assert torch.allclose(probs[0, [1, 3, 4]], torch.full((3,), 1 / 3, dtype=torch.float64))


def test_the_k_nn_metrics_need_at_most_full_n_samples():
    """At the 26,000 samples of a mode count, precision/recall and density/coverage
    (O(n^2) neighbours) are left out; FID and the mode metrics are not."""
    big = R.metrics(R.EVALUATE, R.available(labelled=False, channel_labels=True, neighbours=False))
    assert {"fid_lenet", "kid_lenet", "modes", "mode_kl", "digit_kl"} <= set(big)
    assert not {"precision", "recall", "density", "coverage"} & set(big)
