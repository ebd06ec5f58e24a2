"""A time budget that cannot silently produce nothing.

`train.minutes` stops a run at the first epoch end after that many minutes of training
steps. On a slow machine (bf16 emulated on an AVX2 CPU trained `best` at 74 img/s) a
budget meant for dozens of epochs covers less than one, and the run ends with a
generator that draws noise. So at the run's first metrics line, once its speed is
measured, the budget is projected: if it covers under one epoch, or under MIN_SHARE of
the planned epochs (unless train.epochs is at its bound, MAX_EPOCHS: then the budget alone
sets the length, as the README's own-data command asks), a warning says so, and a health
event `budget` records it in metrics.jsonl, where `mnistgan runs` and the model card show it.
"""

from __future__ import annotations

from mnistgan.config import MAX_EPOCHS
from mnistgan.train.health import HealthEvent

MIN_SHARE = 0.1  # of train.epochs: a budget that covers less was meant for a faster machine


def budget_event(*, minutes: float, seconds_done: float, epoch: int, epochs: int, images_per_epoch: int,
                 img_per_s: float, precision: str) -> HealthEvent | None:
    """The `budget` event when `minutes` of training (of which seconds_done are spent)
    at img_per_s covers under one more epoch or under MIN_SHARE of `epochs`; else None."""
    if not minutes or img_per_s <= 0:
        return None
    epoch_s = images_per_epoch / img_per_s
    covered = epoch + max(0.0, minutes * 60 - seconds_done) / epoch_s  # epochs done when the budget is spent
    if covered >= epoch + 1 and (covered >= MIN_SHARE * epochs or epochs == MAX_EPOCHS):
        return None
    stop_at = max(epoch + 1, int(covered) + (covered % 1 > 0))
    message = (f"the time budget is short for this machine: at {img_per_s:,.0f} img/s ({precision}) "
               f"train.minutes={minutes:g} covers about {covered:.1f} of {epochs} planned epochs, so the run "
               f"stops after epoch {stop_at} (about {(stop_at - epoch) * epoch_s / 60:.1f} more minutes of "
               f"training) with an undertrained generator; raise train.minutes, or train on faster hardware")
    return HealthEvent("budget", epoch + 1, message, {"img_per_s": img_per_s, "epochs_covered": round(covered, 2)})
