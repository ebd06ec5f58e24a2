"""What the web app does with a run, as plain functions over torch and numpy (no HTTP):
sample grids, latent walks, the real-or-fake game and judging a drawing. Every call here
runs in the inference worker thread (mnistgan.serve.worker).

Images travel as uint8 [N, 28, 28] (0 = background), or [N, C, 28, 28] for a run of C > 1
channels (shown in colour); models take [N, C, 28, 28] in [-1, 1].
"""

from __future__ import annotations

import base64
import dataclasses
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mnistgan.config import RunConfig
from mnistgan.data.datasets import class_names
from mnistgan.data.sources import Sources, load_split
from mnistgan.errors import MnistganError, first_line
from mnistgan.eval import registry as R
from mnistgan.eval.evaluator import EvaluatorRecipe, load_evaluator, load_shipped
from mnistgan.images import as_pictures, make_grid, png_bytes
from mnistgan.losses import Loss, build_loss
from mnistgan.models import Discriminator, Generator
from mnistgan.runfolder import read_best, read_json
from mnistgan.sample import load_discriminator, load_generator_from, resolve, sample_uint8
from mnistgan.serve.catalog import summary
from mnistgan.tensors import as_images, as_input


class NotFound(LookupError):
    """A game or round the server does not know (or no longer remembers)."""


class Unavailable(RuntimeError):
    """Something the request needs is missing on the server (data, evaluator, a run that
    does not load): the message says what and how to provide it."""


def png_data_uri(image: np.ndarray) -> str:
    """One image, uint8 [28, 28] or [C, 28, 28], as a PNG data URI."""
    picture = as_pictures(image[None])[0]  # [C, 28, 28] -> [28, 28, C]
    return "data:image/png;base64," + base64.b64encode(png_bytes(picture, fast=True)).decode("ascii")


def slerp(a: torch.Tensor, b: torch.Tensor, steps: int) -> torch.Tensor:
    """`steps` points [steps, z_dim] on the great circle from a [z_dim] to b [z_dim]: a
    Gaussian z lives near a sphere, where a straight line would cut through the middle."""
    t = torch.linspace(0, 1, steps).unsqueeze(1)  # [steps, 1]
    cos = torch.dot(a, b) / (a.norm() * b.norm())
    omega = torch.arccos(cos.clamp(-1, 1))
    if omega.abs() < 1e-4:  # (nearly) the same direction: a straight line is the same path
        return (1 - t) * a + t * b
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)


class Resources:
    """What runs of one dataset share, loaded on first use: the test split (the game's real
    images) and the evaluator (judging drawings). Each is None with a reason when missing."""

    def __init__(self, sources: Sources) -> None:
        self.sources = dataclasses.replace(sources, download=False)  # a server never downloads
        self._test: dict[str, tuple[Any, str | None]] = {}
        self._evaluators: dict[str, tuple[Any, str | None]] = {}
        self._lock = threading.Lock()

    def _once(self, table: dict[str, tuple[Any, str | None]], dataset: str,
              load: Callable[[], tuple[Any, str | None]]) -> tuple[Any, str | None]:
        """(value, None) or (None, why it is missing), loaded on the first ask only."""
        with self._lock:
            if dataset not in table:
                table[dataset] = load()
            return table[dataset]

    def test_split(self, dataset: str) -> tuple[Any, str | None]:
        def load() -> tuple[Any, str | None]:
            try:
                return load_split(dataset, "test", self.sources), None
            except MnistganError as e:
                return None, (f"the {dataset} test split is not available here ({first_line(e)}); "
                              "start the server with --data-dir")
        return self._once(self._test, dataset, load)

    def evaluator(self, dataset: str) -> tuple[Any, str | None]:
        def load() -> tuple[Any, str | None]:
            recipe = EvaluatorRecipe(dataset=dataset)
            try:
                found = load_shipped(recipe) or load_evaluator(recipe, self.sources.cache_dir)
            except MnistganError as e:
                return None, first_line(e)
            return found, None if found else f"no {dataset} evaluator (run: mnistgan evaluator build --dataset {dataset})"
        return self._once(self._evaluators, dataset, load)


def generator_stamp(run: Path) -> tuple[str, float]:
    """Which generator file a run folder serves, and when it was written: a new best
    generator (a run still training) changes it, and the run is loaded again."""
    try:
        src = resolve(run)
        return src.name, src.stat().st_mtime
    except (MnistganError, OSError):
        return "", 0.0


@dataclass
class Served:
    """One run, loaded: G for use (best, EMA), its D and loss (for verdicts), its classes."""

    name: str
    path: Path
    G: Generator
    cfg: RunConfig
    D: Discriminator | None
    loss: Loss
    classes: list[str]
    src: Path  # the generator file within the run folder
    epoch: int | None  # the epoch it was saved at
    info: dict[str, Any] = field(default_factory=dict)
    stamp: tuple[str, float] = ("", 0.0)  # generator_stamp() when loaded

    @classmethod
    def load(cls, name: str, path: Path) -> Served:
        stamp = generator_stamp(path)  # before loading: a file replaced meanwhile is loaded again
        g = load_generator_from(path)
        D = load_discriminator(path) if g.cfg.model.pack == 1 else None  # a packed D scores no single image
        served = cls(name, path, g.G, g.cfg, D, build_loss(g.cfg.loss),
                     class_names(g.cfg.data.name, g.G.num_classes or 10), g.src, g.epoch, stamp=stamp)
        served.info = served.describe()
        return served

    def is_current(self, path: Path) -> bool:
        """Still the run at `path`, with the generator file it serves unchanged."""
        return self.path == path and self.stamp == generator_stamp(path)

    @property
    def num_classes(self) -> int:
        return self.G.num_classes

    def describe(self) -> dict[str, Any]:
        """GET /api/info: the model, preset, classes, epochs, metrics and what D's score means."""
        best = read_best(self.path)
        return {
            **summary(self.name, self.path),
            # the file within the run: the server's own paths are none of a client's business
            "generator": self.src.relative_to(self.path).as_posix(), "generator_epoch": self.epoch,
            "best": best,
            "z_dim": self.G.z_dim, "img_channels": self.G.img_channels,
            "classes": self.classes, "conditional": self.num_classes > 0,
            "loss": self.cfg.loss.name, "ema": self.cfg.train.ema_halflife > 0,
            "discriminator": self.D is not None, "d_missing": self.d_missing(),
            "d_score": {"name": self.loss.SCORE_NAME, "threshold": self.loss.THRESHOLD},
            "metrics": _metrics(self.path),
        }

    def d_missing(self) -> str | None:
        """Why there is no D to ask, from what the folder holds (D is saved only in training states)."""
        if self.D is not None:
            return None
        if self.cfg.model.pack > 1:
            return (f"this run's discriminator judges packs of {self.cfg.model.pack} images (model.pack), not one "
                    "image: it gives no verdict on a single digit")
        return (f"this run has no discriminator: no training state in {self.path.name}/checkpoints/ goes with the "
                "generator served (D is kept only in training states)")

    # --- sampling -----------------------------------------------------------------

    def sample_png(self, n: int, seed: int, digit: int | None) -> bytes:
        images = sample_uint8(self.G, n, seed, digit)  # [n, (C,) 28, 28]: a colour grid for C = 3
        return png_bytes(make_grid(images, nrow=16 if n > 100 else None), fast=True)

    def interpolate_png(self, seed_a: int, seed_b: int, steps: int, digit: int | None) -> bytes:
        z = slerp(self.G.noise(1, seed_a)[0], self.G.noise(1, seed_b)[0], steps)  # [steps, z_dim]
        if self.num_classes and digit is None:
            digit = 0
        images = as_images(self.G.generate(z, self.G.labels(steps, digit))).numpy()
        return png_bytes(make_grid(images, nrow=steps), fast=True)

    # --- the discriminator's verdict ---------------------------------------------

    @torch.no_grad()
    def verdict(self, images: np.ndarray, labels: torch.Tensor | None) -> list[dict[str, Any]] | None:
        """D on uint8 [B, 28, 28] (as a person sees them): its score in the loss's scale and
        its call at the loss's threshold; None when the run kept no D."""
        if self.D is None:
            return None
        scores = self.D(as_input(torch.from_numpy(images)), labels if self.D.num_classes else None)
        shown, real = self.loss.verdict(scores.float())
        return [{"score": float(s), "verdict": "real" if r else "fake"} for s, r in zip(shown, real)]


def _metrics(run: Path) -> dict[str, Any] | None:
    """metrics.json's metric table (value beside the real floor), when `evaluate` ran."""
    table = (read_json(run / "metrics.json") or {}).get("metrics")
    if not isinstance(table, dict):
        return None
    return {k: {"label": R.long_label(k, m.get("label")), **{f: m.get(f) for f in ("value", "std", "real", "real_std", "better")}}
            for k, m in table.items() if isinstance(m, dict)}


# --- the game: real or fake? -------------------------------------------------------

MAX_GAMES = 1000  # games remembered (oldest forgotten first)
MAX_OPEN_ROUNDS = 8  # unanswered rounds kept per game


@dataclass
class Game:
    rounds: OrderedDict[str, dict[str, Any]] = field(default_factory=OrderedDict)  # open rounds
    played: int = 0
    person: int = 0  # rounds the person called right
    d_right: int = 0  # rounds D called right
    d_judged: int = 0  # rounds D judged (0 when the run has no D)

    def score(self) -> dict[str, Any]:
        def share(k: int, n: int) -> float | None:
            return k / n if n else None
        return {"rounds": self.played, "person": self.person, "person_accuracy": share(self.person, self.played),
                "d": self.d_right, "d_rounds": self.d_judged, "d_accuracy": share(self.d_right, self.d_judged)}


class Games:
    """Open games by id, bounded; ids are unguessable random tokens."""

    def __init__(self) -> None:
        self._games: OrderedDict[str, Game] = OrderedDict()
        self._lock = threading.Lock()
        self.rng = np.random.default_rng(secrets.randbits(64))

    def get_or_new(self, game_id: str | None) -> tuple[str, Game]:
        with self._lock:
            if game_id in self._games:
                self._games.move_to_end(game_id)
                return game_id, self._games[game_id]
            new_id = secrets.token_urlsafe(12)
            self._games[new_id] = Game()
            while len(self._games) > MAX_GAMES:
                self._games.popitem(last=False)
            return new_id, self._games[new_id]

    def new_round(self, served: Served, resources: Resources, game_id: str | None) -> dict[str, Any]:
        """A real test image or a generated one, with even odds; the truth stays here."""
        test, reason = resources.test_split(served.cfg.data.name)
        if test is None:
            raise Unavailable(reason)
        with self._lock:
            real = bool(self.rng.integers(2))
            index = int(self.rng.integers(len(test.images)))
            seed = int(self.rng.integers(2**62))
            digit = int(self.rng.integers(served.num_classes)) if served.num_classes else None
        if real:
            image, label = test.images[index].numpy(), int(test.labels[index])
        else:
            image, label = sample_uint8(served.G, 1, seed, digit)[0], digit
        labels = torch.tensor([label if label is not None else 0])
        verdict = served.verdict(image[None], labels)
        game_id, game = self.get_or_new(game_id)
        round_id = secrets.token_urlsafe(9)
        with self._lock:
            game.rounds[round_id] = {"truth": "real" if real else "fake", "run": served.name,
                                     "d": verdict[0] if verdict else None, "label": label}
            while len(game.rounds) > MAX_OPEN_ROUNDS:
                game.rounds.popitem(last=False)
        return {"game": game_id, "round": round_id, "image": png_data_uri(image), "run": served.name}

    def guess(self, game_id: str, round_id: str, guess: str) -> dict[str, Any]:
        """Reveal the round's truth and D's verdict, and update the running score."""
        with self._lock:
            game = self._games.get(game_id)
            if game is None:
                raise NotFound(f"unknown game {game_id[:40]!r} (start one with GET /api/game/round)")
            found = game.rounds.pop(round_id, None)
            if found is None:
                raise NotFound(f"unknown or already answered round {round_id[:40]!r}")
            game.played += 1
            right = guess == found["truth"]
            game.person += right
            d = found["d"]
            if d is not None:
                d = {**d, "correct": d["verdict"] == found["truth"]}
                game.d_judged += 1
                game.d_right += d["correct"]
            return {"truth": found["truth"], "guess": guess, "correct": right, "label": found["label"],
                    "d": d, "score": game.score()}


# --- judging a drawing --------------------------------------------------------------

def judge(served: Served, resources: Resources, image: np.ndarray) -> dict[str, Any]:
    """D's verdict on an MNIST-style uint8 [28, 28] drawing and the evaluator's class
    probabilities. A conditional D judges the drawing as the class the evaluator sees.
    A drawing is grey: a run of another channel count cannot judge it."""
    if served.G.img_channels != 1:
        raise Unavailable(f"a drawing has 1 channel and run {served.name!r} draws {served.G.img_channels}-channel "
                          f"images: it cannot judge drawings")
    ev, reason = resources.evaluator(served.cfg.data.name)
    probs = None
    if ev is not None:
        _, p = ev.embed(torch.from_numpy(image[None]))  # [1, 10] softmax
        probs = [float(v) for v in p[0]]
    label = int(np.argmax(probs)) if probs else 0
    verdict = served.verdict(image[None], torch.tensor([label]))
    return {"image": png_data_uri(image), "pixels": image.reshape(-1).tolist(),
            "d": verdict[0] if verdict else None,
            "d_label": label if served.num_classes and verdict else None,
            "d_missing": served.d_missing(),
            "classes": served.classes, "probabilities": probs, "evaluator_missing": reason}
