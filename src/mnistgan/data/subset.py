"""data.subset: train on a seeded, class-balanced part of the training split (1% or 10% of
MNIST, for the data-efficiency table of docs/how-to/small-datasets.md).

Class-balanced as a stratified sample: each class keeps its share of the split (largest
remainders round the counts), so the classes the evaluator's reference set holds are the
ones the generator was shown. The same data.subset and data.subset_seed give the same
rows on every machine, whatever train.seed is: seeds vary the training, not the data.
The test split, the evaluation's reference set and its floor stay whole.
"""

from __future__ import annotations

import torch

from mnistgan.errors import ConfigError


def subset_count(n: int, subset: float) -> int:
    """How many of a split's n images data.subset keeps: a share of them (subset <= 1,
    rounded, at least 1), or a number of images (subset > 1), at most n."""
    if subset <= 1:
        return max(1, round(n * subset))
    if subset != int(subset) or subset > n:
        raise ConfigError(f"data.subset must be a share in (0, 1] or a whole number of images up to the {n} of "
                          f"the training split, got {subset:g}")
    return int(subset)


def subset_rows(labels: torch.Tensor, subset: float, seed: int) -> torch.Tensor:
    """The rows of a split with labels [N] that data.subset keeps, in order: int64 [k]."""
    n = labels.shape[0]
    k = subset_count(n, subset)
    gen = torch.Generator().manual_seed(seed)
    counts = labels.bincount()  # [C]; an unlabelled split is all class 0
    quota = counts.double() * k / n
    take = quota.floor().long()
    short = k - int(take.sum())
    if short:  # the largest remainders get one more; ties: the lower class
        order = torch.argsort(quota - take, descending=True, stable=True)
        take[order[:short]] += 1
    rows = []
    for c in range(counts.shape[0]):
        members = (labels == c).nonzero().squeeze(1)
        rows.append(members[torch.randperm(members.shape[0], generator=gen)[: int(take[c])]])
    return torch.cat(rows).sort().values
