"""A sweep's results: one row per run, then the median and worst of each setting, as
summary.md, summary.csv, summary.json and an offline sweep.html.

A run's figures come from its full evaluation (metrics.json at the spec's evaluate_n),
or, when the spec has evaluate_n = 0, from the light evaluation at its best epoch. A run
is healthy when it finished, covers at least the real floor's classes less one, and its
FID is at most HEALTHY_RATIO x its setting's median (the rule of the robustness study).
"""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
from pathlib import Path
from collections.abc import Callable
from typing import Any

from mnistgan.atomic import atomic_write_bytes
from mnistgan.eval import registry
from mnistgan.eval import report as R
from mnistgan.runfolder import grid_files, read_best, read_json, read_metrics
from mnistgan.runtable import read_run
from mnistgan.sweep.state import SweepState, state_spec

HEALTHY_RATIO = 1.5


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def figures(rows: list[dict[str, Any]]) -> list[tuple[str, str, Callable[[list[float]], float]]]:
    """(key, label, the worst run's: max or min): the best-by metric over its floor, the metric
    registry's sweep figures that these rows can have, and the wall time."""
    best = registry.get(registry.BEST_BY)
    memo = [MEMORISATION] if any(r.get(MEMORISATION[0]) is not None for r in rows) else []
    return [("fid_ratio", f"{best.short} / floor", max),
            *[(m.column, m.short, m.worst) for m in registry.shown_columns(registry.SWEEP, rows)],
            *memo, ("wall_s", "wall s", max)]


# The full evaluation's memorisation check (not a registry metric: it searches pixels, not
# features): the median nearest-training-image distance of samples over that of real test
# images; under 0.5 a run is flagged as memorised. The worst run has the lowest.
MEMORISATION = ("memorisation", "memorisation ratio", min)


def csv_fields(rows: list[dict[str, Any]]) -> list[str]:
    fields = []
    for m in registry.shown_columns(registry.SWEEP, rows):
        fields += [m.column] + ([m.floor_column] if m.floor_column else [])
        fields += ["fid_ratio"] if m.key == registry.BEST_BY else []
    return ["run", "setting", "seed", "trial", "state", "healthy", *fields, MEMORISATION[0], "memorised", "epochs",
            "wall_s", "folder", "message"]


def run_figures(run_dir: Path, full: bool) -> dict[str, float | None]:
    """The registry's sweep figures (FID and its floor, recall, classes covered and the
    floor's, conditional accuracy, ...): from the full evaluation (metrics.json), else the
    light one at the best epoch."""
    result = read_json(run_dir / "metrics.json") if full else None
    memo: dict[str, Any] = {}
    if result is not None and isinstance(result.get("metrics"), dict):
        read, n = (lambda m: m.read(result)), result.get("n")
        check = result.get("memorisation") if isinstance(result.get("memorisation"), dict) else {}
        memo = {MEMORISATION[0]: _num(check.get("ratio")), "memorised": check.get("memorised")}
    else:
        best = read_best(run_dir) if not full else None
        at = [r for r in read_metrics(run_dir) if isinstance(r.get("eval"), dict) and isinstance(r.get("floor"), dict)
              and best is not None and r.get("epoch") == best["epoch"]]
        if not at:
            return {}
        read, n = (lambda m: (at[-1]["eval"].get(m.key), at[-1]["floor"].get(m.key))), at[-1].get("eval_n")
    out: dict[str, float | None] = {}
    for m in registry.metrics(registry.SWEEP).values():
        value, floor = (_num(v) for v in read(m))
        if m.needs <= registry.PLAIN or value is not None:  # a stacked run's modes; not every run's
            out |= {m.column: value} | ({m.floor_column: floor} if m.floor_column else {})
    return out | memo | {"evaluated_n": _num(n)}


def run_rows(state: SweepState) -> list[dict[str, Any]]:
    """One row per run of the sweep, in sweep.json's order."""
    full = bool(state_spec(state).evaluate_n)
    rows = []
    for label, entry in state.runs.items():
        run_dir = state.folder / entry["run"] if entry.get("run") else None
        row: dict[str, Any] = {"run": label, "setting": entry.get("setting"), "seed": entry.get("seed"),
                               "trial": entry.get("trial"), "params": entry.get("params"), "state": entry.get("state"),
                               "message": entry.get("message"), "folder": entry.get("run")}
        if run_dir is not None and run_dir.is_dir():
            table_row = read_run(run_dir)
            row |= {"epochs": table_row.epochs_done, "wall_s": table_row.wall_s}
            if entry.get("state") == "finished":
                row |= run_figures(run_dir, full)
        if row.get("fid") is not None and row.get("floor"):
            row["fid_ratio"] = row["fid"] / row["floor"]
        rows.append(row)
    return rows


def _healthy(row: dict[str, Any], median_fid: float | None) -> bool:
    if row.get("state") != "finished" or row.get("fid") is None or median_fid is None:
        return False
    if row.get("classes") is not None and row.get("floor_classes") is not None \
            and row["classes"] < row["floor_classes"] - 1:
        return False
    return row["fid"] <= HEALTHY_RATIO * median_fid


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per setting, in first-seen order: runs, healthy runs, and the median and worst of
    each figure over the runs that have it; marks each row healthy or not."""
    settings: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        settings.setdefault(row["setting"], []).append(row)
    out = []
    for name, group in settings.items():
        fids = [r["fid"] for r in group if r.get("fid") is not None and r.get("state") == "finished"]
        median_fid = statistics.median(fids) if fids else None
        for r in group:
            r["healthy"] = _healthy(r, median_fid)
        s: dict[str, Any] = {"setting": name, "runs": len(group), "healthy": sum(r["healthy"] for r in group),
                             "finished": sum(r.get("state") == "finished" for r in group),
                             "params": group[0].get("params")}
        for key, _, worst in figures(group):
            values = [r[key] for r in group if r.get(key) is not None]
            s[f"{key}_median"] = statistics.median(values) if values else None
            s[f"{key}_worst"] = worst(values) if values else None
        epochs = [r["epochs"] for r in group if r.get("epochs") is not None]
        s["epochs_median"] = statistics.median(epochs) if epochs else None
        s["median_run"] = _median_run(group)
        out.append(s)
    return out


def _median_run(group: list[dict[str, Any]]) -> str | None:
    """The run whose FID is the (lower) median of its setting's."""
    scored = sorted((r for r in group if r.get("fid") is not None), key=lambda r: r["fid"])
    return scored[(len(scored) - 1) // 2]["run"] if scored else None


def table_rows(summary: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    figs = figures([{k.removesuffix("_median"): v for k, v in s.items()} for s in summary])
    head = ["setting", "healthy", *[f"{label} median (worst)" for _, label, _ in figs], "epochs"]
    body = []
    for s in summary:
        params = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in (s["params"] or {}).items())
        cells = [s["setting"] + (f" ({params})" if params else ""), f"{s['healthy']}/{s['runs']}"]
        cells += [f"{R.fmt(s.get(f'{k}_median'))} ({R.fmt(s.get(f'{k}_worst'))})" for k, _, _ in figs]
        cells.append(R.fmt(s["epochs_median"]))
        body.append(cells)
    return head, body


FRONTIER = "Light-evaluation FID against training time"
FRONTIER_NOTE = ("The best generator so far at each budget of training minutes (the steps alone, as "
                 "train.minutes counts them; at 1 thread, CPU-minutes): median (worst) over the runs that trained "
                 "that long, [how many] where not all did.")


def markdown(name: str, summary: list[dict[str, Any]], rows: list[dict[str, Any]], note: str,
             frontier_table: tuple[list[str], list[list[str]]] | None = None) -> str:
    head, body = table_rows(summary)
    lines = [f"# Sweep {name}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cells) + " |" for cells in body]
    lines += ["", note]
    if frontier_table is not None:
        head, body = frontier_table
        lines += ["", f"## {FRONTIER}", "", FRONTIER_NOTE, "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(cells) + " |" for cells in body]
    bad = [r for r in rows if r.get("state") != "finished"]
    if bad:
        lines += ["", "Runs that did not finish:", ""]
        lines += [f"- {r['run']}: {r['state']}" + (f": {r['message']}" if r.get("message") else "") for r in bad]
    return "\n".join(lines) + "\n"


def as_csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    fields = csv_fields(rows)
    w = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: "" if r.get(k) is None else r[k] for k in fields})
    return buf.getvalue()


def training_curve(run_dir: Path) -> tuple[list[float], list[float]]:
    """(training seconds, light-evaluation FID) at each evaluation epoch; the seconds add
    up each logged interval's steps x images per step / its images per second."""
    config = read_json(run_dir / "config.json") or {}
    per_step = (config.get("train") or {}).get("batch_size", 0) * (config.get("loss") or {}).get("n_critic", 1)
    seconds, last_step, at_epoch = 0.0, 0, {}
    xs, ys = [], []
    for r in read_metrics(run_dir):
        if "img_per_s" in r and _num(r.get("step")) is not None and _num(r["img_per_s"]):
            seconds += (r["step"] - last_step) * per_step / r["img_per_s"]
            last_step = r["step"]
            at_epoch[r.get("epoch")] = seconds
        elif isinstance(r.get("eval"), dict) and _num(r["eval"].get(registry.BEST_BY)) is not None:
            xs.append(at_epoch.get(r.get("epoch"), seconds))
            ys.append(float(r["eval"][registry.BEST_BY]))
    return xs, ys


REACHED = 0.05  # a run reaches a budget when its last evaluation is within 5% of it (the seconds are estimated)


def marks(longest_s: float, count: int = 6) -> list[float]:
    """Training budgets in seconds for the frontier: the last `count` of the 1-2-5 series of
    minutes up to the longest run's training time."""
    series = [f * 10.0 ** k for k in range(-5, 5) for f in (1, 2, 5)]
    return [m * 60 for m in series if m * 60 <= longest_s * (1 + REACHED)][-count:]


def frontier(state: SweepState, rows: list[dict[str, Any]]) -> tuple[list[float], list[dict[str, Any]]]:
    """The frontier of a sweep's runs, from their logged curves (frontier_of)."""
    curves: dict[str, list[tuple[list[float], list[float]]]] = {}
    for r in rows:
        if r.get("folder") and (state.folder / r["folder"]).is_dir():
            xs, ys = training_curve(state.folder / r["folder"])
            if xs:
                curves.setdefault(r["setting"], []).append((xs, ys))
    return frontier_of(curves)


def frontier_of(curves: dict[str, list[tuple[list[float], list[float]]]]) -> tuple[list[float], list[dict[str, Any]]]:
    """At each budget of `marks`, the light-evaluation FID of each run's best generator so far
    (what a run stopped there would keep); per setting, the median and worst over the runs
    that trained that long. curves: per setting, each run's (training seconds, FID) at its
    evaluations. Returns (budgets in seconds, per setting {"setting", "runs", "at": {budget:
    (median, worst, runs counted) or None}}), without budgets before every first evaluation."""
    budgets = marks(max((xs[-1] for runs in curves.values() for xs, _ in runs), default=0.0))
    out = []
    for setting, runs in curves.items():
        at = {}
        for t in budgets:
            values = [min(y for x, y in zip(xs, ys) if x <= t * (1 + REACHED)) for xs, ys in runs
                      if xs[-1] >= t * (1 - REACHED) and xs[0] <= t * (1 + REACHED)]
            at[t] = (statistics.median(values), max(values), len(values)) if values else None
        out.append({"setting": setting, "runs": len(runs), "at": at})
    kept = [t for t in budgets if any(f["at"][t] for f in out)]
    return kept, [{**f, "at": {t: f["at"][t] for t in kept}} for f in out]


def frontier_rows(budgets: list[float], settings: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    head = ["setting", *[f"{R.fmt(t / 60)} min" for t in budgets]]
    body = [[s["setting"], *[f"{R.fmt(v[0])} ({R.fmt(v[1])})" + (f" [{v[2]} of {s['runs']}]" if v[2] < s["runs"] else "")
                             if (v := s["at"][t]) else "—" for t in budgets]] for s in settings]
    return head, body


def _curve_plot(state: SweepState, rows: list[dict[str, Any]]) -> str:
    fig = R._figure(7.0, 3.6)
    ax = fig.add_subplot()
    colours: dict[str, Any] = {}
    for r in rows:
        if not r.get("folder") or not (state.folder / r["folder"]).is_dir():
            continue
        xs, ys = training_curve(state.folder / r["folder"])
        if not xs:
            continue
        first = r["setting"] not in colours
        colours.setdefault(r["setting"], f"C{len(colours) % 10}")
        ax.plot(xs, ys, marker=".", color=colours[r["setting"]], alpha=0.8, label=r["setting"] if first else None)
    if not colours:
        return "<p class=\"missing\">No light evaluation was logged yet.</p>"
    ax.set_xlabel("training seconds")
    ax.set_ylabel("light-evaluation FID")
    ax.set_yscale("log")
    ax.legend(fontsize="small")
    return R._img(R._plot_png(fig), "light-evaluation FID against training time, one colour per setting")


def _grids(state: SweepState, summary: list[dict[str, Any]], rows: list[dict[str, Any]]) -> str:
    by_run = {r["run"]: r for r in rows}
    figures = []
    for s in summary:
        r = by_run.get(s["median_run"] or "")
        if r is None:
            continue
        run_dir = state.folder / r["folder"]
        grids = grid_files(run_dir)
        best = read_best(run_dir)
        path = grids.get(best["epoch"]) if best else None
        path = path or (grids[max(grids)] if grids else None)
        img = R._embed_file(path, f"{r['run']}") if path else None
        if img:
            figures.append(f"<figure>{img}<figcaption>{R._esc(s['setting'])}: {R._esc(r['run'])}"
                           f"</figcaption></figure>")
    return f'<div class="strip">{"".join(figures)}</div>' if figures else '<p class="missing">No grids yet.</p>'


def render_html(state: SweepState, summary: list[dict[str, Any]], rows: list[dict[str, Any]], note: str,
                frontier_table: tuple[list[str], list[list[str]]]) -> str:
    spec = state_spec(state)
    head, body = table_rows(summary)
    table = R._table(head, [[R._esc(c) for c in cells] for cells in body], numeric=range(1, len(head)))
    f_head, f_body = frontier_table
    curves = _curve_plot(state, rows) + (R._table(f_head, [[R._esc(c) for c in cells] for cells in f_body],
                                                  numeric=range(1, len(f_head)))
                                         + f'<p class="note">{R._esc(FRONTIER_NOTE)}</p>' if f_body else "")
    runs = R._table(["run", "state", "FID / floor", "epochs", "message"],
                    [[R._esc(r["run"]), R._esc(r.get("state")), R.fmt(r.get("fid_ratio")), R.fmt(r.get("epochs")),
                      R._esc(r.get("message") or "")] for r in rows], numeric=(2, 3))
    sections = [
        R._section("curves", FRONTIER, curves),
        R._section("summary", "Summary per setting", table + f'<p class="note">{R._esc(note)}</p>'),
        R._section("grids", "The median seed of each setting (its best generator's grid)", _grids(state, summary, rows)),
        R._section("runs", "Runs", runs),
    ]
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>sweep {R._esc(spec.name)}</title><style>{R.CSS}</style></head><body><main>\n"
            f"<h1>Sweep {R._esc(spec.name)}</h1>\n<p class=\"meta\">{R._esc(state.folder)}: "
            f"{R._esc(state.data.get('state'))}, spec <code>{R._esc(state.folder / 'spec.toml')}</code></p>\n"
            + "\n".join(sections) + "\n</main></body></html>\n")


def note_for(state: SweepState) -> str:
    spec = state_spec(state)
    import torch

    from mnistgan.hardware import hardware
    from mnistgan.sweep.runner import cores

    hw = hardware("cpu")
    how = (f"full evaluation of each run's best generator at n={spec.evaluate_n} (at most the test split)"
           if spec.evaluate_n else "light evaluation at each run's best epoch")
    return (f"Figures: {how}; median and (worst) over each setting's runs; {spec.threads_per_job} torch thread(s) "
            f"per run. Healthy: finished, at least the real floor's classes less one, FID at most {HEALTHY_RATIO}x "
            f"the setting's median. Measured on {cores()} cores, CPU {hw.name} (torch kernels {hw.capability}"
            f"{', native bf16: ' + hw.bf16 if hw.bf16 else ''}); torch {torch.__version__}.")


def write_summary(state: SweepState, html: bool = True) -> dict[str, Path]:
    """summary.md, summary.csv, summary.json (and sweep.html) in the sweep folder."""
    rows = run_rows(state)
    summary = summarise(rows)
    note = note_for(state)
    spec = state_spec(state)
    out = {"md": state.folder / "summary.md", "csv": state.folder / "summary.csv",
           "json": state.folder / "summary.json"}
    budgets, front = frontier(state, rows)
    table = frontier_rows(budgets, front)
    atomic_write_bytes(out["md"], markdown(spec.name, summary, rows, note, table if front else None).encode())
    atomic_write_bytes(out["csv"], as_csv(rows).encode())
    front_json = {"budgets_s": budgets, "settings": [{**f, "at": [[t, *(f["at"][t] or (None,) * 3)] for t in budgets]}
                                                     for f in front]}
    atomic_write_bytes(out["json"], (json.dumps({"settings": summary, "runs": rows, "frontier": front_json,
                                                 "note": note}, indent=1) + "\n").encode())
    if html:
        out["html"] = state.folder / "sweep.html"
        atomic_write_bytes(out["html"], render_html(state, summary, rows, note, table).encode())
    return out
