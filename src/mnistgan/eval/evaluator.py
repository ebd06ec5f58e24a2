"""The evaluator: a small CNN classifier the tool trains itself, since Inception weights
cannot be downloaded here and fit 28x28 digits poorly anyway.

Its 128-d penultimate features feed the distribution metrics (FID, KID, precision/recall);
its softmax feeds the class metrics. MNIST's and Fashion-MNIST's ship inside the package
(weights/, with a manifest of their sha256, recipe and accuracy), so every machine scores
with the same weights. Any other dataset or recipe is trained once, saved as safetensors
in the cache with its sha256 and recipe beside it, and reused. Every load checks the sha256.
An imported set with labels gets its own evaluator the same way; an unlabelled one cannot
train a classifier, so it is scored on the MNIST evaluator's features (`scoring_dataset`).

    x [B, 1, 28, 28] in [-1, 1]
    -> conv3x3 16, BN, ReLU -> conv3x3 16, BN, ReLU -> maxpool   [B, 16, 14, 14]
    -> conv3x3 32, BN, ReLU -> conv3x3 32, BN, ReLU -> maxpool   [B, 32, 7, 7]
    -> linear 128, ReLU (the features)                           [B, 128]
    -> linear 10 (logits)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load, save
from torch import nn

from mnistgan.data.datasets import batches, get_spec
from mnistgan.tensors import as_input, batched
from mnistgan.data.sources import Sources, load_split
from mnistgan.errors import CheckpointError, DataError, first_line
from mnistgan.atomic import atomic_write_bytes

log = logging.getLogger(__name__)

FEATURE_DIM = 128
SHIPPED_DIR = Path(__file__).parent / "weights"  # <dataset>.safetensors and manifest.json; read at call time
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class EvaluatorRecipe:
    """Everything that determines the evaluator's weights, saved beside them."""

    dataset: str = "mnist"
    seed: int = 0
    epochs: int = 4
    batch_size: int = 128
    lr: float = 3e-3  # peak of a one-cycle schedule
    max_shift: int = 2  # random translation augmentation, in pixels

    def key(self) -> str:
        """A short stable name for the cache file."""
        blob = json.dumps(dataclasses.asdict(self), sort_keys=True).encode()
        return f"{self.dataset}-{hashlib.sha256(blob).hexdigest()[:10]}"


def _block(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]


class EvaluatorNet(nn.Module):
    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.conv = nn.Sequential(*_block(1, 16), *_block(16, 16), nn.MaxPool2d(2),
                                  *_block(16, 32), *_block(32, 32), nn.MaxPool2d(2))
        self.fc = nn.Linear(32 * 7 * 7, FEATURE_DIM)
        self.head = nn.Linear(FEATURE_DIM, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.fc(self.conv(x).flatten(1)))  # [B, 128]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))  # [B, 10] logits


@dataclass(frozen=True)
class Evaluator:
    net: EvaluatorNet
    recipe: EvaluatorRecipe
    sha256: str
    test_accuracy: float
    origin: str = "cached"  # "shipped" (inside the package) or "cached" (built on this machine)
    path: Path | None = None

    @torch.no_grad()
    def embed(self, images: torch.Tensor, batch_size: int = 1000) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 [N, 28, 28] -> (float64 features [N, 128], float64 softmax [N, 10])."""
        self.net.eval()
        feats, probs = [], []
        for i in range(0, images.shape[0], batch_size):
            x = as_input(images[i : i + batch_size])
            f = self.net.features(x)
            feats.append(f.double())
            probs.append(torch.softmax(self.net.head(f).double(), dim=1))
        return torch.cat(feats), torch.cat(probs)

    def info(self) -> dict[str, Any]:
        return {"origin": self.origin, "path": str(self.path), "sha256": self.sha256,
                "test_accuracy": self.test_accuracy, "recipe": dataclasses.asdict(self.recipe)}


def random_shift(x: torch.Tensor, max_shift: int, gen: torch.Generator) -> torch.Tensor:
    """Translate each image [B, 1, H, W] by its own random offset, filling with the background."""
    if max_shift == 0:
        return x
    B, _, H, W = x.shape
    padded = F.pad(x, (max_shift,) * 4, value=-1.0)  # -1 is black in [-1, 1]
    dy = torch.randint(0, 2 * max_shift + 1, (B,), generator=gen)
    dx = torch.randint(0, 2 * max_shift + 1, (B,), generator=gen)
    rows = (torch.arange(H)[None, :] + dy[:, None])[:, :, None]  # [B, H, 1]
    cols = (torch.arange(W)[None, :] + dx[:, None])[:, None, :]  # [B, 1, W]
    return padded[torch.arange(B)[:, None, None], 0, rows, cols].unsqueeze(1)


@torch.no_grad()
def accuracy(net: EvaluatorNet, images: torch.Tensor, labels: torch.Tensor) -> float:
    net.eval()
    predicted = batched(lambda s: net(as_input(images[s])).argmax(1), images.shape[0])  # [N]
    return int((predicted == labels).sum()) / images.shape[0]


def train_evaluator(recipe: EvaluatorRecipe, sources: Sources) -> tuple[EvaluatorNet, float]:
    """Train on the train split (deterministic given recipe.seed); returns (net, test accuracy)."""
    torch.manual_seed(recipe.seed)
    gen = torch.Generator().manual_seed(recipe.seed)
    spec = get_spec(recipe.dataset, sources.cache_dir)
    if not spec.labelled:
        raise DataError(f"{recipe.dataset} has no labels, so no evaluator can be trained on it; its runs are scored "
                        "on the MNIST evaluator's features (FID, KID, precision/recall, density/coverage), with "
                        "memorisation and D's report; the classifier score and class histogram need labels")
    train, test = load_split(recipe.dataset, "train", sources), load_split(recipe.dataset, "test", sources)
    net = EvaluatorNet(len(spec.classes))
    opt = torch.optim.AdamW(net.parameters(), lr=recipe.lr, weight_decay=1e-4)
    # A set smaller than one batch (an imported one can be) trains on whole-set batches.
    batch_size = min(recipe.batch_size, train.images.shape[0])
    steps = recipe.epochs * (train.images.shape[0] // batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=recipe.lr, total_steps=steps)
    index = torch.arange(train.images.shape[0])
    for epoch in range(recipe.epochs):
        net.train()
        start = time.perf_counter()
        for idx in batches(index, batch_size, gen):
            x = random_shift(as_input(train.images[idx]), recipe.max_shift, gen)
            loss = F.cross_entropy(net(x), train.labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        log.info("evaluator epoch %d/%d: loss %.4f (%.0f s)", epoch + 1, recipe.epochs, loss.item(),
                 time.perf_counter() - start)
    return net, accuracy(net, test.images, test.labels)


def _paths(cache_dir: Path, recipe: EvaluatorRecipe) -> tuple[Path, Path]:
    base = cache_dir / "evaluators" / recipe.key()
    return base.with_suffix(".safetensors"), base.with_suffix(".json")


def _train_and_save(recipe: EvaluatorRecipe, sources: Sources, weights: Path) -> tuple[EvaluatorNet, dict[str, Any]]:
    """Train, write the weights (the same bytes wherever they go) and return (net, their record)."""
    start = time.perf_counter()
    net, acc = train_evaluator(recipe, sources)
    tensors = {k: v.contiguous() for k, v in net.state_dict().items()}
    atomic_write_bytes(weights, save(tensors, metadata={"recipe": json.dumps(dataclasses.asdict(recipe))}))
    record = {"sha256": hashlib.sha256(weights.read_bytes()).hexdigest(), "test_accuracy": acc,
              "recipe": dataclasses.asdict(recipe), "train_seconds": round(time.perf_counter() - start, 1),
              "torch": torch.__version__, "threads": torch.get_num_threads()}
    return net.eval(), record


def _read_verified(weights: Path, sha256: str, num_classes: int, mismatch: str) -> EvaluatorNet:
    """Hash the bytes, then load those same bytes (safetensors: no code runs)."""
    data = weights.read_bytes()
    if hashlib.sha256(data).hexdigest() != sha256:
        raise CheckpointError(f"{weights}: sha256 does not match {mismatch}")
    net = EvaluatorNet(num_classes)
    net.load_state_dict(load(data))
    return net.eval()


def build_evaluator(recipe: EvaluatorRecipe, sources: Sources) -> Evaluator:
    """Train and save to the cache (weights, then the info file naming their sha256)."""
    weights, info = _paths(sources.cache_dir, recipe)
    net, record = _train_and_save(recipe, sources, weights)
    atomic_write_bytes(info, (json.dumps(record, indent=2) + "\n").encode())
    return Evaluator(net, recipe, record["sha256"], record["test_accuracy"], "cached", weights)


def load_evaluator(recipe: EvaluatorRecipe, cache_dir: Path) -> Evaluator | None:
    """The cached evaluator, verified against its recorded sha256; None if not built yet."""
    weights, info = _paths(cache_dir, recipe)
    if not (weights.is_file() and info.is_file()):
        return None
    try:
        record = json.loads(info.read_text())
        classes = len(get_spec(recipe.dataset, cache_dir).classes)
        net = _read_verified(weights, record["sha256"], classes, f"{info.name}; delete both to rebuild")
    except (json.JSONDecodeError, KeyError, RuntimeError, OSError, SafetensorError) as e:
        raise CheckpointError(f"{weights}: unreadable cached evaluator ({first_line(e, 120)}); delete it to rebuild") from None
    return Evaluator(net, recipe, record["sha256"], float(record["test_accuracy"]), "cached", weights)


def shipped_manifest(folder: Path | None = None) -> dict[str, dict[str, Any]]:
    """dataset -> {sha256, test_accuracy, recipe, train_seconds, torch, threads}; {} if none ships."""
    path = (folder or SHIPPED_DIR) / MANIFEST
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, OSError) as e:
        raise CheckpointError(f"{path}: unreadable shipped manifest ({first_line(e, 120)}); reinstall mnistgan") from None


def load_shipped(recipe: EvaluatorRecipe, folder: Path | None = None) -> Evaluator | None:
    """The evaluator shipped for exactly this recipe, verified against the manifest; None if none ships."""
    folder = folder or SHIPPED_DIR
    entry = shipped_manifest(folder).get(recipe.dataset)
    if entry is None or entry.get("recipe") != dataclasses.asdict(recipe):
        return None
    weights = folder / f"{recipe.dataset}.safetensors"
    try:
        net = _read_verified(weights, entry["sha256"], len(get_spec(recipe.dataset).classes),
                             "the shipped manifest; reinstall mnistgan")
    except (KeyError, RuntimeError, OSError, SafetensorError) as e:
        raise CheckpointError(f"{weights}: unreadable shipped evaluator ({first_line(e, 120)}); reinstall mnistgan") from None
    return Evaluator(net, recipe, entry["sha256"], float(entry["test_accuracy"]), "shipped", weights)


def ship_evaluator(dataset: str, sources: Sources, folder: Path) -> dict[str, Any]:
    """For maintainers: build the default recipe into folder/<dataset>.safetensors and record it
    in folder/manifest.json, keeping the other datasets' entries. Returns the new record."""
    recipe = EvaluatorRecipe(dataset=dataset)
    weights = folder / f"{dataset}.safetensors"
    _, record = _train_and_save(recipe, sources, weights)
    manifest = {**shipped_manifest(folder), dataset: record}
    atomic_write_bytes(folder / MANIFEST, (json.dumps(dict(sorted(manifest.items())), indent=2) + "\n").encode())
    return record


def scoring_dataset(dataset: str, sources: Sources) -> str:
    """The dataset whose evaluator scores images of `dataset`: itself when it has labels;
    MNIST (a digit classifier's features) for an unlabelled imported set; a derived set's
    base (stacked-mnist: MNIST's, on each channel)."""
    spec = get_spec(dataset, sources.cache_dir)
    if spec.base is not None:
        return spec.base
    return dataset if spec.labelled else "mnist"


def get_evaluator(dataset: str, sources: Sources, recipe: EvaluatorRecipe | None = None) -> Evaluator:
    """The shipped evaluator for `dataset` if its recipe is the one asked for; else the cached
    one, built on first use (a few CPU minutes). An unlabelled set gets MNIST's."""
    dataset = scoring_dataset(dataset, sources)
    recipe = recipe or EvaluatorRecipe(dataset=dataset)
    found = load_shipped(recipe) or load_evaluator(recipe, sources.cache_dir)
    if found is not None:
        return found
    log.info("building the %s evaluator (once; cached in %s)", dataset, sources.cache_dir / "evaluators")
    return build_evaluator(recipe, sources)
