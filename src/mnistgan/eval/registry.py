"""The metric registry: every metric registers itself, once, where it is defined.

    @metric("fid_lenet", label="FID (evaluator features)", short="FID", better="lower",
            about="...", needs={FEATURES}, shown={EVALUATE, LIGHT, RUNS, SWEEP, WEB})
    def fid(p: Pair) -> tuple[float, float | None]:
        return M.frechet_distance(p.cand.feats, p.ref.feats), None

A metric is a function of a Pair (candidate set against the reference set) returning
(value, std or None). Its floor is the same function on the real floor's pair (real test
images against the same reference set, `RealReference.floor_pair`). Everything that shows
metrics reads this table: `evaluate` and its text table, the light evaluation, the report,
the model card, `mnistgan runs`, the sweep summary and the web app. Adding a metric is one
new module that uses @metric, imported in `mnistgan/eval/__init__.py`.

A metric runs only where its `needs` are available (`available`), so a metric of 3-channel
data is skipped on MNIST, and a class metric on an unlabelled set.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from mnistgan.eval.inputs import Pair

# What a metric needs.
FEATURES = "features"  # the evaluator's features of both sets: always there
CLASSES = "classes"  # class probabilities that mean something: the dataset has labels
CONDITIONAL = "conditional"  # the class each sample was asked for: a class-conditional G
CHANNEL_LABELS = "channel_labels"  # the evaluator's digit for each channel: a stacked (3-channel) set
D_SCORES = "d_scores"  # the trained D's scores (its report is a section, not a metric, so far)
NEIGHBOURS = "neighbours"  # k-NN among the samples: O(n^2), so at most evaluate.FULL_N (not the 26,000 of modes)
PLAIN = frozenset({FEATURES, CLASSES, CONDITIONAL, D_SCORES, NEIGHBOURS})  # what a labelled one-channel set can give

# Where a metric is shown.
EVALUATE = "evaluate"  # a row of evaluate's table and metrics.json's "metrics" (so the report's, card's, web app's)
LIGHT = "light"  # logged by the light evaluation in metrics.jsonl (the report's curves, the card's light table)
CARD = "card"  # a row of the card's table even when not one of evaluate's (read from its section of metrics.json)
RUNS = "runs"  # a column of `mnistgan runs`
SWEEP = "sweep"  # a figure of the sweep summary
WEB = "web"  # the web app's runs list

BEST_BY = "fid_lenet"  # the light metric that picks the best generator (checkpoints/best.json)
FLOOR_TEST = "the same metric on n real test images against the same reference set"

Score = tuple[float, "float | None"]


@dataclass(frozen=True)
class Metric:
    key: str  # its name in metrics.json and metrics.jsonl
    label: str  # the long name: evaluate's table, the report, the card
    short: str  # the short name: the card's light table, the sweep summary, the web app
    better: str  # "lower" or "higher"
    about: str  # what it measures and its range
    needs: frozenset[str]
    shown: frozenset[str]
    compute: Callable[[Pair], Score]
    floor: str = FLOOR_TEST  # how its real-data floor is computed
    digits: int = 4  # significant digits; with percent, decimals of the percentage
    percent: bool = False
    abbrev: str = ""  # its column title in `mnistgan runs` (default: short)
    column: str = ""  # its key in the sweep summary's rows (default: key)
    floor_column: str | None = None  # its floor's key there, when the summary keeps it
    section: Callable[[dict[str, Any]], tuple[Any, Any]] | None = None  # (value, floor) when not in "metrics"

    def fmt(self, value: Any) -> str:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return "—"
        return f"{value:.{self.digits}%}" if self.percent else f"{value:.{self.digits}g}"

    def worst(self, values: Iterable[float]) -> float:
        return max(values) if self.better == "lower" else min(values)

    def read(self, result: dict[str, Any]) -> tuple[Any, Any]:
        """(value, floor) from a metrics.json dict; (None, None) where it is not there."""
        try:
            if self.section is not None:
                return self.section(result)
            m = result["metrics"][self.key]
            return m.get("value"), m.get("real")
        except (KeyError, TypeError, AttributeError):
            return None, None


_REGISTRY: dict[str, Metric] = {}


def metric(key: str, *, label: str, better: str, about: str, needs: Iterable[str], shown: Iterable[str],
           short: str | None = None, **display: Any) -> Callable[[Callable[[Pair], Score]], Callable[[Pair], Score]]:
    """Register the decorated function as metric `key` (once, at import); returns it unchanged."""
    if better not in ("lower", "higher"):
        raise ValueError(f"{key}: better must be 'lower' or 'higher', got {better!r}")

    def register(compute: Callable[[Pair], Score]) -> Callable[[Pair], Score]:
        if key in _REGISTRY:
            raise ValueError(f"metric {key!r} is registered twice")
        _REGISTRY[key] = Metric(key, label, short or label, better, about, frozenset(needs), frozenset(shown),
                                compute, abbrev=display.pop("abbrev", short or label),
                                column=display.pop("column", key), **display)
        return compute

    return register


def metrics(shown: str | None = None, have: Iterable[str] | None = None) -> dict[str, Metric]:
    """The registered metrics in registration order: those shown in `shown` (None: all) whose
    needs are within `have` (None: all)."""
    have = None if have is None else frozenset(have)
    return {k: m for k, m in _REGISTRY.items()
            if (shown is None or shown in m.shown) and (have is None or m.needs <= have)}


def available(*, labelled: bool, conditional: bool = False, channel_labels: bool = False,
              d_scores: bool = False, neighbours: bool = True) -> frozenset[str]:
    """The needs that the data, the generator and the evaluator at hand can meet."""
    flags = {CLASSES: labelled, CONDITIONAL: conditional and labelled, CHANNEL_LABELS: channel_labels,
             D_SCORES: d_scores, NEIGHBOURS: neighbours}
    return frozenset({FEATURES} | {need for need, ok in flags.items() if ok})


def compute(pair: Pair, names: Iterable[str]) -> dict[str, Score]:
    """{name: (value, std or None)} for each named metric on `pair`."""
    return {name: _REGISTRY[name].compute(pair) for name in names}


def get(key: str) -> Metric:
    return _REGISTRY[key]


def label(key: str) -> str:
    """A metric's short name; an unregistered key (an older or newer run folder) is its own."""
    return _REGISTRY[key].short if key in _REGISTRY else key


def long_label(key: str, stored: Any = None) -> str:
    """A metric's long name: today's, so a file written under an older name reads the same
    as a new one; an unregistered key's is the name its file stored (else the key)."""
    return _REGISTRY[key].label if key in _REGISTRY else stored if isinstance(stored, str) and stored else key


def shown_columns(shown: str, rows: Iterable[dict[str, Any]]) -> list[Metric]:
    """The metrics of a table's `shown` columns: those a labelled one-channel set can have,
    and any other that some row has a value for (a stacked run's modes)."""
    rows = list(rows)
    return [m for m in metrics(shown).values()
            if m.needs <= PLAIN or any(r.get(m.column) is not None for r in rows)]
