"""Evaluating a generator: every metric beside the real-data floor.

The protocol, for a sample size n:
- reference set: n real training images (a seeded subset);
- the generator's score: n generated images against the reference set;
- the real floor: n real *test* images against the same reference set, i.e. what a
  perfect generator (one that draws fresh digits from the true distribution) scores.
Both sides use the same n, so the finite-sample bias of FID is the same on both.
The floor and the reference embeddings are computed once and cached.

An unlabelled imported set is scored on the MNIST evaluator's features: the distribution
metrics, memorisation and D's report apply; the classifier score, the class histogram and
the conditional metrics need labels and are left out (UNLABELLED_MISSING).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from mnistgan.config import MIN_EVAL_N
from mnistgan.data.datasets import get_spec
from mnistgan.tensors import as_input, batched
from mnistgan.data.sources import Sources, load_split
from mnistgan.data.subset import subset_rows
from mnistgan.errors import ConfigError
from mnistgan.eval import metrics as M
from mnistgan.eval import registry as R
from mnistgan.eval.conditional import conditional_section
from mnistgan.eval.evaluator import Evaluator, get_evaluator
from mnistgan.eval.inputs import Embedded, Pair, RealReference
from mnistgan.eval import modes
from mnistgan.images import make_grid
from mnistgan.models import Discriminator, Generator
from mnistgan.sample import load_discriminator, load_generator_from, sample_uint8
from mnistgan.atomic import atomic_write_bytes

log = logging.getLogger(__name__)

FULL_N = 10_000  # `mnistgan evaluate`'s n: the whole MNIST test split (fewer on a smaller set)
MEMO_N = 1000  # images per side for the pixel-space nearest-neighbour search (vs all 60k train)
PAIRS_SHOWN = 16


# The metrics a labelled one-channel set (MNIST) has in `evaluate`'s table, and those of the light
# evaluation whose floor is cached: the registry's views, kept under their old names.
METRICS: dict[str, R.Metric] = R.metrics(R.EVALUATE, R.PLAIN)
LIGHT = tuple(k for k, m in R.metrics(R.LIGHT, R.PLAIN).items() if R.EVALUATE in m.shown)
UNLABELLED_NOTE = ("no labels: FID, KID, precision/recall and density/coverage are on the MNIST evaluator's "
                   "features; the classifier score, class histogram and conditional accuracy need labels")
STACKED_NOTE = ("three digits per image: its 1000 modes are counted by the mode metrics (each channel labelled by "
                "the MNIST evaluator), and the feature metrics see the three channels' features side by side")


def compute(pair: Pair, names: tuple[str, ...]) -> dict[str, tuple[float, float | None]]:
    return R.compute(pair, names)


def embed(ev: Evaluator, images: torch.Tensor, labels: torch.Tensor | None = None) -> Embedded:
    """The evaluator's view of uint8 images [N, 28, 28]: features and softmax; `labels` are
    the classes asked for (or true). Stacked images [N, C, 28, 28] are seen channel by
    channel (modes.embed_channels), with each channel's digit kept for the mode metrics."""
    if images.ndim == 4 and images.shape[1] > 1:
        feats, probs, channel_labels = modes.embed_channels(ev.embed, images)
        return Embedded(feats, probs, labels, channel_labels)
    return Embedded(*ev.embed(images.reshape(-1, *images.shape[-2:])), labels)


def have(real: RealReference, fake: Embedded, conditional: bool = False) -> frozenset[str]:
    """What the metrics can be fed here (registry needs). A stacked set's classes are its
    1000 modes, measured by the mode metrics rather than by per-image class metrics."""
    stacked = fake.channel_labels is not None and real.test.channel_labels is not None
    return R.available(labelled=bool(real.classes) and not stacked, conditional=conditional,
                       channel_labels=stacked, neighbours=real.n <= FULL_N)


# --- the real reference, cached -----------------------------------------------------


def check_n(what: str, n: int, dataset: str, test_size: int) -> None:
    """n samples are scored against n test images: between MIN_EVAL_N and the test split."""
    if test_size < MIN_EVAL_N:
        raise ConfigError(f"{dataset} has {test_size} test images, and an evaluation needs at least {MIN_EVAL_N} "
                          f"(import it again with a larger --holdout)")
    if not MIN_EVAL_N <= n <= test_size:
        raise ConfigError(f"{what} must be between {MIN_EVAL_N} and {test_size} (the size of the {dataset} test "
                          f"split), got {n}")


def real_reference(ev: Evaluator, n: int, seed: int, sources: Sources,
                   names: tuple[str, ...] | None = None, dataset: str | None = None) -> RealReference:
    """Reference and floor for `n` images of `dataset` (default: the evaluator's), from the
    cache when the evaluator and n match. The floor is cached for the `names` of `evaluate`'s
    table (default: all of them) that this set can have."""
    dataset = dataset or ev.recipe.dataset
    classes = get_spec(dataset, sources.cache_dir).classes
    train, test = load_split(dataset, "train", sources), load_split(dataset, "test", sources)
    check_n("-n", n, dataset, test.images.shape[0])
    gen = torch.Generator().manual_seed(seed)
    ref_idx = torch.randperm(train.images.shape[0], generator=gen)[:n]
    test_idx = torch.randperm(test.images.shape[0], generator=gen)[:n]
    base = sources.cache_dir / "real" / f"{dataset}-{ev.sha256[:12]}-n{n}-s{seed}"
    emb_path, floor_path = base.with_suffix(".safetensors"), base.with_suffix(".json")
    try:  # the cache holds derived data only: anything unreadable is recomputed
        t = load_file(str(emb_path))
        ref = Embedded(t["ref_feats"], t["ref_probs"], None, t.get("ref_channels"))
        tst = Embedded(t["test_feats"], t["test_probs"], None, t.get("test_channels"))
    except (SafetensorError, OSError, KeyError):
        ref, tst = embed(ev, train.images[ref_idx]), embed(ev, test.images[test_idx])
        tensors = {"ref_feats": ref.feats, "ref_probs": ref.probs, "test_feats": tst.feats, "test_probs": tst.probs}
        if ref.channel_labels is not None and tst.channel_labels is not None:
            tensors |= {"ref_channels": ref.channel_labels, "test_channels": tst.channel_labels}
        atomic_write_bytes(emb_path, save(tensors))
    try:
        floor: dict[str, Any] = json.loads(floor_path.read_text())
    except (OSError, json.JSONDecodeError):
        floor = {}
    real = RealReference(dataset, classes, n, seed, train.images, train.labels, ref_idx, test_idx,
                         test.images[test_idx], test.labels[test_idx], ref, tst, {})
    table = R.metrics(R.EVALUATE, have(real, tst))
    missing = tuple(k for k in table if k not in floor and (names is None or k in names))
    if missing:
        log.info("computing the real-data floor for n=%d (once; cached)", n)
        floor |= {k: list(v) for k, v in compute(real.floor_pair(), missing).items()}
        atomic_write_bytes(floor_path, json.dumps(floor, indent=1).encode())
    return dataclasses.replace(real, floor={k: tuple(v) for k, v in floor.items()})


# --- the full evaluation --------------------------------------------------------------


def pixels(images: torch.Tensor) -> torch.Tensor:
    return images.reshape(images.shape[0], -1).float() / 255.0  # uint8 [N, 28, 28] -> [N, 784] in [0, 1]


def nearest_pixels(queries: torch.Tensor, reference: torch.Tensor, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """For uint8 images [Nq, ...] and [Nr, ...]: each query's nearest reference image (L2
    over [0, 1] pixels) -> (float64 distances [Nq], int64 indices [Nq]). The search runs in
    float32 over reference blocks made on the fly (no float copy of the reference: 128,000
    stacked images would be 1.2 GB), at twice float64's speed; each pair found is then
    measured again in float64. A float32 rounding (~1e-4 in d^2) can only pick, between two
    images that close, the other one."""
    q = pixels(queries)
    q_sq = (q * q).sum(1)
    best = torch.full((len(q),), torch.inf)
    idx = torch.zeros(len(q), dtype=torch.int64)
    for j in range(0, len(reference), chunk):
        r = pixels(reference[j : j + chunk])
        d2 = torch.addmm(q_sq[:, None] + (r * r).sum(1)[None], q, r.T, alpha=-2.0)
        m, a = d2.min(1)
        better = m < best  # strict: ties keep the earlier index
        best, idx = torch.where(better, m, best), torch.where(better, a + j, idx)
    exact = (q.double() - pixels(reference[idx]).double()).square().sum(1).sqrt()
    return exact.numpy(), idx.numpy()


def memorisation(gen_images: torch.Tensor, real: RealReference,
                 train_rows: torch.Tensor | None = None) -> tuple[dict[str, Any], np.ndarray]:
    """Nearest training image (pixel space) for MEMO_N generated and MEMO_N test images,
    among the training images G was shown (train_rows, for data.subset; None: all);
    returns the summary and a grid of the closest pairs (generated left, training right)."""
    m = min(MEMO_N, gen_images.shape[0], real.test_images.shape[0])
    train_images = real.train_images if train_rows is None else real.train_images[train_rows]
    d_gen, i_gen = nearest_pixels(gen_images[:m], train_images)
    d_test, _ = nearest_pixels(real.test_images[:m], train_images)
    # A set whose test images mostly copy training images (an imported one can) has no yardstick.
    ratio = M.memorisation_ratio(d_gen, d_test) if np.median(d_test) > 0 else None
    closest = np.argsort(d_gen)[:PAIRS_SHOWN]
    tiles = np.stack([t for j in closest for t in (gen_images[j].numpy(), train_images[i_gen[j]].numpy())])
    summary = {"gen_to_train_median": float(np.median(d_gen)), "test_to_train_median": float(np.median(d_test)),
               "ratio": ratio, "memorised": ratio is not None and M.is_memorised(ratio), "n": m,
               "train_images": int(train_images.shape[0]),
               "closest_distances": [float(d_gen[j]) for j in closest]}
    if ratio is None:
        summary["note"] = ("not measurable: most test images are copies of training images (median distance 0), "
                           "so there is no yardstick for novelty")
    return summary, make_grid(tiles, nrow=8)


@torch.no_grad()
def discriminator_section(D: Discriminator, gen_images: torch.Tensor, gen_labels: torch.Tensor | None,
                          real: RealReference, train_rows: torch.Tensor | None = None) -> dict[str, Any]:
    """D's verdicts on held-out test images, fresh fakes, and the training images it was
    shown (train_rows, for data.subset; None: the whole split), as the sigmoid of its score
    in float64: the probability "real" for a BCE-trained D; for other losses a monotone map
    of the score with 0 at 0.5 (the AUCs do not depend on it, and float64 keeps scores up
    to about 36 apart where float32 would round them all to 1). A
    conditional D judges each image with its label (a fake's: the one it was drawn for). At
    most FULL_N images per side: Stacked MNIST's 26,000 would triple D's time for an AUC
    already within about 0.005 at 10,000. A packed D (model.pack) judges packs of consecutive
    images of one side, as it trained: its figures are over packs."""
    def prob(images: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        n = min(len(images), FULL_N) // D.pack * D.pack  # whole packs
        x = as_input(images[:n])  # same scaling as training
        y = labels[:n] if D.num_classes else None
        return batched(lambda s: torch.sigmoid(D(x[s], None if y is None else y[s]).double()), n,
                       batch_size=1000 // D.pack * D.pack)

    ref = (real.ref_idx if train_rows is None else train_rows)[:FULL_N]
    report = M.discriminator_report(prob(real.test_images, real.test_labels), prob(gen_images, gen_labels),
                                    prob(real.train_images[ref], real.train_labels[ref]))
    return report.to_dict() | {"n": min(FULL_N, len(gen_images))}


def evaluate(G: Generator, ev: Evaluator, sources: Sources, *, n: int = 10_000, seed: int = 0,
             D: Discriminator | None = None, dataset: str | None = None,
             subset: tuple[float, int] = (1.0, 0), conditional: bool = True) -> tuple[dict[str, Any], np.ndarray]:
    """All metrics for G, each beside the real floor, against `dataset` (default: the
    evaluator's); returns (metrics.json dict, pairs grid). `subset` (data.subset and its
    seed) names the training images G was shown: the memorisation check searches those;
    the reference set and the floor are the whole split's. `conditional=False` leaves out
    the conditional section, for a G whose classes are not the dataset's."""
    real = real_reference(ev, n, seed, sources, dataset=dataset)
    train_rows = subset_rows(real.train_labels, *subset) if subset[0] != 1 else None
    gen_images = torch.from_numpy(sample_uint8(G, n, seed=seed))  # uint8 [n, 28, 28], as a PNG would hold
    gen_labels = G.labels(n)  # a conditional G: sample i was asked for class i % num_classes; else None
    fake = embed(ev, gen_images, gen_labels)
    table = R.metrics(R.EVALUATE, have(real, fake))
    values = compute(real.floor_pair().with_candidate(fake), tuple(table))
    memo, pairs = memorisation(gen_images, real, train_rows)
    result: dict[str, Any] = {
        "dataset": real.dataset, "n": n, "seed": seed,
        "evaluator": {"sha256": ev.sha256, "test_accuracy": ev.test_accuracy, "recipe": dataclasses.asdict(ev.recipe),
                      "dataset": ev.recipe.dataset},
        "metrics": {
            name: {"label": table[name].label, "better": table[name].better, "about": table[name].about,
                   "value": v, "std": s, "real": real.floor[name][0], "real_std": real.floor[name][1]}
            for name, (v, s) in values.items()
        },
        "classes": class_section(fake, real),
        "unlabelled": classes_note(fake, real),
        "conditional": (conditional_section(fake, gen_labels, real, G.num_classes)
                        if G.num_classes and conditional else None),
        "memorisation": memo,
        "discriminator": None if D is None else discriminator_section(D, gen_images, gen_labels, real, train_rows),
    }
    return result, pairs


def class_section(fake: Embedded, real: RealReference) -> dict[str, Any] | None:
    """The class histogram of the samples and of real test images; None without labels, and
    for a stacked set (its classes are the modes, counted by the mode metrics)."""
    if not real.classes or fake.channel_labels is not None:
        return None
    fractions = real.real_fractions()
    hist = M.class_histogram(fake.probs, len(real.classes), real_fractions=fractions)
    real_hist = M.class_histogram(real.test.probs, len(real.classes), real_fractions=fractions)
    return {"names": list(real.classes), **hist.to_dict(), "real_fractions": fractions.tolist(),
            "real": real_hist.to_dict()}


def classes_note(fake: Embedded, real: RealReference) -> str | None:
    """Why there is no class histogram, when there is none."""
    if fake.channel_labels is not None:
        return STACKED_NOTE
    return None if real.classes else UNLABELLED_NOTE


def evaluate_light(G: Generator, ev: Evaluator, sources: Sources, *, n: int = 2000, seed: int = 0,
                   real: RealReference | None = None, dataset: str | None = None) -> dict[str, Any]:
    """The eval.every subset: the registry's light metrics that this set and G allow, each
    with its floor (of `dataset`, default: the evaluator's, when `real` is not given). The
    floors of `evaluate`'s table metrics are cached; the others (classes covered,
    conditional accuracy) are cheap and computed here."""
    real = real or real_reference(ev, n, seed, sources, names=tuple(R.metrics(R.LIGHT)), dataset=dataset)
    fake = embed(ev, torch.from_numpy(sample_uint8(G, n, seed=seed)), G.labels(n))
    names = R.metrics(R.LIGHT, have(real, fake, conditional=G.num_classes > 0))
    floor_pair = real.floor_pair()
    values = compute(floor_pair.with_candidate(fake), tuple(names))
    live = compute(floor_pair, tuple(k for k in names if k not in real.floor))
    floor = {k: (live[k] if k in live else real.floor[k])[0] for k in names}
    return {"eval_n": n, "eval": {k: v for k, (v, _) in values.items()}, "floor": floor}


def check_channels(dataset: str, sources: Sources, G: Generator | None = None) -> None:
    """A ConfigError when no evaluator scores `dataset`'s images (a colour import), or G's
    channels are not the dataset's."""
    spec = get_spec(dataset, sources.cache_dir)
    if G is not None:
        G.check_channels(spec.channels, dataset)
    if not spec.scorable:
        raise ConfigError(f"no evaluator scores {dataset}'s {spec.channels}-channel colour images yet (grey sets "
                          f"and stacked-mnist are scored)")


def light_scorer(dataset: str, sources: Sources, n: int = 2000,
                 get: Callable[[str, Sources], Evaluator] = get_evaluator) -> Callable[[Generator], dict[str, Any]]:
    """evaluate_light as a function of G alone, for training callbacks. `n` is checked now,
    before any training; the evaluator is loaded on the first call. It draws its own
    noise, so training is unaffected."""
    check_channels(dataset, sources)
    test_size = load_split(dataset, "test", sources).images.shape[0]
    check_n("eval.n", n, dataset, test_size)
    cache: list[tuple[Evaluator, RealReference]] = []

    def score(G: Generator) -> dict[str, Any]:
        if not cache:
            ev = get(dataset, sources)
            cache.append((ev, real_reference(ev, n, 0, sources, names=tuple(R.metrics(R.LIGHT)), dataset=dataset)))
        ev, real = cache[0]
        return evaluate_light(G, ev, sources, n=n, real=real)

    return score


def fitted_n(dataset: str, sources: Sources) -> int:
    """FULL_N (a stacked set: the papers' modes.N), or the whole test split of a smaller set
    (one info line says so)."""
    spec = get_spec(dataset, sources.cache_dir)
    full, test_size = modes.N if spec.base is not None else FULL_N, spec.files["test"][0].shape[0]
    if test_size >= full:
        return full
    log.info("%s has %d test images: evaluating %d samples against them (-n sets another n)", dataset, test_size,
             test_size)
    return test_size


def evaluate_source(source: str | Path, sources: Sources = Sources(), *, n: int | None = None, seed: int = 0,
                    last: bool = False, against: str | None = None) -> tuple[dict[str, Any], np.ndarray]:
    """Evaluate a run folder (its best generator unless `last`), a weights file or a
    training state against its own dataset, with D's report when D is there, on n
    samples (default: FULL_N, or all the test images of a smaller set). Returns the
    metrics.json dict (with "source" and "epoch") and the nearest-pairs grid.

    `against` scores it on another dataset's test split and evaluator instead: a set the
    run's was imported from (`data import --labels clusters`). Its classes are not that
    set's, so neither the conditional section nor D's report (D takes G's classes) is made."""
    source = Path(source)
    g = load_generator_from(source, last=last)
    dataset = against or g.cfg.data.name
    check_channels(dataset, sources, g.G)
    n = fitted_n(dataset, sources) if n is None else n
    ev = get_evaluator(dataset, sources)
    own = against is None
    D = load_discriminator(source, last=last) if own else None
    subset = (g.cfg.data.subset, g.cfg.data.subset_seed) if own else (1.0, 0)
    result, pairs = evaluate(g.G, ev, sources, n=n, seed=seed, D=D, dataset=dataset, subset=subset, conditional=own)
    trained_on = {} if own else {"trained_on": g.cfg.data.name}
    return {"source": str(g.src), "epoch": g.epoch, **trained_on, **result}, pairs
