"""Metrics for class-conditional generators: does G draw the digit it is asked for?

A conditional generator (`G.num_classes > 0`) samples with cycling labels: sample i is
asked to be class `i % num_classes` (`G.labels(n)`). Two numbers, each beside its
real floor (real test images with their true labels):
- conditional accuracy: the share of samples the evaluator classifies as the requested
  class; ~1 for a generator that follows its labels, ~1/C for one that ignores them;
- per-class FID: for each class, the FID between the samples asked for that class and
  the real reference images of that class. Each class has ~n/C images per side, so these
  are larger (more small-sample bias) than the overall FID: compare them with the floor.
"""

from __future__ import annotations

from typing import Any

import torch

from mnistgan.errors import ConfigError
from mnistgan.eval import metrics as M
from mnistgan.eval.inputs import Embedded, Pair, RealReference
from mnistgan.eval.registry import CARD, CLASSES, CONDITIONAL, LIGHT, RUNS, SWEEP, Score, metric


class TooFewSamples(ValueError):
    """A class has fewer than 2 samples on one side: no covariance, so no FID."""


def _label_tensor(labels: Any, n: int, num_classes: int, name: str) -> torch.Tensor:
    """Any int sequence -> int64 [n], each in 0..num_classes-1."""
    y = torch.as_tensor(labels).reshape(-1).cpu()
    if y.shape[0] != n:
        raise ValueError(f"{name}: {y.shape[0]} labels for {n} samples")
    if y.is_floating_point() or y.is_complex():
        raise ValueError(f"{name} must be integer class indices, got {y.dtype}")
    y = y.long()
    if n and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"{name} must lie in 0..{num_classes - 1}, got {int(y.min())}..{int(y.max())}")
    return y


def conditional_accuracy(probs: Any, labels: Any) -> float:
    """Share of samples whose evaluator argmax equals the requested label.

    probs: [N, C] softmax rows; labels: int [N] requested classes. Range 0..1, higher is better.
    """
    p = M._probs(probs)  # float64 [N, C], checked to be on the simplex
    y = _label_tensor(labels, p.shape[0], p.shape[1], "labels")  # int64 [N]
    return float((p.argmax(1) == y).double().mean())


def _accuracy_section(result: dict[str, Any]) -> tuple[Any, Any]:
    return result["conditional"]["accuracy"], result["conditional"]["floor_accuracy"]


@metric("cond_accuracy", label="Conditional accuracy", short="conditional accuracy", abbrev="cond acc",
        better="higher", about="share of samples the evaluator labels as the class asked for; 0..1",
        needs={CLASSES, CONDITIONAL}, shown={LIGHT, CARD, RUNS, SWEEP}, digits=1, percent=True,
        floor="real test images with their true labels", section=_accuracy_section)
def cond_accuracy(p: Pair) -> Score:
    assert p.cand.labels is not None  # CONDITIONAL: each sample's requested class is known
    return conditional_accuracy(p.cand.probs, p.cand.labels), None


def per_class_fid(gen_feats: Any, gen_labels: Any, real_feats: Any, real_labels: Any,
                  num_classes: int) -> list[float]:
    """[num_classes] FIDs: class c's generated features [Nc, F] against its real ones [Mc, F].

    gen_feats [N, F] with gen_labels int [N]; real_feats [M, F] with real_labels int [M].
    Raises TooFewSamples (a ValueError) naming the class if either side has fewer than 2 samples of it.
    """
    g, r = M._feature_pair(gen_feats, real_feats)  # float64 [N, F], [M, F]
    gy = _label_tensor(gen_labels, g.shape[0], num_classes, "gen_labels")  # int64 [N]
    ry = _label_tensor(real_labels, r.shape[0], num_classes, "real_labels")  # int64 [M]
    fids = []
    for c in range(num_classes):
        g_c, r_c = g[gy == c], r[ry == c]  # [Nc, F], [Mc, F]
        for side, feats in (("generated", g_c), ("real", r_c)):
            if len(feats) < 2:
                raise TooFewSamples(f"class {c} has {len(feats)} {side} sample(s); per-class FID needs at least 2")
        fids.append(M.frechet_distance(g_c, r_c))
    return fids


def conditional_section(fake: Embedded, labels: Any, real: RealReference, num_classes: int) -> dict[str, Any]:
    """The metrics.json "conditional" section for samples already embedded by the evaluator.

    fake: the generated images' features [n, F] and softmax [n, C]; labels: int [n], the
    class each was asked for (G.labels(n)); real: the reference (train) and floor (test) sets.
    """
    if num_classes != real.test.probs.shape[1]:
        raise ConfigError(f"the generator has {num_classes} classes but the {real.dataset} evaluator "
                          f"has {real.test.probs.shape[1]}")
    ref_labels = real.train_labels[real.ref_idx]  # int64 [n_ref], the reference set's labels
    try:
        gen_fid = per_class_fid(fake.feats, labels, real.ref.feats, ref_labels, num_classes)
        floor_fid = per_class_fid(real.test.feats, real.test_labels, real.ref.feats, ref_labels, num_classes)
    except TooFewSamples as e:
        raise ConfigError(f"{e}: raise -n (now {real.n}) so that every class has at least 2 images") from None
    return {"accuracy": conditional_accuracy(fake.probs, labels),
            "floor_accuracy": conditional_accuracy(real.test.probs, real.test_labels),
            "per_class_fid": gen_fid, "per_class_floor": floor_fid}
