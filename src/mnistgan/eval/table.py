"""The evaluation as text: what `mnistgan evaluate` prints (and `mnistgan.format_table`)."""

from __future__ import annotations

from mnistgan.eval import modes
from mnistgan.eval import registry as R


def format_table(result: dict) -> str:
    """The metrics beside the real floor, then classes (and, for a conditional G, its
    accuracy and per-class FID), memorisation and D's report."""
    lines = [f"{result['dataset']}: {result['n']} samples vs {result['n']} real training images "
             f"({result['evaluator'].get('dataset', result['dataset'])} evaluator, test accuracy "
             f"{result['evaluator']['test_accuracy']:.2%})", "",
             f"{'metric':<34}{'generated':>18}{'real floor':>18}  better"]
    for key, m in result["metrics"].items():  # the metrics metrics.json has, under today's names
        def fmt(v, s):
            return f"{v:.4g}" + (f" ± {s:.2g}" if s is not None else "")
        lines.append(f"{R.long_label(key, m.get('label')):<34}{fmt(m['value'], m['std']):>18}{fmt(m['real'], m['real_std']):>18}  {m['better']}")
    if "modes" in result["metrics"]:  # a stacked set: beside the papers' figures
        lines += ["", *modes.published_lines()]
    c = result["classes"]
    if c is None:  # an unlabelled or stacked set
        lines += ["", f"{result['dataset']} has {result['unlabelled']}"]
    else:
        lines += ["", "classes: " + " ".join(f"{n}:{f:.1%}" for n, f in zip(c["names"], c["fractions"])),
                  f"classes covered {c['classes_covered']}/{len(c['names'])} (real {c['real']['classes_covered']}), "
                  f"KL to real {c['kl_to_real']:.3f} (real {c['real']['kl_to_real']:.3f})"
                  + ("  ** MODE COLLAPSE **" if c["collapsed"] else "")]
    cond = result.get("conditional")
    if cond:  # a class-conditional generator
        lines.append(f"conditional accuracy {cond['accuracy']:.2%} (real {cond['floor_accuracy']:.2%}): "
                     "share of samples the evaluator labels as the class asked for")
        lines.append("per-class FID (generated / real floor): " + "  ".join(
            f"{name}: {g:.4g} / {f:.4g}" for name, g, f in zip(c["names"], cond["per_class_fid"], cond["per_class_floor"])))
    mem = result["memorisation"]
    if mem["ratio"] is None:
        lines.append(f"memorisation: {mem['note']}")
    else:
        lines.append(f"memorisation: nearest-train distance ratio {mem['ratio']:.3f} (generated "
                     f"{mem['gen_to_train_median']:.3f} / test {mem['test_to_train_median']:.3f}; < 0.5 means copying)"
                     + ("  ** MEMORISED **" if mem["memorised"] else ""))
    d = result.get("discriminator")
    if d:
        lines.append(f"discriminator: accuracy {d['accuracy']:.3f}, ROC AUC {d['roc_auc']:.3f}, mean D(x) "
                     f"{d['mean_d_real']:.3f}, mean D(G(z)) {d['mean_d_fake']:.3f}, train-test gap {d['train_test_gap']:+.4f}"
                     + (f", train-test AUC {d['train_test_auc']:.3f}" if d.get("train_test_auc") is not None else ""))
    else:
        lines.append("discriminator: not in this file (evaluate a run folder or a training-state .pt)")
    return "\n".join(lines)
