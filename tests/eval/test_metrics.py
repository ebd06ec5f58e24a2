"""Tests that check the metrics' values, not just that they run.

scipy is used only here, as an independent reference implementation.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.linalg
import scipy.spatial.distance
import scipy.special
import torch

from mnistgan.eval import metrics as M


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# --- synthetic "images" and a fixed nonlinear feature net ---------------------


def images(n: int, seed: int, dim: int = 64, latent: int = 8) -> np.ndarray:
    """Pixel-like vectors in (0, 1), mostly dark: a low-dim latent through a fixed nonlinear map."""
    basis = rng(1234).standard_normal((latent, dim)) / np.sqrt(latent)  # same for every set
    z = rng(seed).standard_normal((n, latent))
    return 1 / (1 + np.exp(-3 * (z @ basis - 1)))


def feature_net(x: np.ndarray, out: int = 32) -> np.ndarray:
    """A fixed random one-layer net [N, 64] -> [N, 32]."""
    w = rng(99).standard_normal((x.shape[1], out)) * 4 / np.sqrt(x.shape[1])
    return np.tanh(x @ w)


def corrupt_noise(x: np.ndarray, sigma: float) -> np.ndarray:
    return x + sigma * rng(7).standard_normal(x.shape)  # same noise draw, scaled


def corrupt_blank(x: np.ndarray, frac: float) -> np.ndarray:
    y = x.copy()
    y[:, rng(8).permutation(x.shape[1])[: int(frac * x.shape[1])]] = 0  # nested sets of dims
    return y


# --- Fréchet distance ----------------------------------------------------------


def scipy_frechet(a: np.ndarray, b: np.ndarray) -> float:
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


def test_gaussian_stats_match_numpy():
    x = rng(0).standard_normal((500, 7)) * np.arange(1, 8)
    mu, cov = M.gaussian_stats(torch.tensor(x, dtype=torch.float32))
    x32 = x.astype(np.float32).astype(np.float64)  # what the float32 tensor holds
    np.testing.assert_allclose(mu, x32.mean(0), rtol=1e-10)
    np.testing.assert_allclose(cov, np.cov(x32, rowvar=False), rtol=1e-10)


def test_frechet_identical_sets_is_zero():
    x = feature_net(images(2000, seed=0))
    _, cov = M.gaussian_stats(x)
    assert abs(M.frechet_distance(x, x)) < 1e-6 * np.trace(cov)


def test_frechet_matches_scipy_sqrtm():
    g = rng(1)
    d = 16
    a = g.standard_normal((3000, d)) @ g.standard_normal((d, d)) + 0.5
    b = g.standard_normal((2500, d)) @ (g.standard_normal((d, d)) * 0.7) - 0.2
    ref = scipy_frechet(a, b)
    assert ref > 1.0
    assert M.frechet_distance(a, b) == pytest.approx(ref, rel=1e-6)
    # the cached-stats path gives the same number
    cached = M.frechet_distance_from_stats(*M.gaussian_stats(a), *M.gaussian_stats(b))
    assert cached == pytest.approx(ref, rel=1e-6)


def test_frechet_closed_form_for_known_gaussians():
    # N(0, I) vs N(m, 4I): ||m||^2 + d (1 + 4 - 2*2) = ||m||^2 + d
    d = 5
    m = np.arange(d, dtype=float)
    got = M.frechet_distance_from_stats(np.zeros(d), np.eye(d), m, 4 * np.eye(d))
    assert got == pytest.approx((m**2).sum() + d, rel=1e-12)


# --- KID ---------------------------------------------------------------------


def brute_mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    d = x.shape[1]
    k = lambda a, b: (a @ b.T / d + 1) ** 3  # noqa: E731
    n = len(x)
    off = lambda kk: (kk.sum() - np.trace(kk)) / (n * (n - 1))  # noqa: E731
    return float(off(k(x, x)) + off(k(y, y)) - 2 * k(x, y).mean())


def test_kid_single_full_subset_matches_bruteforce():
    x = feature_net(images(300, seed=0))
    y = feature_net(corrupt_noise(images(300, seed=1), 0.3))
    mean, std = M.kernel_inception_distance(x, y, subsets=1, subset_size=10_000)
    # one subset of all rows is a permutation of the sets; MMD^2_u is permutation invariant
    assert mean == pytest.approx(brute_mmd2_unbiased(x, y), rel=1e-10)
    assert std == 0.0


def test_kid_identical_sets_near_zero_and_deterministic():
    x = feature_net(images(2000, seed=0))
    y = feature_net(images(2000, seed=1))
    noisy = feature_net(corrupt_noise(images(2000, seed=1), 1.0))
    far = M.kernel_inception_distance(x, noisy, subsets=20, subset_size=500)[0]
    # the very same set: subsets of x and "y" share rows, so k(x_i, x_i) leaks into the
    # cross term and MMD^2_u comes out slightly negative; still ~0 on the scale of a real shift
    mean, std = M.kernel_inception_distance(x, x, subsets=20, subset_size=500)
    assert abs(mean) < 0.01 * far
    mean2, std2 = M.kernel_inception_distance(x, y, subsets=20, subset_size=500, seed=3)
    assert abs(mean2) < 0.01 * far
    assert (mean2, std2) == M.kernel_inception_distance(x, y, subsets=20, subset_size=500, seed=3)
    assert mean2 != M.kernel_inception_distance(x, y, subsets=20, subset_size=500, seed=4)[0]


@pytest.mark.parametrize(
    "corrupt, levels",
    [(corrupt_noise, [0.0, 0.1, 0.3, 1.0]), (corrupt_blank, [0.0, 0.1, 0.3, 0.6])],
    ids=["noise", "blanking"],
)
def test_fid_and_kid_rise_with_corruption(corrupt, levels):
    real = feature_net(images(2000, seed=0))
    clean = images(2000, seed=1)  # same distribution, different samples
    fids, kids = [], []
    for level in levels:
        fake = feature_net(corrupt(clean, level))
        fids.append(M.frechet_distance(real, fake))
        kids.append(M.kernel_inception_distance(real, fake, subsets=10, subset_size=1000)[0])
    assert all(a < b for a, b in zip(fids, fids[1:])), fids
    assert all(a < b for a, b in zip(kids, kids[1:])), kids
    assert fids[-1] > 10 * fids[0] and kids[-1] > 10 * max(kids[0], 1e-6)


# --- classifier score ----------------------------------------------------------


def test_classifier_score_extremes():
    n, c = 10_000, 10
    spread = np.eye(c)[np.arange(n) % c]  # one-hot, all classes equally often
    mean, std = M.classifier_score(spread)
    assert mean == pytest.approx(10.0, rel=1e-9) and std < 1e-9
    assert M.classifier_score(np.eye(c)[np.full(n, 3)])[0] == pytest.approx(1.0, abs=1e-9)
    assert M.classifier_score(np.full((n, c), 1 / c))[0] == pytest.approx(1.0, abs=1e-9)


def test_classifier_score_matches_scipy():
    logits = rng(2).standard_normal((1000, 10)) * 3
    p = scipy.special.softmax(logits, axis=1)
    ref = []
    for part in np.array_split(p, 5):
        py = part.mean(0, keepdims=True)
        ref.append(np.exp(scipy.special.rel_entr(part, py).sum(1).mean()))
    mean, std = M.classifier_score(torch.tensor(p, dtype=torch.float32), splits=5)
    assert mean == pytest.approx(np.mean(ref), rel=1e-5)
    assert std == pytest.approx(np.std(ref), rel=1e-3, abs=1e-6)
    assert 1.0 < mean < 10.0


def test_classifier_score_rejects_logits():
    with pytest.raises(ValueError):
        M.classifier_score(rng(0).standard_normal((10, 10)))


# --- precision / recall / density / coverage -----------------------------------


def brute_manifold(real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, float]:
    """Direct formulas on full scipy distance matrices."""
    drr = scipy.spatial.distance.cdist(real, real)
    dff = scipy.spatial.distance.cdist(fake, fake)
    dfr = scipy.spatial.distance.cdist(fake, real)  # [Nf, Nr]
    rr = np.sort(drr, axis=1)[:, k]  # column 0 is the point itself
    rf = np.sort(dff, axis=1)[:, k]
    return {
        "precision": float((dfr <= rr[None]).any(1).mean()),
        "recall": float((dfr.T <= rf[None]).any(1).mean()),
        "density": float((dfr <= rr[None]).sum() / (k * len(fake))),
        "coverage": float((dfr.min(0) <= rr).mean()),
    }


def test_manifold_metrics_match_bruteforce_across_chunks():
    g = rng(3)
    real = g.standard_normal((300, 4))
    fake = 0.8 * g.standard_normal((250, 4)) + 0.3
    ref = brute_manifold(real, fake, k=3)
    assert 0.05 < ref["recall"] < 0.95  # a non-trivial case
    for chunk in (37, 64, 4096):  # block edges land everywhere, or nowhere
        p, r = M.precision_recall(real, fake, k=3, chunk=chunk)
        d, c = M.density_coverage(real, fake, k=3, chunk=chunk)
        assert (p, r) == pytest.approx((ref["precision"], ref["recall"]), abs=1e-12)
        assert (d, c) == pytest.approx((ref["density"], ref["coverage"]), abs=1e-12)


def test_precision_recall_identical_distributions():
    g = rng(4)
    real, fake = g.standard_normal((2000, 4)), g.standard_normal((2000, 4))
    p, r = M.precision_recall(real, fake, k=3)
    assert p > 0.9 and r > 0.9


def test_precision_recall_disjoint():
    g = rng(5)
    real, fake = g.standard_normal((2000, 4)), g.standard_normal((2000, 4)) + 20.0
    assert M.precision_recall(real, fake, k=3) == (0.0, 0.0)
    assert M.density_coverage(real, fake, k=3) == (0.0, 0.0)


def test_precision_recall_fake_inside_real_support():
    g = rng(6)
    real = g.standard_normal((2000, 2))
    fake = 0.5 * g.standard_normal((2000, 2))  # N(0, 0.25 I): high fidelity, low diversity
    p, r = M.precision_recall(real, fake, k=3)
    assert p > 0.95
    assert r < 0.85 and r < p - 0.15


def test_density_coverage_identical_distributions():
    g = rng(7)
    real, fake = g.standard_normal((2000, 4)), g.standard_normal((2000, 4))
    d3, c3 = M.density_coverage(real, fake, k=3)
    d5, c5 = M.density_coverage(real, fake, k=5)
    # Naeem et al.: E[density] = 1, E[coverage] ~ 1 - 2^-k for identical distributions
    assert d3 == pytest.approx(1.0, abs=0.1) and d5 == pytest.approx(1.0, abs=0.1)
    assert c3 == pytest.approx(1 - 2**-3, abs=0.04)
    assert c5 > 0.9 and c5 == pytest.approx(1 - 2**-5, abs=0.03)


# --- class histogram -----------------------------------------------------------


def test_class_histogram_single_class_is_collapsed():
    h = M.class_histogram(np.full(1000, 7), num_classes=10)
    assert h.classes_covered == 1 and h.collapsed
    assert h.fractions[7] == 1.0
    assert 5.0 < h.kl_to_real < 20.0  # large but finite


def test_class_histogram_balanced_is_not_collapsed():
    probs = np.eye(10)[np.arange(5000) % 10] * 0.9 + 0.01  # softmax-like, argmax = label
    h = M.class_histogram(probs)
    assert h.classes_covered == 10 and not h.collapsed
    assert h.kl_to_real == pytest.approx(0.0, abs=1e-4)
    assert sum(h.fractions) == pytest.approx(1.0)
    # a random (multinomial) balanced sample is also fine
    h2 = M.class_histogram(torch.tensor(rng(0).integers(0, 10, 2000)))
    assert not h2.collapsed and h2.kl_to_real < 0.02


def test_class_histogram_one_missing_mode_and_real_fractions():
    labels = np.arange(9000) % 9  # digit 9 never drawn
    h = M.class_histogram(labels)
    assert h.classes_covered == 9 and h.collapsed
    smoothed = (np.append(np.full(9, 1 / 9), 0) + 1e-6) / (1 + 10 * 1e-6)
    kl_ref = float(scipy.special.rel_entr(np.full(10, 0.1), smoothed).sum())
    assert h.kl_to_real == pytest.approx(kl_ref, rel=1e-9)
    # ... but matches real data that has no 9s
    h_ref = M.class_histogram(labels, real_fractions=[1] * 9 + [0])
    assert h_ref.classes_covered == 9 and not h_ref.collapsed and h_ref.kl_to_real < 1e-4
    json.dumps(h.to_dict())


# --- memorisation --------------------------------------------------------------


def test_nearest_distances_match_bruteforce():
    g = rng(8)
    q, ref = g.standard_normal((123, 10)), g.standard_normal((301, 10))
    ref[50] = ref[40]  # a duplicate reference row: the first index wins
    q[0] = ref[40]
    dist = scipy.spatial.distance.cdist(q, ref)
    d, i = M.nearest_distances(q, ref, chunk=32)
    np.testing.assert_allclose(d, dist.min(1), atol=1e-7)
    np.testing.assert_array_equal(i, dist.argmin(1))
    assert i[0] == 40 and d[0] < 1e-6


def test_memorisation_copies_vs_fresh():
    g = rng(9)
    train = g.standard_normal((3000, 64))
    test = g.standard_normal((500, 64))
    test_to_train, _ = M.nearest_distances(test, train)
    copies = train[g.integers(0, 3000, 500)] + 0.01 * g.standard_normal((500, 64))
    fresh = g.standard_normal((500, 64))
    r_copy = M.memorisation_ratio(M.nearest_distances(copies, train)[0], test_to_train)
    r_fresh = M.memorisation_ratio(M.nearest_distances(fresh, train)[0], test_to_train)
    assert r_copy < 0.05 and M.is_memorised(r_copy)
    assert r_fresh == pytest.approx(1.0, abs=0.05) and not M.is_memorised(r_fresh)


# --- discriminator report ------------------------------------------------------


def brute_auc(pos: np.ndarray, neg: np.ndarray) -> float:
    diff = pos[:, None] - neg[None, :]
    return float(((diff > 0) + 0.5 * (diff == 0)).mean())


def test_discriminator_perfect():
    rep = M.discriminator_report(np.full(100, 0.99), np.full(80, 0.01), np.full(50, 0.99))
    assert rep.accuracy == 1.0 and rep.roc_auc == 1.0
    assert rep.mean_d_real == pytest.approx(0.99) and rep.mean_d_fake == pytest.approx(0.01)
    assert rep.train_test_gap == pytest.approx(0.0) and rep.train_test_auc == 0.5
    json.dumps(rep.to_dict())


def test_discriminator_useless():
    const = M.discriminator_report(np.full(100, 0.5), np.full(100, 0.5))
    assert const.accuracy == 0.5 and const.roc_auc == 0.5 and const.train_test_gap is None and const.train_test_auc is None
    g = rng(10)
    rand = M.discriminator_report(g.uniform(size=5000), g.uniform(size=5000))
    assert rand.roc_auc == pytest.approx(0.5, abs=0.02)
    assert rand.accuracy == pytest.approx(0.5, abs=0.02)


def test_discriminator_auc_matches_bruteforce_with_ties():
    g = rng(11)
    pos = np.round(g.uniform(0.2, 1.0, 57), 1)  # rounding creates many ties
    neg = np.round(g.uniform(0.0, 0.8, 43), 1)
    train = np.clip(pos + 0.1, 0, 1)
    rep = M.discriminator_report(torch.tensor(pos).reshape(-1, 1), neg, d_real_train=train)
    assert rep.roc_auc == pytest.approx(brute_auc(pos, neg), abs=1e-12)
    assert rep.accuracy == pytest.approx(((pos >= 0.5).mean() + (neg < 0.5).mean()) / 2)
    assert rep.train_test_gap == pytest.approx(train.mean() - pos.mean())
    assert rep.train_test_auc == pytest.approx(brute_auc(train, pos), abs=1e-12)


def test_discriminator_rejects_logits():
    with pytest.raises(ValueError):
        M.discriminator_report(np.array([2.0, -1.0]), np.array([0.1]))
