"""Metrics for judging generated images.

Every function here is pure: arrays in, numbers out, no dependence on the rest of
mnistgan. Inputs may be numpy arrays or torch tensors (any device, any dtype); they
are converted once by `_as_f64` to float64 torch tensors on the CPU, so all the
arithmetic is double precision. Results come back as Python floats, numpy arrays or
frozen dataclasses with a JSON-friendly `to_dict()`.

Shapes:
  features       [N, F]   (anything with more dims is flattened to [N, -1])
  probabilities  [N, C]   softmax outputs of a classifier
  D outputs      [N]      discriminator probabilities in [0, 1] ([N, 1] is fine)

Contents:
  gaussian_stats, frechet_distance(_from_stats)   FID-style distance of Gaussians
  kernel_inception_distance                       KID: unbiased polynomial-kernel MMD^2
  classifier_score                                Inception Score on an MNIST classifier
  precision_recall, density_coverage              k-NN manifold fidelity / diversity
  class_histogram -> ClassHistogram               mode collapse over the digit classes
  nearest_distances, memorisation_ratio,
  is_memorised, MEMORISED_RATIO                   copying of the training set
  discriminator_report -> DiscriminatorReport     what D can still tell apart
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Union

import numpy as np
import torch

ArrayLike = Union[np.ndarray, torch.Tensor]

CHUNK = 2048  # rows per block of pairwise distances: 2048 x 2048 float64 = 32 MiB
LOG_EPS = 1e-12  # floor inside logs, so 0 * log(0) becomes 0 instead of nan

# class_histogram thresholds (see its docstring for the reasoning)
COVERED_SHARE = 0.25  # a class is covered if it gets >= 25% of its real share
KL_COLLAPSE = 0.1  # nats of KL(real || generated) above which we call it collapsed
KL_EPS = 1e-6  # smoothing of generated class fractions, so a missing class is finite

# memorisation threshold (see is_memorised)
MEMORISED_RATIO = 0.5


# -----------------------------------------------------------------------------
# input helpers


def _as_f64(x: ArrayLike) -> torch.Tensor:
    """Any array or tensor -> float64 CPU tensor. Never aliases a numpy input."""
    if isinstance(x, torch.Tensor):
        return x.detach().to(device="cpu", dtype=torch.float64)
    # np.array copies, so the tensor owns writable memory (no torch warning)
    return torch.from_numpy(np.array(x, dtype=np.float64))


def _features(x: ArrayLike, name: str = "features") -> torch.Tensor:
    """[N, ...] -> finite float64 [N, F]."""
    t = _as_f64(x)
    if t.ndim < 2:
        raise ValueError(f"{name} must be [N, F], got shape {tuple(t.shape)}")
    t = t.reshape(len(t), -1)
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} contain nan or inf")
    return t


def _feature_pair(a: ArrayLike, b: ArrayLike) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = _features(a, "feats_a"), _features(b, "feats_b")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"feature dims differ: {x.shape[1]} vs {y.shape[1]}")
    return x, y


def _probs(p: ArrayLike) -> torch.Tensor:
    """[N, C] rows on the probability simplex (catches logits passed by mistake)."""
    t = _as_f64(p)
    if t.ndim != 2 or len(t) == 0:
        raise ValueError(f"probs must be a non-empty [N, C], got shape {tuple(t.shape)}")
    if (t < 0).any() or not torch.allclose(t.sum(1), torch.ones(len(t), dtype=t.dtype), atol=1e-3):
        raise ValueError("probs rows must be non-negative and sum to 1 (softmax outputs)")
    return t


def _d_probs(p: ArrayLike, name: str) -> torch.Tensor:
    """Discriminator outputs -> [N] probabilities in [0, 1]."""
    t = _as_f64(p).reshape(-1)
    if len(t) == 0:
        raise ValueError(f"{name} is empty")
    if (t < 0).any() or (t > 1).any() or not torch.isfinite(t).all():
        raise ValueError(f"{name} must be probabilities in [0, 1] (apply sigmoid to logits)")
    return t


# -----------------------------------------------------------------------------
# Fréchet distance (FID when the features come from Inception, here from any net)


def gaussian_stats(feats: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Mean [F] and unbiased covariance [F, F] (as np.cov) of features [N, F], float64.

    Cache these for the real data and use frechet_distance_from_stats.
    """
    x = _features(feats)  # [N, F]
    if len(x) < 2:
        raise ValueError("need at least 2 samples for a covariance")
    mu = x.mean(0)  # [F]
    xc = x - mu  # [N, F]
    cov = xc.T @ xc / (len(x) - 1)  # [F, F]
    return mu.numpy(), cov.numpy()


def _sqrt_psd(s: torch.Tensor) -> torch.Tensor:
    """Symmetric square root of a PSD matrix; round-off negative eigenvalues -> 0."""
    w, v = torch.linalg.eigh(s)
    return (v * w.clamp(min=0).sqrt()) @ v.T


def frechet_distance_from_stats(
    mu1: ArrayLike, s1: ArrayLike, mu2: ArrayLike, s2: ArrayLike
) -> float:
    """Fréchet (2-Wasserstein) distance^2 between N(mu1, s1) and N(mu2, s2).

    d = ||mu1 - mu2||^2 + Tr(s1 + s2 - 2 (s1 s2)^(1/2)).  Range [0, inf); lower is
    better; 0 iff the two Gaussians are equal.
    """
    mu1, mu2 = _as_f64(mu1).reshape(-1), _as_f64(mu2).reshape(-1)
    s1, s2 = _as_f64(s1), _as_f64(s2)
    f = len(mu1)
    if mu2.shape != (f,) or s1.shape != (f, f) or s2.shape != (f, f):
        raise ValueError("shapes must be mu [F], sigma [F, F] for both sets")
    s1, s2 = (s1 + s1.T) / 2, (s2 + s2.T) / 2  # cached stats may be a hair asymmetric
    # Tr (s1 s2)^(1/2) = sum sqrt(eig(s1^(1/2) s2 s1^(1/2))): the two matrices are
    # similar, but the latter is symmetric PSD, so eigvalsh is exact and stable where
    # sqrtm of the non-symmetric s1 s2 can go complex.
    r1 = _sqrt_psd(s1)
    m = r1 @ s2 @ r1
    tr_covmean = torch.linalg.eigvalsh((m + m.T) / 2).clamp(min=0).sqrt().sum()
    diff = mu1 - mu2
    d = diff @ diff + s1.trace() + s2.trace() - 2 * tr_covmean
    return max(float(d), 0.0)  # a squared distance: negatives are only round-off


def frechet_distance(feats_a: ArrayLike, feats_b: ArrayLike) -> float:
    """Fréchet distance between Gaussians fitted to features [Na, F] and [Nb, F].

    Range [0, inf); lower is better. Biased upward for small N (compare values only
    at equal N).
    """
    x, y = _feature_pair(feats_a, feats_b)
    return frechet_distance_from_stats(*gaussian_stats(x), *gaussian_stats(y))


# -----------------------------------------------------------------------------
# Kernel Inception Distance


def _poly_kernel(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """k(x, y) = (x.y / d + 1)^3 for [n, d] x [m, d] -> [n, m]."""
    return (x @ y.T / x.shape[1] + 1) ** 3


def _mmd2_unbiased(x: torch.Tensor, y: torch.Tensor) -> float:
    """Unbiased MMD^2 between equal-size samples x, y [n, d]."""
    n = len(x)
    kxx, kyy, kxy = _poly_kernel(x, x), _poly_kernel(y, y), _poly_kernel(x, y)
    # leave out the diagonals k(x_i, x_i): keeping them is what biases MMD^2 upward
    within = (kxx.sum() - kxx.trace() + kyy.sum() - kyy.trace()) / (n * (n - 1))
    return float(within - 2 * kxy.mean())


def kernel_inception_distance(
    feats_a: ArrayLike,
    feats_b: ArrayLike,
    *,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """KID: unbiased MMD^2 with kernel (x.y/d + 1)^3, averaged over random subsets.

    Each subset draws subset_size rows (without replacement, clipped to the smaller
    set) from each side. Returns (mean, std over subsets), raw units (papers often
    print x1000). Unbiased, so ~0 (may be slightly negative) for equal
    distributions; lower is better. Deterministic given seed. Passing the very same
    set twice gives a small negative value (its subsets share rows).
    """
    x, y = _feature_pair(feats_a, feats_b)
    n = min(subset_size, len(x), len(y))
    if n < 2 or subsets < 1:
        raise ValueError("need subsets >= 1 and at least 2 samples per subset")
    g = torch.Generator().manual_seed(seed)
    vals = torch.empty(subsets, dtype=torch.float64)
    for s in range(subsets):
        ix = torch.randperm(len(x), generator=g)[:n]
        iy = torch.randperm(len(y), generator=g)[:n]
        vals[s] = _mmd2_unbiased(x[ix], y[iy])
    return float(vals.mean()), float(vals.std(correction=0))


# -----------------------------------------------------------------------------
# Classifier ("MNIST") score


def _log(p: torch.Tensor) -> torch.Tensor:
    return p.clamp(min=LOG_EPS).log()


def classifier_score(probs: ArrayLike, *, splits: int = 10) -> tuple[float, float]:
    """Inception Score on a classifier's softmax outputs [N, C]: exp(E_x KL(p(y|x) || p(y))).

    High when each sample is classified confidently (low entropy p(y|x)) AND the
    classes are spread evenly (high entropy p(y)). Range [1, C]; higher is better.
    Returns (mean, std) over `splits` contiguous chunks, as in the original IS code,
    so pass samples in generation order (not sorted by class).
    """
    p = _probs(probs)  # [N, C]
    scores = []
    for part in torch.tensor_split(p, min(splits, len(p))):
        py = part.mean(0, keepdim=True)  # [1, C] marginal class distribution
        kl = (part * (_log(part) - _log(py))).sum(1)  # [n] KL(p(y|x) || p(y))
        scores.append(kl.mean().exp())
    s = torch.stack(scores)
    return float(s.mean()), float(s.std(correction=0))


# -----------------------------------------------------------------------------
# Pairwise distances in bounded memory, and k-NN manifold metrics


def _sq_dist_blocks(
    x: torch.Tensor, y: torch.Tensor, chunk: int
) -> Iterator[tuple[int, int, torch.Tensor]]:
    """Yield (i, j, d2): squared L2 distances x[i:i+chunk] vs y[j:j+chunk], [<=chunk, <=chunk]."""
    x_sq, y_sq = (x * x).sum(1), (y * y).sum(1)  # [Nx], [Ny]
    for i in range(0, len(x), chunk):
        xb = x[i : i + chunk]
        for j in range(0, len(y), chunk):
            # ||a||^2 + ||b||^2 - 2 a.b in one addmm; float64 keeps the cancellation small
            norms = x_sq[i : i + chunk, None] + y_sq[None, j : j + chunk]
            d2 = torch.addmm(norms, xb, y[j : j + chunk].T, alpha=-2.0)
            yield i, j, d2.clamp_(min=0)


def _nearest_sq(
    q: torch.Tensor, ref: torch.Tensor, chunk: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """For each query [Nq]: smallest squared distance to ref and its (first) index."""
    best = torch.full((len(q),), torch.inf, dtype=torch.float64)
    idx = torch.zeros(len(q), dtype=torch.int64)
    for i, j, d2 in _sq_dist_blocks(q, ref, chunk):
        m, a = d2.min(1)
        rows = slice(i, i + len(d2))
        better = m < best[rows]  # strict: ties keep the earlier index
        best[rows] = torch.where(better, m, best[rows])
        idx[rows] = torch.where(better, a + j, idx[rows])
    return best, idx


def _knn_sq_radii(x: torch.Tensor, k: int, chunk: int) -> torch.Tensor:
    """Squared distance from each row of x [N, F] to its k-th nearest OTHER row -> [N]."""
    if not 1 <= k < len(x):
        raise ValueError(f"need 1 <= k < N, got k={k}, N={len(x)}")
    best = torch.full((len(x), k + 1), torch.inf, dtype=torch.float64)  # running k+1 smallest
    for i, _, d2 in _sq_dist_blocks(x, x, chunk):
        rows = slice(i, i + len(d2))
        merged = torch.cat([best[rows], d2], dim=1)
        best[rows] = merged.topk(k + 1, dim=1, largest=False).values  # ascending
    # column 0 is the point itself (distance 0), so column k is the k-th other neighbour
    return best[:, k]


def _ball_counts(
    q: torch.Tensor, centres: torch.Tensor, sq_radii: torch.Tensor, chunk: int
) -> torch.Tensor:
    """For each query [Nq]: how many balls B(centres_j, radius_j) contain it."""
    counts = torch.zeros(len(q), dtype=torch.int64)
    for i, j, d2 in _sq_dist_blocks(q, centres, chunk):
        counts[i : i + len(d2)] += (d2 <= sq_radii[None, j : j + d2.shape[1]]).sum(1)
    return counts


def precision_recall(
    real: ArrayLike, fake: ArrayLike, *, k: int = 3, chunk: int = CHUNK
) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019) with k-NN manifolds.

    Each set's manifold is the union of balls around its samples, radius = distance to
    the k-th nearest other sample of the same set.
      precision: fraction of fake samples inside the real manifold  (fidelity)
      recall:    fraction of real samples inside the fake manifold  (diversity)
    Both in [0, 1]; higher is better. Cost: 4 passes of N_real x N_fake-sized distances.
    """
    r, f = _feature_pair(real, fake)
    precision = _ball_counts(f, r, _knn_sq_radii(r, k, chunk), chunk) > 0
    recall = _ball_counts(r, f, _knn_sq_radii(f, k, chunk), chunk) > 0
    return float(precision.double().mean()), float(recall.double().mean())


def density_coverage(
    real: ArrayLike, fake: ArrayLike, *, k: int = 3, chunk: int = CHUNK
) -> tuple[float, float]:
    """Density and coverage (Naeem et al. 2020), k-NN balls around REAL samples only.

      density:  mean number of real balls holding a fake sample, divided by k.
                Range [0, inf); ~1 when fake ~ real, >1 means fakes crowd dense real
                regions, <1 means fakes fall outside. Robust to real outliers.
      coverage: fraction of real samples whose ball holds at least one fake.
                Range [0, 1]; higher is better. For identical distributions its
                expectation is about 1 - 2^-k (0.875 for k=3, 0.97 for k=5).
    """
    r, f = _feature_pair(real, fake)
    sq_radii = _knn_sq_radii(r, k, chunk)
    counts = _ball_counts(f, r, sq_radii, chunk).double()  # int64 / int would give float32
    density = counts.sum() / (k * len(f))
    nn_sq, _ = _nearest_sq(r, f, chunk)
    coverage = (nn_sq <= sq_radii).double().mean()
    return float(density), float(coverage)


# -----------------------------------------------------------------------------
# Class histogram: which digits does the generator draw?


@dataclass(frozen=True)
class ClassHistogram:
    """Distribution of predicted classes over generated samples.

    fractions:       share of samples per class, sums to 1.
    classes_covered: classes (present in the real data) that get at least
                     COVERED_SHARE = 25% of their real share, i.e. >= 2.5% for 10
                     uniform digits. A dropped mode falls far below this, while
                     sampling noise (N >= ~1000) and a decent classifier's errors stay
                     well above it; scaling with the real share keeps it meaningful
                     for other C and for unbalanced real data.
    kl_to_real:      KL(real || generated) in nats, generated fractions smoothed by
                     KL_EPS = 1e-6. This direction punishes missing classes (the
                     mode-dropping we look for); the smoothing keeps a missing class
                     finite (~0.1 * ln(1e5) = 1.15 nats for one of 10 digits, ~10
                     nats for total collapse). 0 is perfect.
    collapsed:       classes_covered < number of real classes, or kl_to_real >
                     KL_COLLAPSE = 0.1 nats (~20x the sampling noise (C-1)/2N of a
                     perfectly balanced set of N=1000; reached e.g. when two digits
                     each take 2.5x their share).
    """

    fractions: tuple[float, ...]
    classes_covered: int
    kl_to_real: float
    collapsed: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "fractions": [float(v) for v in self.fractions],
            "classes_covered": int(self.classes_covered),
            "kl_to_real": float(self.kl_to_real),
            "collapsed": bool(self.collapsed),
        }


def _labels(probs_or_labels: ArrayLike, num_classes: int) -> torch.Tensor:
    """Integer labels [N] from labels [N] or probabilities/logits [N, C] (argmax)."""
    t = _as_f64(probs_or_labels)
    if t.ndim == 2:
        if t.shape[1] != num_classes:
            raise ValueError(f"expected {num_classes} columns, got {t.shape[1]}")
        return t.argmax(1)
    if t.ndim != 1 or (t != t.round()).any() or (t < 0).any() or (t >= num_classes).any():
        raise ValueError(f"labels must be integers in [0, {num_classes}), shape [N]")
    return t.long()


def class_histogram(
    probs_or_labels: ArrayLike,
    num_classes: int = 10,
    real_fractions: ArrayLike | None = None,
) -> ClassHistogram:
    """Histogram of the generator's classes vs the real class shares (default uniform).

    See ClassHistogram for what each field means and the thresholds.
    """
    labels = _labels(probs_or_labels, num_classes)  # [N]
    if len(labels) == 0:
        raise ValueError("no samples")
    gen = torch.bincount(labels, minlength=num_classes).double() / len(labels)  # [C]
    if real_fractions is None:
        real = torch.full((num_classes,), 1.0 / num_classes, dtype=torch.float64)
    else:
        real = _as_f64(real_fractions).reshape(-1)
        if len(real) != num_classes or (real < 0).any() or real.sum() <= 0:
            raise ValueError("real_fractions must be num_classes non-negative weights")
        real = real / real.sum()
    present = real > 0
    covered = int(((gen >= COVERED_SHARE * real) & present).sum())
    smoothed = (gen + KL_EPS) / (1 + num_classes * KL_EPS)
    # 0 * log(0 / g) = 0, so only classes present in the real data contribute
    kl = float((real[present] * (real[present].log() - smoothed[present].log())).sum())
    kl = max(kl, 0.0)  # KL >= 0; negatives are round-off
    return ClassHistogram(
        fractions=tuple(float(v) for v in gen),
        classes_covered=covered,
        kl_to_real=kl,
        collapsed=covered < int(present.sum()) or kl > KL_COLLAPSE,
    )


# -----------------------------------------------------------------------------
# Memorisation: are generated samples copies of training samples?


def nearest_distances(
    queries: ArrayLike, reference: ArrayLike, *, chunk: int = CHUNK
) -> tuple[np.ndarray, np.ndarray]:
    """For each query row: L2 distance to its nearest reference row, and that row's index.

    queries [Nq, ...], reference [Nr, ...] (flattened to vectors) -> (float64 [Nq],
    int64 [Nq]). Memory is bounded by chunk x chunk blocks, so reference can be the
    whole training set.
    """
    q, ref = _feature_pair(queries, reference)
    best_sq, idx = _nearest_sq(q, ref, chunk)
    return best_sq.sqrt().numpy(), idx.numpy()


def memorisation_ratio(gen_to_train: ArrayLike, test_to_train: ArrayLike) -> float:
    """median(generated -> train NN distance) / median(held-out test -> train NN distance).

    The test set is the yardstick for how close fresh samples from the data
    distribution come to the training set. ~1: generated samples are as novel as
    real unseen data; well below 1: they sit on top of training samples (copying).
    Slightly above 1 is normal for a GAN (samples a little off the data manifold).
    """
    g = _as_f64(gen_to_train).reshape(-1).numpy()
    t = _as_f64(test_to_train).reshape(-1).numpy()
    if len(g) == 0 or len(t) == 0:
        raise ValueError("empty distance arrays")
    denom = float(np.median(t))
    if denom <= 0:
        raise ValueError("median test->train distance is 0: test set overlaps the training set")
    return float(np.median(g)) / denom


def is_memorised(ratio: float) -> bool:
    """True if memorisation_ratio < MEMORISED_RATIO (0.5).

    At 0.5 the median generated sample is twice as close to a training image as a
    typical unseen real image is. In high dimension nearest-neighbour distances are
    concentrated, so real test samples almost never get that close: most generated
    samples must be (near-)copies. The margin is deliberately wide so that a GAN
    drawing prototypical digits from dense regions (ratio ~0.8-1) is not flagged.
    """
    return ratio < MEMORISED_RATIO


# -----------------------------------------------------------------------------
# Discriminator's report


@dataclass(frozen=True)
class DiscriminatorReport:
    """How well the discriminator separates held-out real images from fresh fakes.

    accuracy:       balanced accuracy at threshold 0.5: mean of (real scored >= 0.5)
                    and (fake scored < 0.5). 0.5 = chance, 1 = perfect separation.
    roc_auc:        probability that a random real image gets a higher D score than a
                    random fake (ties count 1/2); threshold-free. ~0.5: D cannot tell
                    real from fake (the ideal equilibrium); ~1: fakes are easy to spot
                    (D dominates, or G lags); < 0.5: D is inverted.
    mean_d_real:    mean D on held-out real test images.
    mean_d_fake:    mean D on fakes.
    train_test_gap: mean D on real TRAIN minus mean D on real TEST images (None if no
                    train scores). Near 0 is healthy; a clear positive gap means D has
                    memorised the training set (overfitting), which precedes training
                    collapse and generator memorisation (Karras et al. 2020, ADA).
                    D's probabilities saturate near 1 under non-BCE losses, which hides
                    the gap there; train_test_auc does not.
    train_test_auc: probability that a random real TRAIN image gets a higher D score
                    than a random real TEST image (None if no train scores). 0.5: D
                    treats the images it was shown like unseen ones; towards 1: D has
                    memorised them (Karras et al. 2020's validation heuristic r_v,
                    as a ranking).
    """

    accuracy: float
    roc_auc: float
    mean_d_real: float
    mean_d_fake: float
    train_test_gap: float | None
    train_test_auc: float | None

    def to_dict(self) -> dict[str, Any]:
        gap = None if self.train_test_gap is None else float(self.train_test_gap)
        return {
            "accuracy": float(self.accuracy),
            "roc_auc": float(self.roc_auc),
            "mean_d_real": float(self.mean_d_real),
            "mean_d_fake": float(self.mean_d_fake),
            "train_test_gap": gap,
            "train_test_auc": None if self.train_test_auc is None else float(self.train_test_auc),
        }


def _roc_auc(pos: torch.Tensor, neg: torch.Tensor) -> float:
    """Exact ROC AUC = Mann-Whitney U / (n_pos n_neg), tied scores counted as 1/2."""
    scores = torch.cat([pos, neg])
    _, inv, counts = torch.unique(scores, sorted=True, return_inverse=True, return_counts=True)
    ends = counts.cumsum(0).double()
    mean_rank = ends - (counts - 1) / 2  # 1-based average rank of each tie group
    n_pos, n_neg = len(pos), len(neg)
    u = mean_rank[inv[:n_pos]].sum() - n_pos * (n_pos + 1) / 2
    return float(u / (n_pos * n_neg))


def discriminator_report(
    d_real_test: ArrayLike,
    d_fake: ArrayLike,
    d_real_train: ArrayLike | None = None,
) -> DiscriminatorReport:
    """Summarise D's probabilities (after sigmoid, in [0, 1]) on real test images [Nr],
    fakes [Nf], and optionally real train images [Nt]. See DiscriminatorReport."""
    real = _d_probs(d_real_test, "d_real_test")
    fake = _d_probs(d_fake, "d_fake")
    tpr = (real >= 0.5).double().mean()  # reals called real
    tnr = (fake < 0.5).double().mean()  # fakes called fake
    gap = auc = None
    if d_real_train is not None:
        train = _d_probs(d_real_train, "d_real_train")
        gap, auc = float(train.mean() - real.mean()), _roc_auc(train, real)
    return DiscriminatorReport(
        accuracy=float((tpr + tnr) / 2),
        roc_auc=_roc_auc(real, fake),
        mean_d_real=float(real.mean()),
        mean_d_fake=float(fake.mean()),
        train_test_gap=gap,
        train_test_auc=auc,
    )
