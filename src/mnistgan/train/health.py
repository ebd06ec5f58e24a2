"""The health monitor: notices when a GAN run goes wrong, from values the loop already has.

Checked once per epoch, at almost no cost:
- **D has won**: the loss says when its D has saturated over the epoch (losses.Loss.d_won;
  for BCE: mean D(G(z)) < 0.01 and d_loss within 0.01 of its least). D tells every fake
  apart with certainty, and G learns little from it.
- **G has collapsed**: the fixed-noise grid's samples are nearly identical. Their mean
  pairwise pixel distance falls below COLLAPSE_SHARE of a real batch's (see below), once
  the run is past its first blob-like images.
- **Modes lost** (Stacked MNIST): a light evaluation's samples cover under MODES_SHARE of the
  modes that as many real images cover. Checked when the light evaluation runs; a warning.
- **Divergence**: a loss or a weight is not finite. This always stops the run, before
  anything is written, so the last good checkpoint survives.

A condition is reported once when it starts, and once more ("recovered") when it ends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

# The grid's mean pairwise distance as a share of a real batch's. Measured on MNIST
# (docs/explanations/health.md): healthy classic grids stay above 0.75 of the real batch's
# from epoch 1 on; collapsed ones (one blob for every z) fall below 0.15.
COLLAPSE_SHARE = 0.25
# Every run starts collapsed: after its first epoch the classic G draws one speckled blob for
# every z (diversity about 0.15). So collapse counts only once G has been diverse
# (DIVERSE_SHARE), or after WARMUP_IMAGES: three epochs of MNIST. Counted in images, not epochs:
# on 600 images (1% of MNIST) every classic run was a blob at epoch 3 (1,800 images) and became
# diverse between epochs 162 and 172 (about 100,000 images).
DIVERSE_SHARE = 0.5
WARMUP_IMAGES = 180_000
# Stacked MNIST: modes covered under this share of the real floor's (at the same n) are lost. Measured
# (docs/explanations/health.md): dcgan's light evaluation stayed at 745 of the floor's 863 modes (86%, at
# n = 2,000) while it covered 999 of 1000 at n = 26,000, so 90% would flag a run that drops none.
MODES_SHARE = 0.75

HINT = "the light evaluation keeps the best generator (generator-best.safetensors); try another train.seed"


@dataclass(frozen=True)
class HealthEvent:
    event: str  # "d_won" | "collapse" | "nonfinite" | "recovered"
    epoch: int
    message: str  # one line for the user: what happened and what to try
    values: dict[str, Any] = field(default_factory=dict)

    def record(self, step: int) -> dict[str, Any]:
        """The metrics.jsonl line."""
        return {"event": self.event, "epoch": self.epoch, "step": step, "message": self.message, **self.values}


def mean_pairwise_distance(images: torch.Tensor) -> float:
    """Mean Euclidean distance between all pairs of images (uint8 [N, 28, 28], N >= 2),
    in pixels scaled to [0, 1]. About 10 for a batch of real MNIST digits; 0 if all equal;
    NaN for fewer than two images."""
    x = images.reshape(images.shape[0], -1).double() / 255.0  # [N, 784]
    n = x.shape[0]
    if n < 2:
        return float("nan")
    return float(torch.cdist(x, x).sum() / (n * (n - 1)))


def nonfinite(losses: dict[str, float], modules: Iterable[tuple[str, nn.Module]]) -> str | None:
    """The name of the first loss or weight that is NaN or infinite, or None."""
    for name, value in losses.items():
        if not torch.isfinite(torch.tensor(value)):
            return f"{name} is {value}"
    for module_name, module in modules:
        params = [p.detach() for p in module.parameters()]
        # One reduction over the sums: a NaN or inf anywhere makes it non-finite (one pass, one
        # sync). Only then is each tensor looked at, to name it.
        if params and torch.isfinite(torch.stack([p.sum() for p in params]).sum()):
            continue
        for name, p in module.named_parameters():
            if not torch.isfinite(p).all():
                return f"weight {module_name}.{name} is not finite"
    return None


class HealthMonitor:
    """Turns each epoch's summary into events; remembers which conditions are active."""

    def __init__(self, real_distance: float, d_won: Callable[[dict[str, float]], bool],
                 images_per_epoch: int = 60_000) -> None:
        self.real_distance = real_distance  # mean pairwise distance of a real batch of grid size
        self.d_won = d_won  # the loss's test on the epoch's mean stats
        self.images_per_epoch = images_per_epoch  # the training split's size: the warm-up is in images
        self.active: set[str] = set()
        self.last_share = float("nan")  # the last grid's diversity, as a share of the real batch's
        self.was_diverse = False

    def replay(self, records: Iterable[dict[str, Any]]) -> None:
        """Restore which conditions are active from a resumed run's metrics.jsonl lines, so
        a resumed run reports exactly what an uninterrupted one would."""
        for r in records:
            if isinstance(r.get("health"), dict) and r["health"].get("diversity", 0) >= DIVERSE_SHARE:
                self.was_diverse = True
            if r.get("event") in ("d_won", "collapse", "modes_lost"):
                self.active.add(r["event"])
            elif r.get("event") == "recovered":
                self.active.discard(r.get("from"))

    def check_modes(self, epoch: int, light: dict[str, Any] | None) -> list[HealthEvent]:
        """From a light evaluation's line on Stacked MNIST: the samples cover fewer than
        MODES_SHARE of the modes that as many real images cover (the floor at the same n).
        Rank 0 only, after the epoch's health check: a warning, never a stop."""
        if not light or "modes" not in light.get("eval", {}):
            return []
        modes, floor = light["eval"]["modes"], light["floor"]["modes"]
        return self._update(epoch, {"modes_lost": (
            modes < MODES_SHARE * floor,
            f"epoch {epoch}: the generator covers {modes:.0f} of the 1000 modes, under {MODES_SHARE:.0%} of the "
            f"{floor:.0f} that {light['eval_n']} real images cover; {HINT}", {"modes": modes, "floor_modes": floor})})

    def check(self, epoch: int, means: dict[str, float], grid: torch.Tensor) -> list[HealthEvent]:
        """means: the epoch's mean stats; grid: uint8 [N, 28, 28], the fixed-noise samples."""
        d_loss, d_fake = means["d_loss"], means["d_fake"]
        share = self.last_share = mean_pairwise_distance(grid) / self.real_distance
        armed = self.was_diverse or epoch * self.images_per_epoch >= WARMUP_IMAGES
        self.was_diverse |= share >= DIVERSE_SHARE
        found = {
            "d_won": (self.d_won(means),
                      f"epoch {epoch}: the discriminator has won (mean D(G(z)) {d_fake:.4f}, d_loss "
                      f"{d_loss:.4f} over the epoch), so G learns little; {HINT}",
                      {"d_fake": d_fake, "d_loss": d_loss}),
            "collapse": (armed and share < COLLAPSE_SHARE,
                         f"epoch {epoch}: the generator has collapsed: its {grid.shape[0]} fixed-noise samples are "
                         f"nearly identical (pairwise distance {share:.2f} of a real batch's); {HINT}",
                         {"diversity": share}),
        }
        return self._update(epoch, found)

    def _update(self, epoch: int, found: dict[str, tuple[bool, str, dict[str, Any]]]) -> list[HealthEvent]:
        """Events for the conditions in `found` that began or ended now."""
        events = []
        for name, (now, message, values) in found.items():
            if now and name not in self.active:
                self.active.add(name)
                events.append(HealthEvent(name, epoch, message, values))
            elif not now and name in self.active:
                self.active.discard(name)
                events.append(HealthEvent("recovered", epoch, f"epoch {epoch}: recovered from {name}",
                                          {"from": name, **values}))
        return events
