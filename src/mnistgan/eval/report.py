"""One self-contained HTML report of a run folder.

    write_report(Path("runs/00000-classic-mnist"))  ->  runs/00000-classic-mnist/report.html

The file has no external references: every image (sample grids, the progress GIF,
matplotlib plots, the nearest-neighbour pairs) is embedded as a base64 data URI and
the CSS is inline, so it opens offline and can be mailed or archived on its own.

Inputs, all read from the run folder (see mnistgan.runfolder):
  metrics.jsonl       required; training lines (d_loss, ...) and eval lines ("eval", "floor")
  config.json         optional; dataset and planned number of epochs
  samples/epoch_NNNN.png   optional; the fixed-noise grid every train.grid_every epochs
  metrics.json, nearest_pairs.png   optional; written by `mnistgan evaluate RUN`

A missing optional piece never fails the report: its section says what is missing
and which command produces it. Sections are built by one small function each.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from mnistgan._version import __version__
from mnistgan.atomic import atomic_write_bytes
from mnistgan.config import EvalConfig
from mnistgan.errors import MnistganError
from mnistgan.eval import registry as R
from mnistgan.eval.metrics import COVERED_SHARE, KL_COLLAPSE, MEMORISED_RATIO
from mnistgan.images import gif_bytes, png_bytes, upscale
from mnistgan.runfolder import BEST_GENERATOR, BEST_INFO, grid_files, read_best, read_json, read_metrics

if TYPE_CHECKING:  # matplotlib is optional (the eval extra): imported when a plot is drawn
    from matplotlib.figure import Figure

DPI = 100  # with ~6x3 inch figures: ~600x300 px plots of ~20-40 KB each
FINAL_SCALE = 3  # the final grid, enlarged so single digits are easy to judge
STRIP_EPOCHS = 8  # grids shown side by side; more would be too small to read
GIF_FRAMES = 60  # cap on animation frames, which keeps the file size bounded

CSS = """
body { margin: 0; background: #fafafa; color: #222;
       font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 960px; margin: 0 auto; padding: 1.5em; background: #fff; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 2em; }
.meta, .note, footer { color: #666; }
.missing { background: #f4f4f4; border-left: 4px solid #aaa; padding: 0.5em 1em; }
.warn { background: #fff1f0; border-left: 4px solid #d93025; padding: 0.5em 1em; font-weight: 600; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #ddd; padding: 0.3em 0.7em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; height: auto; }
img.pixels { image-rendering: pixelated; }
.strip { display: flex; flex-wrap: wrap; gap: 0.5em; }
.strip figure, .plots figure { margin: 0; text-align: center; }
.plots { display: flex; flex-wrap: wrap; gap: 0.5em; }
figcaption { color: #666; font-size: 0.9em; }
code { background: #f4f4f4; padding: 0 0.2em; }
"""


# -----------------------------------------------------------------------------
# the run folder


@dataclass
class _Run:
    """Everything the report reads, loaded once; optional pieces are empty or None."""

    path: Path
    config: dict[str, Any]
    train_lines: list[dict[str, Any]]
    eval_lines: list[dict[str, Any]]
    events: list[dict[str, Any]]  # health events: {"event", "epoch", "message", ...}
    best: dict[str, Any] | None  # checkpoints/best.json: {"epoch", "fid_lenet"}
    grids: list[tuple[int, Path]]  # (epoch, samples/epoch_NNNN.png), sorted by epoch
    evaluation: dict[str, Any] | None  # metrics.json
    labels: dict[str, str] = field(default_factory=dict)  # metric key -> label: the registry's, else metrics.json's


def _load_run(run_dir: Path) -> _Run:
    if not run_dir.is_dir():
        raise MnistganError(f"run folder {run_dir} does not exist")
    if not (run_dir / "metrics.jsonl").is_file():
        raise MnistganError(f"{run_dir} has no metrics.jsonl: not a run folder written by `mnistgan train`")
    rows = read_metrics(run_dir)
    evaluation = read_json(run_dir / "metrics.json")
    table = (evaluation or {}).get("metrics") or {}
    return _Run(
        path=run_dir,
        config=read_json(run_dir / "config.json") or {},
        train_lines=[r for r in rows if "d_loss" in r],
        eval_lines=[r for r in rows if isinstance(r.get("eval"), dict)],
        events=[r for r in rows if isinstance(r.get("event"), str)],
        best=read_best(run_dir),
        grids=list(grid_files(run_dir).items()),
        evaluation=evaluation,
        labels={k: m.label for k, m in R.metrics().items()}
        | {k: R.long_label(k, m.get("label")) for k, m in table.items() if isinstance(m, dict)},
    )


def _epochs_completed(run: _Run) -> int | None:
    """A grid is saved after each finished epoch, so the newest grid counts them; training
    lines are not used because their epoch is the one in progress."""
    epochs = [e for e, _ in run.grids] + [int(r["epoch"]) for r in run.eval_lines if "epoch" in r]
    return max(epochs, default=None)


def _load_grid(path: Path) -> np.ndarray | None:
    """uint8 [H, W], or None for an unreadable file (e.g. torn by a killed run)."""
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("L"))
    except OSError:
        return None


# -----------------------------------------------------------------------------
# HTML and plotting helpers


def _esc(value: Any) -> str:
    return html.escape(str(value))


def fmt(value: Any) -> str:
    """A number as shown in the report: 4 significant digits, '—' for absent."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value) and abs(value) >= 1e4:
            return f"{value:.0f}"  # no exponent for large, still readable values
        return f"{value:.4g}"
    return str(value)


def _pm(value: Any, std: Any) -> str:
    return fmt(value) if std is None else f"{fmt(value)} ± {fmt(std)}"


def _data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _img(data: bytes, alt: str, mime: str = "image/png", width: int | None = None,
         pixels: bool = False) -> str:
    """<img> with embedded data; `pixels` keeps digit grids crisp when the browser scales them."""
    attrs = f' width="{width}"' if width else ""
    attrs += ' class="pixels"' if pixels else ""
    return f'<img src="{_data_uri(data, mime)}" alt="{_esc(alt)}"{attrs}>'


def _embed_file(path: Path, alt: str) -> str | None:
    """An image file embedded as is, with its MIME type from its content, not its name."""
    try:
        with Image.open(path) as im:
            kind = (im.format or "png").lower()
        return _img(path.read_bytes(), alt, mime=f"image/{kind}", pixels=True)
    except OSError:
        return None


def _missing(what: str, command: str) -> str:
    return f'<p class="missing">{_esc(what)} Run <code>{_esc(command)}</code> to produce it.</p>'


def _section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}">\n<h2>{_esc(title)}</h2>\n{body}\n</section>'


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[int] = ()) -> str:
    """Cells in `rows` are HTML already (callers escape); `numeric` columns are right-aligned."""
    head = "".join(f"<th>{_esc(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>"
                         for i, c in enumerate(row)) + "</tr>\n"
        for row in rows
    )
    return f"<table>\n<tr>{head}</tr>\n{body}</table>"


def _figure(width: float = 6.0, height: float = 3.0) -> Figure:
    """A matplotlib Figure on the Agg canvas: no pyplot, so no global state and no display."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as e:
        raise MnistganError("the report needs matplotlib: pip install 'mnistgan[eval]'") from e
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _plot_png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def _float(value: Any) -> float:
    """JSON number -> float; anything else -> nan, which matplotlib leaves as a gap."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan


def _smooth(y: np.ndarray) -> np.ndarray:
    """Running mean over ~4% of the points: GAN losses are noisy step to step, the trend is what matters."""
    window = max(1, len(y) // 25)
    if window == 1:
        return y
    # mean over the points that exist: near the ends the window shrinks instead of
    # repeating the edge value, and non-finite points (a diverged step) are left out
    finite = np.isfinite(y)
    kernel = np.ones(window)
    total = np.convolve(np.where(finite, y, 0.0), kernel, mode="same")
    count = np.convolve(finite.astype(np.float64), kernel, mode="same")
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / count


def _evenly(n: int, k: int) -> list[int]:
    """At most k indices into range(n), evenly spaced, always including the first and last."""
    if n <= k:
        return list(range(n))
    return sorted({round(i * (n - 1) / (k - 1)) for i in range(k)})


# -----------------------------------------------------------------------------
# sections, in report order


def _header(run: _Run) -> str:
    data = run.config.get("data") or {}
    dataset = data.get("name") or (run.evaluation or {}).get("dataset") or "unknown dataset"
    train = run.config.get("train") or {}
    planned, minutes = train.get("epochs"), train.get("minutes")
    done = _epochs_completed(run)
    epochs = f"{fmt(done)} of {fmt(planned)}" if planned is not None else fmt(done)
    if isinstance(minutes, (int, float)) and minutes > 0:  # a time budget ends the run first, as a rule
        epochs += f", time budget {fmt(minutes)} min"
    preset = run.config.get("preset")
    meta = f"dataset <b>{_esc(dataset)}</b> · epochs completed <b>{_esc(epochs)}</b>"
    if preset:
        meta += f" · preset <b>{_esc(preset)}</b>"
    return (
        f"<h1>{_esc(run.path.name)}</h1>\n<p class=\"meta\">{meta}</p>\n"
        "<p>How to read this report: every quality number stands beside its <b>real floor</b>, "
        "the score that real held-out test images get against the training images with the same "
        "evaluator and the same number of samples. That is the best a generator can hope for, so "
        "judge each metric by its distance from the floor rather than by its absolute value "
        "(a FID means little on its own, a lot beside the floor); the arrow says "
        "which direction is better. The first sections follow training as it happened; the later "
        "ones come from <code>mnistgan evaluate</code> on the best generator kept during training "
        "(or the final one, with <code>--last</code>).</p>"
    )


def _grids_section(run: _Run) -> str:
    title = "Fixed-noise samples during training"
    if not run.grids:
        return _section("grids", title, _missing("No sample grids in samples/.", "mnistgan train"))
    last_epoch, last_path = run.grids[-1]
    final = _load_grid(last_path)
    parts = ["<p>The same noise vectors z go through the generator for every grid, "
             "so each position in the grid follows one sample as G learns.</p>"]
    shown = [(last_epoch, final, f"after epoch {last_epoch} (final)")]
    best_epoch = (run.best or {}).get("epoch")
    best_path = dict(run.grids).get(best_epoch)
    if best_path is not None and best_epoch != last_epoch:
        shown.insert(0, (best_epoch, _load_grid(best_path), f"after epoch {best_epoch} (the best generator)"))
    for epoch, grid, caption in shown:
        if grid is not None:
            parts.append(f"<figure>{_img(png_bytes(upscale(grid, FINAL_SCALE)), f'epoch {epoch}', pixels=True)}"
                         f"<figcaption>{caption}</figcaption></figure>")
    cells = []
    for i in _evenly(len(run.grids), STRIP_EPOCHS):
        epoch, path = run.grids[i]
        grid = _load_grid(path)
        if grid is not None:
            cells.append(f"<figure>{_img(png_bytes(grid), f'epoch {epoch}', pixels=True)}"
                         f"<figcaption>epoch {epoch}</figcaption></figure>")
    parts.append('<div class="strip">' + "".join(cells) + "</div>")
    return _section("grids", title, "\n".join(parts))


def _gif_section(run: _Run) -> str:
    title = "Training progress, animated"
    picked = [run.grids[i] for i in _evenly(len(run.grids), GIF_FRAMES)]
    frames = [(e, g) for e, p in picked if (g := _load_grid(p)) is not None]
    if frames:  # GIF frames must share one size: keep those shaped like the final grid
        frames = [(e, g) for e, g in frames if g.shape == frames[-1][1].shape]
    if not frames:
        return _section("animation", title, _missing("No sample grids in samples/.", "mnistgan train"))
    gif = gif_bytes([g for _, g in frames])
    note = (f"<p class=\"note\">{len(frames)} frames, epochs {frames[0][0]}–{frames[-1][0]}"
            f"{' (subsampled)' if len(frames) < len(run.grids) else ''}; loops, holding the last frame.</p>")
    width = frames[0][1].shape[1] * 2
    return _section("animation", title, _img(gif, "training progress", "image/gif", width, pixels=True) + note)


def _no_train_lines() -> str:
    return _missing("No training lines in metrics.jsonl yet.", "mnistgan train")


def _loss_section(run: _Run) -> str:
    title = "Losses"
    if not run.train_lines:
        return _section("losses", title, _no_train_lines())
    step = np.array([_float(r.get("step")) for r in run.train_lines])
    fig = _figure()
    ax = fig.add_subplot()
    for key, label, color in (("d_loss", "D loss", "tab:blue"), ("g_loss", "G loss", "tab:orange")):
        y = np.array([_float(r.get(key)) for r in run.train_lines])
        ax.plot(step, y, color=color, alpha=0.3, linewidth=0.8)
        ax.plot(step, _smooth(y), color=color, label=label)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.legend()
    ax.grid(alpha=0.3)
    note = ("<p class=\"note\">Faint: as logged; solid: running mean. GAN losses do not fall "
            "steadily like a classifier's: the two players push against each other, so steady, "
            "bounded curves are healthy and a D loss near 0 means D wins outright.</p>")
    return _section("losses", title, _img(_plot_png(fig), "D and G loss against step") + note)


def _d_outputs_section(run: _Run) -> str:
    title = "What the discriminator says during training"
    if not run.train_lines:
        return _section("d-outputs", title, _no_train_lines())
    step = np.array([_float(r.get("step")) for r in run.train_lines])
    fig = _figure()
    ax = fig.add_subplot()
    ax.plot(step, [_float(r.get("d_real")) for r in run.train_lines], label="D(x), real")
    ax.plot(step, [_float(r.get("d_fake")) for r in run.train_lines], label="D(G(z)), generated")
    ax.axhline(0.5, color="grey", linestyle="--", linewidth=1, label="0.5")
    ax.set_ylim(0, 1)
    ax.set_xlabel("step")
    ax.set_ylabel("mean D output")
    ax.legend()
    ax.grid(alpha=0.3)
    note = ("<p class=\"note\">Mean probability of \"real\" that D gives to real batches and to "
            "generated ones. At the equilibrium of the original GAN game D outputs 0.5 for both; "
            "D(x) near 1 with D(G(z)) near 0 means D separates them easily.</p>")
    return _section("d-outputs", title, _img(_plot_png(fig), "D(x) and D(G(z)) against step") + note
                    + _augment_p_plot(run))


def _augment_p_plot(run: _Run) -> str:
    """train.augment=ada: the augmentation's probability p, and the signal it follows
    beside its target, against step; "" otherwise."""
    lines = [r for r in run.train_lines if "augment_p" in r]
    if not lines:
        return ""
    train = run.config.get("train") or {}
    heldout = train.get("ada_signal") == "heldout"
    fig = _figure(height=2.2)
    ax = fig.add_subplot()
    steps = [_float(r.get("step")) for r in lines]
    ax.plot(steps, [_float(r["augment_p"]) for r in lines], color="tab:green", label="p")
    if "ada_signal" in lines[-1]:  # logged since the held-out signal came
        ax.plot(steps, [_float(r.get("ada_signal")) for r in lines], color="tab:gray", lw=0.8,
                label="D's train–test AUC" if heldout else "r_t: mean sign of D on reals")
        if isinstance(train.get("ada_target"), (int, float)):
            ax.axhline(train["ada_target"], color="tab:gray", ls="--", lw=0.8, label="train.ada_target")
        ax.legend(fontsize=7, loc="lower right")
    ax.set_ylim(0 if heldout else -1, 1)
    ax.set_xlabel("step")
    ax.set_ylabel("p, signal")
    ax.grid(alpha=0.3)
    signal = ("how often D scores a training image above a held-out test image" if heldout else
              "the mean sign of its scores on the training images")
    note = ("<p class=\"note\">ADA's probability p of each augmentation D sees: it rises while the signal, "
            f"{signal}, is above train.ada_target (D memorising its training images), and falls "
            "otherwise.</p>")
    return _img(_plot_png(fig), "augmentation probability p against step") + note


def _eval_curve(run: _Run, key: str) -> str:
    """One small plot of metric `key` against epoch, with the real floor dashed."""
    epoch = [_float(r.get("epoch")) for r in run.eval_lines]
    value = [_float(r["eval"].get(key)) for r in run.eval_lines]
    floor = [_float((r.get("floor") or {}).get(key)) for r in run.eval_lines]
    label = run.labels.get(key, key)
    better = ((run.evaluation or {}).get("metrics") or {}).get(key, {}).get("better")
    better = better or (R.get(key).better if key in R.metrics() else None)
    fig = _figure(3.0, 2.2)
    ax = fig.add_subplot()
    ax.plot(epoch, value, marker="o", markersize=3, label="generated")
    ax.plot(epoch, floor, color="grey", linestyle="--", label="real floor")
    ax.set_title(label if not better else f"{label} ({better} is better)", fontsize=8)
    ax.set_xlabel("epoch", fontsize=8)
    from matplotlib.ticker import MaxNLocator  # importable here: _figure() succeeded

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return f"<figure>{_img(_plot_png(fig), f'{label} against epoch')}</figure>"


def _eval_curves_section(run: _Run) -> str:
    title = "Metrics during training"
    if not run.eval_lines:
        every = _eval_every(run)
        why = ("the run was trained with the light evaluation off (eval.every=0)." if every == 0 else
               f"none has run yet (eval.every={every}: every {every} epochs, and after the last)." if every else
               "config.json is missing or unreadable, so whether it was on is not known.")
        return _section("eval-curves", title, _missing(f"No light evaluation in metrics.jsonl: {why}",
                                                       "mnistgan train --eval-every N"))
    keys = list(dict.fromkeys(k for r in run.eval_lines for k in r["eval"]))  # first-seen order
    n = run.eval_lines[-1].get("eval_n")
    intro = (f"<p>Scored every few epochs on {_esc(fmt(n))} samples (fewer than the final evaluation, "
             "so noisier and biased: compare with the dashed floor at the same n, not with the table below).</p>")
    plots = '<div class="plots">' + "".join(_eval_curve(run, k) for k in keys) + "</div>"
    return _section("eval-curves", title, intro + plots)


def _eval_every(run: _Run) -> int | None:
    """The run's eval.every from config.json (its default when the section is absent, as in
    configs saved before it existed), or None when config.json is missing or unreadable."""
    if not run.config:
        return None
    section = run.config.get("eval", {})
    every = section.get("every", EvalConfig().every) if isinstance(section, dict) else None
    return every if isinstance(every, int) and not isinstance(every, bool) else None


def _best_text(run: _Run) -> str:
    """What the run folder says about its best generator; a cause only where a file shows it."""
    best, kept = run.best, (run.path / BEST_GENERATOR).is_file()
    if best and kept:
        return (f"The best generator by the light evaluation: epoch {_esc(fmt(best.get('epoch')))}, FID "
                f"{_esc(fmt(best.get(R.BEST_BY)))}. <code>mnistgan sample</code>, <code>evaluate</code> and this "
                "report use it unless given <code>--last</code>.")
    if best:
        return (f"The light evaluation's best was epoch {_esc(fmt(best.get('epoch')))}, FID "
                f"{_esc(fmt(best.get(R.BEST_BY)))}, but <code>{BEST_GENERATOR}</code> is missing from the run "
                "folder: <code>mnistgan sample</code>, <code>evaluate</code> and this report use the final generator.")
    if kept:
        return (f"<code>{BEST_GENERATOR}</code> is there, but neither <code>{BEST_INFO}</code> nor the light "
                "evaluations in <code>metrics.jsonl</code> say which epoch it is.")
    every = _eval_every(run)
    if every == 0:
        return "No best generator was kept (the light evaluation was off: <code>eval.every=0</code>)."
    if every is None:
        return ("No best generator was found, and <code>config.json</code> is missing or unreadable, so whether "
                "the light evaluation was on is not known.")
    if not run.eval_lines:
        return (f"No best generator yet: <code>metrics.jsonl</code> holds no light evaluation (one runs every "
                f"{every} epochs, <code>eval.every={every}</code>, and after the last).")
    return (f"No best generator was found: <code>{BEST_GENERATOR}</code> and <code>{BEST_INFO}</code> are missing "
            "or unreadable, and the light evaluations in <code>metrics.jsonl</code> record no best epoch.")


def _health_section(run: _Run) -> str:
    title = "Health"
    parts = [f"<p>{_best_text(run)}</p>"]
    if not run.events:
        parts.append("<p>No health events: D never won outright, the fixed-noise samples never collapsed "
                     "into copies of one image, and every loss and weight stayed finite.</p>")
    else:
        rows = [[_esc(fmt(e.get("epoch"))), _esc(e.get("event")), _esc(e.get("message", ""))] for e in run.events]
        failures = [e for e in run.events if e.get("event") != "recovered"]
        if failures:
            parts.append(f'<p class="warn" id="health-warning">⚠ {len(failures)} health event(s): '
                         f"{_esc(', '.join(sorted({str(e['event']) for e in failures})))}.</p>")
        parts.append(_table(["epoch", "event", "message"], rows, numeric=(0,)))
    return _section("health", title, "\n".join(parts))


def _no_evaluation(run: _Run) -> str:
    what = ("metrics.json is unreadable." if (run.path / "metrics.json").exists() else
            "No metrics.json: the run has not been evaluated yet.")
    return _missing(what, f"mnistgan evaluate {run.path}")


def _metrics_table_section(run: _Run) -> str:
    title = "Metrics of the evaluated generator"
    if run.evaluation is None:
        return _section("metrics", title, _no_evaluation(run))
    ev = run.evaluation
    arrow = {"lower": "lower ↓", "higher": "higher ↑"}
    rows = [
        [f"{_esc(run.labels.get(key, key))} <code>{_esc(key)}</code>"
         + (f"<br><small class=\"note\">{_esc(m['about'])}</small>" if m.get("about") else ""),
         _esc(_pm(m.get("value"), m.get("std"))),
         _esc(_pm(m.get("real"), m.get("real_std"))),
         _esc(arrow.get(str(m.get("better")), m.get("better") or "—"))]
        for key, m in (ev.get("metrics") or {}).items() if isinstance(m, dict)
    ]
    table = _table(["metric", "generated", "real floor", "better"], rows, numeric=(1, 2))
    evaluator = ev.get("evaluator") or {}
    acc = evaluator.get("test_accuracy")
    info = (f"<p class=\"note\">{_esc(fmt(ev.get('n')))} generated samples from "
            f"<code>{_esc(ev.get('source', '?'))}</code> (epoch {_esc(fmt(ev.get('epoch')))}, "
            f"seed {_esc(fmt(ev.get('seed')))}) on {_esc(ev.get('dataset', '?'))}. "
            f"Evaluator: a classifier trained on {_esc(ev.get('dataset', '?'))}, test accuracy "
            f"{_esc(fmt(acc * 100 if isinstance(acc, (int, float)) else None))}%, "
            f"weights sha256 <code>{_esc(evaluator.get('sha256', '?'))}</code>.</p>")
    return _section("metrics", title, table + info)


def _class_plot(names: list[str], gen: list[float], real: list[float], title: str) -> bytes:
    x = np.arange(len(names))
    fig = _figure()
    ax = fig.add_subplot()
    ax.bar(x - 0.2, gen, width=0.4, label="generated")
    if len(real) == len(names):
        ax.bar(x + 0.2, real, width=0.4, color="grey", label="real")
    ax.set_xticks(x, names, rotation=0 if max(map(len, names), default=0) <= 3 else 45)
    ax.set_ylabel("fraction of samples")
    ax.set_title(title, fontsize=10)
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    return _plot_png(fig)


def _classes_section(run: _Run) -> str:
    title = "Classes"
    if run.evaluation is None:
        return _section("classes", title, _no_evaluation(run))
    c = run.evaluation.get("classes") or {}
    gen = [_float(v) for v in c.get("fractions") or []]
    if isinstance(run.evaluation.get("unlabelled"), str):  # an imported set without labels
        return _section("classes", title, f"<p>{_esc(run.evaluation.get('dataset', 'This dataset'))} has "
                                          f"{_esc(run.evaluation['unlabelled'])}.</p>")
    if not gen:
        return _section("classes", title, _missing("metrics.json has no class histogram.",
                                                   f"mnistgan evaluate {run.path}"))
    names = [str(n) for n in c.get("names") or range(len(gen))][: len(gen)]
    real = [_float(v) for v in c.get("real_fractions") or []]
    summary = f"{fmt(c.get('classes_covered'))}/{len(names)} classes covered, KL(real‖generated) = {fmt(c.get('kl_to_real'))}"
    parts = []
    if c.get("collapsed"):
        parts.append(f'<p class="warn" id="collapsed-warning">⚠ Mode collapse: the generator is '
                     f'collapsed onto too few classes ({_esc(summary)}).</p>')
    parts.append(_img(_class_plot(names, gen, real, summary), "class histogram"))
    real_hist = c.get("real") or {}
    if real_hist:  # the same histogram for real test images: the floor for these two numbers
        parts.append(f"<p>Real test images for comparison: {_esc(fmt(real_hist.get('classes_covered')))} "
                     f"classes covered, KL {_esc(fmt(real_hist.get('kl_to_real')))}.</p>")
    parts.append(f"<p class=\"note\">Each generated sample is labelled by the evaluator's classifier. "
                 f"A class counts as covered when it gets at least {COVERED_SHARE:.0%} of its real share; "
                 f"a KL above {KL_COLLAPSE:g} nats is flagged as mode collapse.</p>")
    return _section("classes", title, "\n".join(parts))


def _conditional_section(run: _Run) -> str:
    """Only for a class-conditional generator (metrics.json has a "conditional" section)."""
    cond = (run.evaluation or {}).get("conditional")
    if not isinstance(cond, dict):
        return ""
    gen, floor = cond.get("per_class_fid") or [], cond.get("per_class_floor") or []
    names = [str(n) for n in ((run.evaluation or {}).get("classes") or {}).get("names") or []]
    if len(names) != len(gen):
        names = [str(i) for i in range(len(gen))]
    acc, floor_acc = cond.get("accuracy"), cond.get("floor_accuracy")

    def pct(v: Any) -> str:
        return fmt(v * 100 if isinstance(v, (int, float)) and not isinstance(v, bool) else None) + "%"

    parts = [f"<p>Conditional accuracy <b>{_esc(pct(acc))}</b>: the share of samples that the evaluator "
             f"classifies as the class they were asked for (real test images, with their true labels: "
             f"{_esc(pct(floor_acc))}). About 100% when G follows its labels, about 1 in "
             f"{len(gen) or 'C'} when it ignores them.</p>"]
    rows = [[_esc(name), _esc(fmt(g)), _esc(fmt(floor[i] if i < len(floor) else None))]
            for i, (name, g) in enumerate(zip(names, gen))]
    parts.append(_table(["class", "FID", "real floor"], rows, numeric=(1, 2)))
    parts.append("<p class=\"note\">Per-class FID: the samples asked for one class against the real reference "
                 "images of that class. Each class has only its share of the samples, so these are higher "
                 "than the overall FID: judge each one by its floor.</p>")
    return _section("conditional", "Conditional generation", "\n".join(parts))


def _memorisation_section(run: _Run) -> str:
    title = "Memorisation"
    mem = (run.evaluation or {}).get("memorisation") or {}
    # only the file name is used, so a hand-edited metrics.json cannot embed files from elsewhere
    pairs = run.path / Path(str(mem.get("pairs_png") or "nearest_pairs.png")).name
    image = _embed_file(pairs, "generated images beside their nearest training images")
    parts = []
    if mem.get("memorised"):
        parts.append('<p class="warn" id="memorised-warning">⚠ Memorised: generated images sit much closer '
                     "to training images than real unseen images do; G copies its training set.</p>")
    if image:
        parts.append(f"<figure>{image}<figcaption>generated images beside their nearest "
                     "training images</figcaption></figure>")
    if mem.get("note"):  # no yardstick: the set's test images copy its training images
        parts.append(f"<p>Memorisation: {_esc(mem['note'])}.</p>")
    elif mem:
        parts.append(
            f"<p>Memorisation ratio <b>{_esc(fmt(mem.get('ratio')))}</b> = median distance from a generated "
            f"image to its nearest training image ({_esc(fmt(mem.get('gen_to_train_median')))}) / the same "
            f"for real test images ({_esc(fmt(mem.get('test_to_train_median')))}). About 1: the samples are "
            f"as novel as unseen real data (slightly above 1 is normal); well below 1 means copying, "
            f"and below {MEMORISED_RATIO:g} the run is flagged as memorised.</p>")
    if run.evaluation is None:
        parts.append(_no_evaluation(run))
    elif not image or not mem:
        what = ("metrics.json has no memorisation numbers." if image else
                f"{pairs.name} is unreadable." if pairs.exists() else f"{pairs.name} is missing.")
        parts.append(_missing(what, f"mnistgan evaluate {run.path}"))
    return _section("memorisation", title, "\n".join(parts))


_D_MEANINGS = (
    ("accuracy", "accuracy", "balanced accuracy at threshold 0.5 on real test vs generated images; 0.5 = chance"),
    ("roc_auc", "ROC AUC", "≈ 0.5: D cannot tell real from fake (the ideal); ≈ 1: fakes are easy to spot"),
    ("mean_d_real", "mean D(x)", "D's mean probability of \"real\" on real test images"),
    ("mean_d_fake", "mean D(G(z))", "D's mean probability of \"real\" on generated images"),
    ("train_test_gap", "train–test gap", "mean D(x) on training minus test images; > 0: D overfits the training set"),
    ("train_test_auc", "train–test AUC", "how often D scores an image it was shown above an unseen test image; "
     "≈ 0.5: it treats them alike; towards 1: D has memorised its training images"),
)


def _discriminator_section(run: _Run) -> str:
    title = "The discriminator's report"
    if run.evaluation is None:
        return _section("discriminator", title, _no_evaluation(run))
    d = run.evaluation.get("discriminator")
    if not isinstance(d, dict):  # evaluate was given a weights-only file, which has no D
        return _section("discriminator", title, _missing(
            "metrics.json has no discriminator report: no training state (which holds D) was found when it "
            "was evaluated.",
            f"mnistgan evaluate {run.path}"))
    rows = [[_esc(name), _esc(fmt(d.get(key))), _esc(meaning)] for key, name, meaning in _D_MEANINGS]
    intro = "<p>The final discriminator, asked about fresh samples and held-out real images.</p>"
    return _section("discriminator", title, intro + _table(["", "value", "meaning"], rows, numeric=(1,)))


# -----------------------------------------------------------------------------
# public


# Sections by name, in report order. The web app (mnistgan.serve) shows some of them too.
SECTIONS = {
    "health": _health_section, "grids": _grids_section, "gif": _gif_section, "losses": _loss_section,
    "d_outputs": _d_outputs_section, "eval_curves": _eval_curves_section, "metrics": _metrics_table_section,
    "classes": _classes_section, "conditional": _conditional_section, "memorisation": _memorisation_section,
    "discriminator": _discriminator_section,
}


def render_sections(run_dir: Path, names: Sequence[str]) -> dict[str, str]:
    """The named sections of `run_dir`'s report, each an HTML fragment (a <section>, or
    "" for one that does not apply, such as "conditional" for an unconditional run)."""
    run = _load_run(Path(run_dir))
    return {name: SECTIONS[name](run) for name in names}


def render_report(run_dir: Path) -> str:
    """The report of `run_dir` as one HTML string."""
    run = _load_run(Path(run_dir))
    sections = [_header(run), *(section(run) for section in SECTIONS.values())]
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{_esc(run.path.name)} · mnistgan report</title>\n<style>{CSS}</style>\n</head>\n"
        "<body>\n<main>\n" + "\n".join(sections) +
        f"\n<footer><p>Written by mnistgan {_esc(__version__)}.</p></footer>\n</main>\n</body>\n</html>\n"
    )


def write_report(run_dir: Path, out: Path | None = None) -> Path:
    """Write the self-contained HTML report of `run_dir` to `out` (default run_dir/report.html).

    Raises MnistganError if `run_dir` does not exist or has no metrics.jsonl.
    """
    run_dir = Path(run_dir)
    text = render_report(run_dir)
    out = Path(out) if out is not None else run_dir / "report.html"
    return atomic_write_bytes(out, text.encode("utf-8"))
