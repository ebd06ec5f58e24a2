"""Pseudo-labels for a set without labels (`mnistgan data import --labels clusters`).

A conditional G and D learn far more from labels than without them (the projection gives D
a question per class, and G one mode at a time), so a set without labels borrows some: the
images are grouped by k-means on their top principal components, the way self-conditioned
GANs (Liu et al., CVPR 2020) borrow labels from clusters. Each cluster is then filled to an
equal share, nearest first, because a conditional G is sampled with balanced labels (class
i % k): equal clusters make its samples the set's own mix.

Hand-written rather than scikit-learn's KMeans: that would be a large dependency for 30
lines, and the equal-share assignment it lacks is the part that matters here.
"""

from __future__ import annotations

import numpy as np
import torch

from mnistgan.errors import DataError

DIMS = 50  # principal components: 82 % of MNIST's pixel variance
ITERS = 30  # Lloyd steps after k-means++
DEFAULT_K = 10


def dims(n_train: int) -> int:
    """The principal components used for n_train images (no more than there are images)."""
    return min(DIMS, n_train)


def _flat(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images.reshape(len(images), -1).astype(np.float32) / 255)


def _kmeans(x: torch.Tensor, k: int, gen: torch.Generator) -> torch.Tensor:
    """k centres: k-means++ seeding, then ITERS Lloyd steps."""
    centres = x[torch.randint(len(x), (1,), generator=gen)]
    for _ in range(k - 1):
        d2 = torch.cdist(x, centres).min(1).values ** 2
        centres = torch.cat([centres, x[torch.multinomial(d2 / d2.sum(), 1, generator=gen)]])
    for _ in range(ITERS):
        nearest = torch.cdist(x, centres).argmin(1)
        centres = torch.stack([x[nearest == j].mean(0) if (nearest == j).any() else centres[j] for j in range(k)])
    return centres


def _equal_share(x: torch.Tensor, centres: torch.Tensor) -> np.ndarray:
    """Each image to a centre, nearest pairs first, no centre taking more than ceil(n / k)."""
    k = len(centres)
    room = np.full(k, -(-len(x) // k))
    label = np.full(len(x), -1, dtype=np.int64)
    order = np.argsort(torch.cdist(x, centres).numpy(), axis=None, kind="stable")
    for i, j in zip(*np.divmod(order, k)):
        if label[i] < 0 and room[j] > 0:
            label[i] = j
            room[j] -= 1
    return label


def cluster_labels(train: np.ndarray, test: np.ndarray, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Labels 0..k-1 for the train and test images (uint8 [N, ...]), from clusters of the
    train images: equal shares of each split, the same seed giving the same labels."""
    if not 2 <= k <= len(test):
        raise DataError(f"--clusters {k}: give 2 to {len(test)} (the test split's size) clusters")
    gen = torch.Generator().manual_seed(seed)
    x = _flat(train)
    mean = x.mean(0)
    with torch.random.fork_rng():  # pca_lowrank draws from the global generator
        torch.manual_seed(seed)
        _, _, basis = torch.pca_lowrank(x - mean, q=dims(len(x)), center=False)
    project = lambda images: (_flat(images) - mean) @ basis  # noqa: E731
    z = project(train)
    centres = _kmeans(z, k, gen)
    return _equal_share(z, centres), _equal_share(project(test), centres)
