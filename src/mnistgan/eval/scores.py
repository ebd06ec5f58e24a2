"""The metrics of the evaluator's features and class probabilities, registered.

The maths is in eval/metrics.py; here each one gets its name, needs, direction and display.
KID is not in the light evaluation: its 100 subsets cost more than the rest together (6 s of
10 s at n = 2000 on one core), and FID alone picks the best generator.
"""

from __future__ import annotations

from typing import Any

from mnistgan.eval import metrics as M
from mnistgan.eval.inputs import Pair
from mnistgan.eval.registry import (CARD, CLASSES, EVALUATE, FEATURES, LIGHT, NEIGHBOURS, RUNS, SWEEP, WEB,
                                    Score, metric)

TABLE = (EVALUATE, CARD)


@metric("fid_lenet", label="FID (evaluator features)", short="FID", better="lower",
        about="Fréchet distance between Gaussians fitted to evaluator features; >= 0",
        needs={FEATURES}, shown={*TABLE, LIGHT, RUNS, SWEEP, WEB}, floor_column="floor", column="fid")
def fid_lenet(p: Pair) -> Score:
    return M.frechet_distance(p.cand.feats, p.ref.feats), None


@metric("kid_lenet", label="KID (evaluator features)", short="KID", better="lower",
        about="unbiased MMD^2, cubic polynomial kernel, mean ± std over 100 subsets; ~0 for same distribution",
        needs={FEATURES}, shown=TABLE)
def kid_lenet(p: Pair) -> Score:
    n = min(len(p.cand.feats), len(p.ref.feats))
    return M.kernel_inception_distance(p.cand.feats, p.ref.feats, subsets=100, subset_size=min(1000, n), seed=p.seed)


@metric("mnist_score", label="Classifier score (IS)", short="classifier score", better="higher",
        about="exp E[KL(p(y|x) || p(y))] with the evaluator's softmax; 1..10", needs={CLASSES}, shown={*TABLE, LIGHT})
def mnist_score(p: Pair) -> Score:
    return M.classifier_score(p.cand.probs, splits=10)


@metric("precision", label="Precision (k=3)", short="precision", better="higher",
        about="share of samples inside the real manifold; 0..1", needs={FEATURES, NEIGHBOURS}, shown={*TABLE, LIGHT})
def precision(p: Pair) -> Score:
    return p.pr[0], None


@metric("recall", label="Recall (k=3)", short="recall", better="higher",
        about="share of real images inside the samples' manifold; 0..1", needs={FEATURES, NEIGHBOURS},
        shown={*TABLE, LIGHT, SWEEP})
def recall(p: Pair) -> Score:
    return p.pr[1], None


@metric("density", label="Density (k=3)", short="density", better="higher",
        about="how many real neighbourhoods hold each sample; ~1 for real data", needs={FEATURES, NEIGHBOURS},
        shown=TABLE)
def density(p: Pair) -> Score:
    return p.dc[0], None


@metric("coverage", label="Coverage (k=3)", short="coverage", better="higher",
        about="share of real neighbourhoods holding a sample; 0..1", needs={FEATURES, NEIGHBOURS}, shown=TABLE)
def coverage(p: Pair) -> Score:
    return p.dc[1], None


def _classes_section(result: dict[str, Any]) -> tuple[Any, Any]:
    c = result["classes"]
    return c["classes_covered"], c["real"]["classes_covered"]


@metric("classes_covered", label="Classes covered", short="classes covered", better="higher",
        about="classes drawn at least 25% as often as in the real data (the class histogram); 0..C",
        needs={CLASSES}, shown={LIGHT, CARD, SWEEP}, column="classes", floor_column="floor_classes",
        section=_classes_section)
def classes_covered(p: Pair) -> Score:
    assert p.fractions is not None  # CLASSES: the reference is labelled
    return M.class_histogram(p.cand.probs, len(p.fractions), real_fractions=p.fractions).classes_covered, None
