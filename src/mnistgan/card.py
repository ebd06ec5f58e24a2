"""MODEL_CARD.md: the file that goes with a run's weights when someone shares them.

    write_card(Path("runs/00000-classic-mnist"))  ->  runs/00000-classic-mnist/MODEL_CARD.md

Written at the end of training and refreshed by `mnistgan evaluate`. Everything comes from
the run folder (config.json, metrics.jsonl, metrics.json, status.json, best.json, the
weights' sha256, an imported dataset's manifest); a missing piece is said to be missing,
with the command that produces it. The models are built from the config only to count
their parameters; no weights are loaded.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

from mnistgan._version import __version__
from mnistgan.atomic import atomic_write_bytes
from mnistgan.config import RunConfig, read_config
from mnistgan.data.datasets import CUSTOM_DIR, DATASETS, read_manifest
from mnistgan.errors import MnistganError
from mnistgan.eval import registry as R
from mnistgan.models import build_discriminator, build_generator
from mnistgan.runfolder import BEST_GENERATOR, read_best, read_json, read_metrics
from mnistgan.train.status import read_status
from mnistgan.train.wallclock import describe

CARD = "MODEL_CARD.md"
SKEW = 2.0  # a class drawn this many times more (or less) often than in the real data is called skewed
DATA_ABOUT = {
    "mnist": "MNIST handwritten digits (Yann LeCun, Corinna Cortes, Christopher J. C. Burges; CC BY-SA 3.0): "
             "60,000 training and 10,000 test images, 10 classes",
    "fashion-mnist": "Fashion-MNIST (Zalando Research; MIT): 60,000 training and 10,000 test images of clothing, "
                     "10 classes",
}


def _g(x: Any) -> str:
    """A number, briefly."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return "—" if x is None else str(x)
    return f"{x:,}" if isinstance(x, int) else f"{x:.4g}"


def _duration(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _params(module: Any) -> int:
    return sum(p.numel() for p in module.parameters())


def _sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _what(run: Path, cfg: RunConfig, best: dict[str, Any] | None, shown: str) -> list[str]:
    m = cfg.model
    mlp = (f"MLP ({m.depth} hidden layers of {m.hidden} in G, {m.hidden_d or m.hidden} in D"
           + (f", dropout {m.dropout_d:g} in D" if m.dropout_d else "") + ")")
    arch = {"mlp": mlp, "dcgan": f"DCGAN (convolutional, {m.channels} channels"
            + (f" in G, {m.channels_d} in D" if m.channels_d else "")
            + (f", D's score read through a hidden layer of {m.d_head})" if m.d_head else ")")}.get(m.arch, m.arch)
    how = {"concat": " (the label's one-hot joined to z)", "cbn": " (class-conditional batch norm in G)"}
    cond = (f"conditional on {m.num_classes} classes{how.get(m.g_cond, '') if m.arch == 'dcgan' else ''}: "
            "it draws the class you ask for" if m.num_classes
            else "unconditional: it draws from the whole data distribution")
    lines = ["## What it is", "",
             f"- A GAN generator of 28×28 grayscale images, preset `{cfg.preset}`: {arch}, {m.z_dim}-d noise, {cond}.",
             f"- Parameters: generator {_params(build_generator(m)):,}; discriminator {_params(build_discriminator(m)):,} "
             "(used in training and in `evaluate`'s D report; not needed to sample)."]
    for name, about in ((BEST_GENERATOR.name, f"the best generator by the light evaluation (epoch {best['epoch']}, "
                         f"{R.label(R.BEST_BY)} {_g(best[R.BEST_BY])}); what `sample` and `evaluate` use" if best else None),
                        ("generator.safetensors", "the final generator (`--last`)" if shown == str(run) else
                         "the generator in use: the run's best by the light evaluation")):
        sha = _sha256(run / name) if about else None
        if sha:
            lines.append(f"- `{name}`: {about}; sha256 `{sha}`.")
    lines += ["", "<details><summary>The full config (config.json)</summary>", "", "```json", cfg.to_json(), "```",
              "", "</details>"]
    return lines


def _data(cfg: RunConfig, cache_dir: Path | None) -> list[str]:
    name = cfg.data.name
    lines = ["## Data", ""]
    if name in DATASETS:
        return lines + [f"- `{name}`: {DATA_ABOUT.get(name, name)}. Trained on the training split; scored "
                        "against it, with the test split as the real floor."]
    folder = cache_dir / CUSTOM_DIR / name if cache_dir else None
    try:
        man = read_manifest(folder) if folder else None
    except MnistganError:
        man = None
    if man is None:
        return lines + [f"- `{name}`: a dataset imported with `mnistgan data import`; its manifest was not found on "
                        "this machine, so its details are not recorded here."]
    split = man["split"]
    how = ("the source's own train/test split" if split.get("kind") == "source" else
           f"a seeded holdout of {split.get('test_share')} as the test split (seed {split.get('seed')})")
    classes, km = man["classes"], man.get("clusters")
    return lines + [
        f"- `{name}`: imported on {man.get('imported', '?')} from `{man.get('source', '?')}` "
        f"({man.get('source_kind', '?')}{', inverted' if man.get('invert') else ''}).",
        f"- {man['count']['train']:,} training and {man['count']['test']:,} test images, {how}.",
        f"- Classes: {len(classes)} equal clusters of the images ({', '.join(classes)}; k-means on their top "
        f"{km.get('dims')} principal components, seed {km.get('seed')}), not the source's labels: asked for a "
        "class, it draws that cluster, whatever the images in it show." if classes and isinstance(km, dict) else
        f"- Classes: {', '.join(classes)}." if classes else
        "- No labels: scored on the MNIST evaluator's features (FID, KID, precision/recall, density/coverage); "
        "no classifier score or class histogram.",
        f"- Files verified by sha256 on every load: {', '.join(f'`{k}`' for k in man['files'])}."]


def _penalty(name: str, gamma: float, every: int) -> str:
    """", R1 γ=0.1 every 16 steps" for a penalty that is on; "" for one that is off."""
    return f", {name} γ={gamma:g}" + (f" every {every} steps" if every > 1 else "") if gamma else ""


def _training(run: Path, cfg: RunConfig, rows: list[dict[str, Any]], shown: str) -> list[str]:
    t, status = cfg.train, read_status(run)
    steps = max((r["step"] for r in rows if isinstance(r.get("step"), int)), default=None)
    epochs = max((r["epoch"] for r in rows if "health" in r and isinstance(r.get("epoch"), int)), default=None)
    length = f"{_g(epochs)} epochs" + (f" (time budget {t.minutes:g} min of training steps)" if t.minutes
                                        else f" of {t.epochs}")
    ema = f"EMA of G (half-life {t.ema_halflife:,} images)" if t.ema_halflife else "no EMA"
    lines = ["## Training", "",
             f"- {length}, {_g(steps)} steps of batch {t.batch_size}; loss `{cfg.loss.name}`"
             + (f" (label smoothing {cfg.loss.label_smoothing:g})" if cfg.loss.name == "bce" else "")
             + _penalty("R1", cfg.loss.r1_gamma, cfg.loss.r1_every)
             + _penalty("R2", cfg.loss.r2_gamma, cfg.loss.r2_every)
             + (f", the projection's class cross-entropy ×{cfg.loss.cls_weight:g}" if cfg.loss.cls_weight else "")
             + (f", mode seeking ×{cfg.loss.ms_weight:g}" if cfg.loss.ms_weight else "") + ".",
             f"- Adam: G lr {t.lr_g:g} (β {t.beta1_g:g}, {t.beta2_g:g}), D lr {t.lr_d:g} (β {t.beta1_d:g}, "
             f"{t.beta2_d:g}); precision {t.precision}; {ema}; seed {t.seed}."]
    lines += [f"- From step {_g(r.get('step'))}: computed in {r['start'].get('precision')} on "
              f"{r['start'].get('hardware')}." for r in rows if isinstance(r.get("start"), dict)]
    if status:
        wall = status.get("wall_s")
        lines.append(f"- Status: {status.get('state')}"
                     + (f" ({status.get('reason') or status.get('message')})" if status.get("reason") or status.get("message") else "")
                     + (f"; wall time {_duration(wall)} over all sessions" if isinstance(wall, (int, float)) else "") + ".")
        if isinstance(status.get("split"), dict):
            lines.append(f"- The last session's {describe(status['split'])}.")
    lines.append(f"- Trained with mnistgan {__version__} " + (f"(`mnistgan runs {run.parent}` lists it beside other runs)."
                 if shown == str(run) else f"and shipped in the package as `{shown}` (`mnistgan pretrained` lists it)."))
    return lines


def _metrics(run: str, ev: dict[str, Any], rows: list[dict[str, Any]], best: dict[str, Any] | None) -> list[str]:
    lines = ["## Metrics", ""]
    if ev and isinstance(ev.get("metrics"), dict):
        lines.append(f"`mnistgan evaluate`: {_g(ev.get('n'))} samples (epoch {_g(ev.get('epoch'))}) against as many "
                     f"real training images of {ev.get('dataset')}; the real floor is what real test images score. "
                     "Judge each number by its distance from the floor.")
        lines += ["", "| metric | this model | real floor | better |", "|---|---|---|---|"]
        for key, m in ev["metrics"].items():
            if isinstance(m, dict):
                lines.append(f"| {R.long_label(key, m.get('label'))} | {_g(m.get('value'))} | {_g(m.get('real'))} | {m.get('better')} |")
        for key, m in R.metrics(R.CARD).items():  # the registry's rows that live in a section of metrics.json
            value, floor = m.read(ev)
            if key not in ev["metrics"] and value is not None:
                lines.append(f"| {m.short} | {_g(value)} | {_g(floor)} | {m.better} |")
        return lines
    at = [r for r in rows if isinstance(r.get("eval"), dict) and isinstance(r.get("floor"), dict)
          and (best is None or r.get("epoch") == best.get("epoch"))]
    if not at:
        return lines + [f"Not evaluated yet: run `mnistgan evaluate {run}` (this card is refreshed by it)."]
    r = at[-1]
    lines += [f"The light evaluation during training at epoch {r.get('epoch')} ({_g(r.get('eval_n'))} samples; "
              f"`mnistgan evaluate {run}` gives the full table):", "",
              "| metric | this model | real floor |", "|---|---|---|"]
    lines += [f"| {R.label(k)} | {_g(v)} | {_g(r['floor'].get(k))} |" for k, v in r["eval"].items()]
    return lines


def _limits(ev: dict[str, Any], rows: list[dict[str, Any]]) -> list[str]:
    found: list[str] = []
    c = ev.get("classes")
    if isinstance(c, dict) and isinstance(c.get("fractions"), list) and isinstance(c.get("real_fractions"), list):
        skewed = [f"{n} ({g:.1%} vs {r:.1%} real)" for n, g, r in zip(c.get("names", []), c["fractions"], c["real_fractions"])
                  if r > 0 and (g / r > SKEW or g / r < 1 / SKEW)]
        if skewed:
            found.append(f"Class skew: it draws these classes more than {SKEW:g}× or less than 1/{SKEW:g} of their real "
                         f"share: {', '.join(skewed)}.")
        if c.get("collapsed"):
            found.append(f"Flagged as mode collapse: {c.get('classes_covered')} classes covered, KL to the real class mix "
                         f"{_g(c.get('kl_to_real'))}.")
    mem = ev.get("memorisation")
    if isinstance(mem, dict) and mem.get("memorised"):
        found.append(f"It may copy training images (nearest-neighbour distance ratio {_g(mem.get('ratio'))} < 0.5).")
    cond = ev.get("conditional")
    if isinstance(cond, dict) and isinstance(cond.get("accuracy"), (int, float)):
        found.append(f"Asked for a class, it draws that class {cond['accuracy']:.1%} of the time (by the evaluator).")
    for e in rows:
        if isinstance(e.get("event"), str):
            found.append(f"Health event `{e['event']}` at epoch {e.get('epoch')}: {e.get('message', '')}")
    if not ev:
        found.append("Its class balance and memorisation are unknown until `mnistgan evaluate` has run.")
    found.append("It draws 28×28 grayscale images like its training data and nothing else; FID here is computed on a "
                 "small classifier's features, comparable only between runs scored by the same evaluator.")
    return ["## Known limits", ""] + [f"- {line}" for line in found]


def _how_to_load(run: str, cfg: RunConfig) -> list[str]:
    digit = cfg.model.num_classes > 0
    shipped = run.startswith("pretrained:")
    load = (f'G = mnistgan.load("{run.removeprefix("pretrained:")}")  # checked against its sha256 first' if shipped
            else f'G = mnistgan.load_generator("{run}")  # or the .safetensors file alone')
    return ["## How to load it", "",
            "Command line" + ("" if shipped else " (the best generator unless `--last`)") + ":", "", "```bash",
            f"mnistgan sample {run} -n 64 --out samples.png" + (f"\nmnistgan sample {run} --digit 7 -n 16" if digit else ""),
            f"mnistgan evaluate {run}", "```", "", "Python:", "", "```python", "import mnistgan",
            load,
            "images = G.sample(16, seed=0" + (", digit=7" if digit else "") + ")  # [16, 1, 28, 28] in [-1, 1]",
            "```", "", "ONNX (for onnxruntime and other runtimes):", "", "```bash",
            f"mnistgan export {run} --format onnx", "```", "",
            "Weights are safetensors: loading them runs no code. The file's metadata holds the model's constructor "
            "arguments and config, so it rebuilds the generator on its own."]


def render_card(run: Path, cache_dir: Path | None = None, shown: str | None = None) -> str:
    """The card's Markdown. `cache_dir` locates an imported dataset's manifest; `shown` is
    what the commands in it name the model by (default: the run folder; `pretrained:NAME`
    for a shipped model)."""
    shown = shown or str(run)
    cfg = read_config(run / "config.json")
    rows, best = read_metrics(run), read_best(run)
    ev = read_json(run / "metrics.json") or {}  # `mnistgan evaluate`'s results, when it ran
    grid_epoch = best["epoch"] if best else max((r["epoch"] for r in rows if "health" in r), default=None)
    grid = run / "samples" / f"epoch_{grid_epoch:04d}.png" if isinstance(grid_epoch, int) else None
    samples = (["## Samples", "", f"![the fixed-noise grid at epoch {grid_epoch}](samples/{grid.name})", "",
                f"*The fixed-noise grid at epoch {grid_epoch}" + (", the best generator's" if best else "")
                + (": one row per class." if cfg.model.num_classes else ".") + "*"]
               if grid is not None and grid.is_file() else ["## Samples", "", "No sample grid yet."])
    parts = [[f"# Model card: {run.name if shown == str(run) else shown}", "",
              f"*Written by mnistgan {__version__} on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
              + ("refreshed at the end of training and by `mnistgan evaluate`.*" if shown == str(run) else
                 "shipped in the package by tools/ship_generators.py.*")],
             _what(run, cfg, best, shown), _data(cfg, cache_dir), _training(run, cfg, rows, shown),
             _metrics(shown, ev, rows, best), samples, _limits(ev, rows), _how_to_load(shown, cfg)]
    return "\n\n".join("\n".join(p) for p in parts) + "\n"


def write_card(run: Path, cache_dir: Path | None = None, shown: str | None = None) -> Path:
    path = run / CARD
    atomic_write_bytes(path, render_card(run, cache_dir, shown).encode())
    return path
