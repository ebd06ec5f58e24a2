"""What the metrics are fed: embedded images, a candidate set against the reference set, and
the real reference with its floor. Plain data; no metric is computed here except the k-NN
radii, once per pair."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import torch

from mnistgan.eval import metrics as M


@dataclass(frozen=True)
class Embedded:
    feats: torch.Tensor  # float64 [N, 128], the evaluator's penultimate layer
    probs: torch.Tensor  # float64 [N, C], its softmax
    labels: torch.Tensor | None = None  # int64 [N]: the class asked for (generated) or the true class (real)
    channel_labels: torch.Tensor | None = None  # int64 [N, channels]: the evaluator's digit for each channel


class Pair:
    """A candidate set against the reference set; shared work (k-NN radii) is done once.
    `fractions` are the real class shares of the training split (float64 [C]), when labelled."""

    def __init__(self, cand: Embedded, ref: Embedded, seed: int, fractions: torch.Tensor | None = None) -> None:
        self.cand, self.ref, self.seed, self.fractions = cand, ref, seed, fractions

    def with_candidate(self, cand: Embedded) -> Pair:
        """The same reference, another candidate set (the generated images)."""
        return Pair(cand, self.ref, self.seed, self.fractions)

    @cached_property
    def pr(self) -> tuple[float, float]:
        return M.precision_recall(self.ref.feats, self.cand.feats, k=3)

    @cached_property
    def dc(self) -> tuple[float, float]:
        return M.density_coverage(self.ref.feats, self.cand.feats, k=3)


@dataclass(frozen=True)
class RealReference:
    dataset: str
    classes: tuple[str, ...]  # the dataset's class names; () when it has no labels
    n: int
    seed: int
    train_images: torch.Tensor  # uint8 [60000, 28, 28], all of it: the memorisation search space
    train_labels: torch.Tensor
    ref_idx: torch.Tensor  # [n] rows of the train split forming the reference set
    test_idx: torch.Tensor  # [n] rows of the test split forming the floor's candidate set
    test_images: torch.Tensor  # uint8 [n, 28, 28]
    test_labels: torch.Tensor  # int64 [n], their true classes
    ref: Embedded
    test: Embedded
    floor: dict[str, tuple[float, float | None]]

    def real_fractions(self) -> torch.Tensor:
        """float64 [C]: the share of each class in the training split."""
        counts = self.train_labels.bincount(minlength=len(self.classes)).double()
        return counts / counts.sum()

    def floor_pair(self) -> Pair:
        """Real test images (with their true labels) as the candidate set: the real floor."""
        test = Embedded(self.test.feats, self.test.probs, self.test_labels, self.test.channel_labels)
        return Pair(test, self.ref, self.seed, self.real_fractions() if self.classes else None)
