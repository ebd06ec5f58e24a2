"""An Optuna search on tiny data: the median pruner stops trials, which are kept and marked
pruned; other processes reopen the SQLite storage and continue the study, side by side."""

from __future__ import annotations

import json
import re

import optuna

from mnistgan.cli import main
from mnistgan.io import state as checkpoint

from .conftest import start_cli, sweep_args

SEARCH = ["--search", "{n}", "--space", "train.lr_g=loguniform(1e-5,1e-2)", "--space",
          "loss.label_smoothing=choice(0.0,0.2)", "--name", "s", "--jobs", "1", "--evaluate-n", "0"]


def _search(n: int, *extra: str) -> list[str]:
    return [a.format(n=n) for a in SEARCH] + list(extra)


def test_search_prunes_and_other_processes_continue_the_study(tinyset, tmp_path):
    first = tmp_path / "a"
    assert main(sweep_args(first, *_search(4), epochs=4)) == 0
    (folder,) = first.iterdir()
    storage = f"sqlite:///{folder / 'optuna.db'}"
    study = optuna.load_study(study_name="s", storage=storage)
    states = [t.state.name for t in study.trials]
    assert len(states) == 4 and "PRUNED" in states and "COMPLETE" in states
    runs = json.loads((folder / "sweep.json").read_text())["runs"]
    for t in study.trials:
        entry = runs[f"trial{t.number:04d}"]
        assert entry["trial"] == t.number and entry["params"] == t.params
        assert entry["state"] == {"PRUNED": "pruned", "COMPLETE": "finished"}[t.state.name]
        run = folder / entry["run"]
        assert checkpoint.list_states(run)  # a pruned run is kept, with its checkpoint
        evals = {r["epoch"]: r["eval"]["fid_lenet"] for r in map(json.loads, (run / "metrics.jsonl").read_text()
                                                                  .splitlines()) if "eval" in r}
        assert {e: evals[e] for e in t.intermediate_values} == t.intermediate_values
    assert "pruned at epoch" in (folder / "summary.md").read_text()

    # two more processes share the study's SQLite file, side by side, up to 7 trials
    procs = [start_cli(sweep_args(tmp_path / name, *_search(7, "--storage", storage), epochs=4), tmp_path / f"{name}.log")
             for name in ("b", "c")]
    assert [p.wait(timeout=600) for p in procs] == [0, 0]
    study = optuna.load_study(study_name="s", storage=storage)
    ran = [t for t in study.trials if "skipped" not in t.user_attrs]
    assert [t.number for t in ran] == list(range(7))
    assert all(t.state.name in ("COMPLETE", "PRUNED") for t in ran)
    labels = []
    for name in ("b", "c"):
        (sweep,) = (tmp_path / name).glob("0*-s")
        labels += list(json.loads((sweep / "sweep.json").read_text())["runs"])
    assert sorted(labels) == ["trial0004", "trial0005", "trial0006"]  # each trial ran once, in one process
    assert all(re.fullmatch(r"trial\d{4}", lab) for lab in labels)
