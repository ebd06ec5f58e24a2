"""Search with Optuna: the space, the study (TPE sampler, median pruner, storage) and the
values a trial reports.

    --space 'train.lr_g=loguniform(1e-4,1e-3)'   a float, uniform in log space
    --space 'loss.label_smoothing=uniform(0,0.2)' a float
    --space 'model.hidden=int(64,512)'           an integer, both ends included
    --space 'loss.r1_gamma=choice(0,1,10)'        one of the values (TOML literals)

Each trial is one run (the spec's first seed). The median pruner is fed the light
evaluation's FID at each evaluation epoch, read from the run's metrics.jsonl as the
worker writes it; a pruned run is stopped (it saves its checkpoint), kept, and marked
pruned. The trial's value is the full evaluation's FID of its best generator (the best
light-evaluation FID when the spec's evaluate_n is 0). The storage is the sweep folder's
SQLite file unless a URL is given; several machines share a study through one database.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mnistgan.data.sources import Sources
from mnistgan.errors import ConfigError
from mnistgan.sweep.spec import Setting, SweepSpec, build_setting, parse_value

if TYPE_CHECKING:
    import optuna

log = logging.getLogger(__name__)

STORAGE_FILE = "optuna.db"
_DIST = re.compile(r"^\s*(loguniform|uniform|int|choice)\s*\((.*)\)\s*$")


@dataclass(frozen=True)
class Param:
    key: str
    kind: str  # loguniform | uniform | int | choice
    args: tuple[Any, ...]

    def suggest(self, trial: optuna.Trial) -> Any:
        if self.kind == "choice":
            return trial.suggest_categorical(self.key, list(self.args))
        if self.kind == "int":
            return trial.suggest_int(self.key, *self.args)
        return trial.suggest_float(self.key, *self.args, log=self.kind == "loguniform")

    def corners(self) -> tuple[Any, ...]:
        """The values that bound what can be sampled: both ends, or every choice."""
        return self.args


def parse_param(key: str, text: str) -> Param:
    """`loguniform(1e-4, 1e-3)` etc.; a malformed, empty or unsamplable range is an error."""
    m = _DIST.match(text)
    where = f"--space {key}={text}"
    if not m:
        raise ConfigError(f"{where}: expected loguniform(lo,hi), uniform(lo,hi), int(lo,hi) or choice(v1,v2,...)")
    kind, body = m.group(1), m.group(2)
    args = tuple(parse_value(a) for a in body.split(",")) if body.strip() else ()
    if kind == "choice":
        if not args:
            raise ConfigError(f"{where}: no values to choose from")
        if len(set(map(repr, args))) != len(args):
            raise ConfigError(f"{where}: a value is repeated")
        return Param(key, kind, args)
    if len(args) != 2:
        raise ConfigError(f"{where}: expected two numbers, the low and the high end")
    number = int if kind == "int" else (int, float)
    if not all(isinstance(a, number) and not isinstance(a, bool) and math.isfinite(a) for a in args):
        raise ConfigError(f"{where}: the ends must be finite {'whole numbers' if kind == 'int' else 'numbers'}")
    lo, hi = args
    if not lo < hi:
        raise ConfigError(f"{where}: the range is empty (the low end must be below the high end)")
    if kind == "loguniform" and lo <= 0:
        raise ConfigError(f"{where}: a log range needs a positive low end")
    return Param(key, kind, (float(lo), float(hi)) if kind != "int" else (lo, hi))


def parse_space(spec: SweepSpec) -> list[Param]:
    params = [parse_param(k, t) for k, t in spec.space]
    keys = [p.key for p in params]
    if len(set(keys)) != len(keys):
        raise ConfigError("--space: a key is given twice")
    fixed = {k for k, _ in spec.set}
    if fixed & set(keys):
        raise ConfigError(f"{sorted(fixed & set(keys))[0]} is both set and searched: give it once")
    return params


def check_space(spec: SweepSpec, params: list[Param], sources: Sources) -> list[Setting]:
    """Build the config at every end of every range (the others at their low end), so that a
    space the config cannot take (a negative learning rate, a float where a whole number
    goes, keys that may not change together) is an error before the first trial. Returns
    the base setting, then those ends (for the memory check)."""
    found = [build_setting(spec, {}, "base", sources)]
    low = {p.key: p.corners()[0] for p in params}
    for p in params:
        for value in p.corners():
            try:
                found.append(build_setting(spec, low | {p.key: value}, "trial", sources))
            except ConfigError as e:
                raise ConfigError(f"--space {p.key}: cannot be sampled at {value!r} ({e})") from None
    return found


def storage_url(spec: SweepSpec, sweep_dir: Path) -> str:
    return spec.storage or f"sqlite:///{(sweep_dir / STORAGE_FILE).resolve()}"


def open_study(spec: SweepSpec, sweep_dir: Path, trials: int) -> optuna.study.Study:
    """The study named after the sweep, created or reopened: TPE (seeded by the first seed
    plus the trials already in the study; unseeded on a shared --storage), the median
    pruner after max(1, min(5, trials // 4)) finished trials."""
    try:
        import optuna
    except ImportError:
        raise ConfigError("a search needs optuna: pip install 'mnistgan[sweep]'") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = storage_url(spec, sweep_dir)
    # SQLite: wait for another process's write rather than fail ("database is locked")
    kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    try:
        storage = optuna.storages.RDBStorage(url, engine_kwargs=kwargs)
        study = optuna.create_study(
            study_name=spec.name, storage=storage, direction="minimize", load_if_exists=True,
            pruner=optuna.pruners.MedianPruner(n_startup_trials=max(1, min(5, trials // 4)), n_warmup_steps=0))
        done = len(study.get_trials(deepcopy=False))
    except ImportError as e:
        raise ConfigError(f"storage {url}: needs the {e.name} module") from None
    except Exception as e:  # sqlalchemy's errors: a bad URL, an unreachable server, a locked file
        raise ConfigError(f"storage {url}: cannot open ({type(e).__name__}: {str(e).splitlines()[0][:160]})") from None
    # A restarted sweep must not draw its first trials' values again, nor may processes
    # sharing a study draw the same ones: the seed moves on with the trials; shared, unseeded.
    study.sampler = optuna.samplers.TPESampler(seed=None if spec.storage else spec.seeds[0] + done)
    return study


def trial_handle(study: optuna.study.Study, number: int) -> optuna.Trial:
    """A running trial by its number, to report to (from this process or after a restart)."""
    import optuna

    frozen = study.get_trials(deepcopy=False)[number]
    return optuna.trial.Trial(study, frozen._trial_id)
