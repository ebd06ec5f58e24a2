"""A sweep spec: what to train, over which settings and seeds, and how to search.

From a TOML file (`mnistgan sweep SPEC.toml`):

    name = "robustness"
    preset = "classic"
    seeds = "0-7"                 # or [0, 3, 5]
    threads_per_job = 1
    evaluate_n = 10000            # the full evaluation of each run's best generator (0: none)
    [set]                         # applied to every run, as `mnistgan train --set`
    train.epochs = 50
    [grid]                        # one setting per combination; `preset` may be a key
    "loss.label_smoothing" = [0.0, 0.1]
    [variants.r1]                 # named settings, each with its own keys (times the grid, if any)
    "loss.r1_gamma" = 1.0
    [search]                      # Optuna instead of (or over) the grid
    trials = 20
    space = { "train.lr_g" = "loguniform(1e-4, 1e-3)" }

or from flags (`--preset --seeds --set --grid --search --space`); both give a SweepSpec.
Every setting's config is built and checked before anything runs (`settings`).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mnistgan.config import RunConfig, explicit_keys, load_config
from mnistgan.data.sources import Sources
from mnistgan.errors import ConfigError

MAX_SEEDS = 10_000
MAX_SETTINGS = 10_000
SECTIONS = tuple(f.name for f in dataclasses.fields(RunConfig))  # a config's sections: data, model, ...
SPEC_KEYS = ("name", "preset", "seeds", "threads_per_job", "jobs", "evaluate_n", "set", "grid", "variants", "search")
SEARCH_KEYS = ("trials", "space", "storage")
_LABEL = re.compile(r"[^A-Za-z0-9._-]+")
_SETTING = re.compile(r"[^A-Za-z0-9._=-]+")  # a setting's label, in its runs' folder names


@dataclass(frozen=True)
class SweepSpec:
    """Values are Python values as TOML reads them; `set` and `grid` keys are dotted config
    keys (or `preset`, in the grid)."""

    name: str = "sweep"
    preset: str = "classic"
    seeds: tuple[int, ...] = (0,)
    threads_per_job: int = 1
    jobs: int | None = None  # runs side by side (default: cores // threads_per_job); not part of the sweep's identity
    evaluate_n: int = 10_000  # at most a smaller set's test split, as `mnistgan evaluate` does
    set: tuple[tuple[str, Any], ...] = ()
    grid: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    # named settings whose keys change together (label -> ((key, value), ...)); each is crossed with the grid
    variants: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = ()
    trials: int = 0  # > 0: an Optuna search of this many trials
    space: tuple[tuple[str, str], ...] = ()  # key -> "loguniform(1e-4, 1e-3)" ...
    storage: str | None = None  # an Optuna storage URL (default: the sweep folder's SQLite file)

    def __post_init__(self) -> None:
        if not _LABEL.sub("", self.name) or _LABEL.search(self.name):
            raise ConfigError(f"sweep name {self.name!r}: use letters, digits, '.', '_' and '-' only")
        if not 1 <= self.threads_per_job <= 256:
            raise ConfigError(f"threads per job must be between 1 and 256, got {self.threads_per_job}")
        if self.jobs is not None and not 1 <= self.jobs <= 1024:
            raise ConfigError(f"jobs must be between 1 and 1024, got {self.jobs}")
        if not (self.evaluate_n == 0 or 2 <= self.evaluate_n <= 60_000):
            raise ConfigError(f"evaluate_n must be 0 (no final evaluation) or between 2 and 60000, got {self.evaluate_n}")
        if not self.seeds:
            raise ConfigError("seeds: the range is empty")
        if not 0 <= self.trials <= MAX_SETTINGS:
            raise ConfigError(f"search trials must be between 0 and {MAX_SETTINGS}, got {self.trials}")
        if self.trials and not self.space:
            raise ConfigError("a search needs a space: --space 'train.lr_g=loguniform(1e-4,1e-3)'")
        if self.space and not self.trials:
            raise ConfigError("--space needs --search N (the number of trials)")
        if self.trials and (self.grid or self.variants):
            raise ConfigError("give a grid (or variants) or a search, not both")
        for label, items in self.variants:
            if not _SETTING.sub("", label) or _SETTING.search(label) or len(label) > 60:
                raise ConfigError(f"variant {label!r}: name it with at most 60 letters, digits, '.', '_', '=' and '-'")
        for key, values in self.grid:
            if not values:
                raise ConfigError(f"grid {key}: the list of values is empty")

    def identity(self) -> dict[str, Any]:
        """What makes two sweeps the same: everything but the number of jobs."""
        d = self.to_dict()
        d.pop("jobs")
        return d

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["set"] = dict(self.set)
        d["grid"] = {k: list(v) for k, v in self.grid}
        d["variants"] = {label: dict(items) for label, items in self.variants}
        d["space"] = dict(self.space)
        d["seeds"] = list(self.seeds)
        return d

    def to_toml(self) -> str:
        """The spec as a TOML file that `mnistgan sweep` reads back to the same spec."""
        lines = [f"name = {toml_value(self.name)}", f"preset = {toml_value(self.preset)}",
                 f"seeds = {toml_value(list(self.seeds))}", f"threads_per_job = {self.threads_per_job}",
                 f"evaluate_n = {self.evaluate_n}"]
        lines += [f"jobs = {self.jobs}"] if self.jobs is not None else []
        for table, items in (("set", self.set), ("grid", [(k, list(v)) for k, v in self.grid])):
            if items:
                lines += ["", f"[{table}]", *[f"{json.dumps(k)} = {toml_value(v)}" for k, v in items]]
        for label, items in self.variants:
            lines += ["", f"[variants.{json.dumps(label)}]", *[f"{json.dumps(k)} = {toml_value(v)}" for k, v in items]]
        if self.trials:
            lines += ["", "[search]", f"trials = {self.trials}"]
            lines += [f"storage = {toml_value(self.storage)}"] if self.storage else []
            lines += ["", "[search.space]", *[f"{json.dumps(k)} = {toml_value(v)}" for k, v in self.space]]
        return "\n".join(lines) + "\n"


def toml_value(v: Any) -> str:
    """A TOML (and --set) literal for a value read from TOML or a flag."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    raise ConfigError(f"{v!r}: expected a number, a string, true/false or a list of them")


def parse_value(raw: str) -> Any:
    """A flag's value as TOML (a bare word such as fashion-mnist is a string), like --set."""
    try:
        return tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        return raw.strip()


def parse_seeds(value: Any) -> tuple[int, ...]:
    """"0-7", "0,3,5", "4", 4 or [0, 3] -> seeds; a malformed or empty range is an error."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(s, int) and not isinstance(s, bool) for s in value):
        seeds = tuple(value)
    elif isinstance(value, str) and re.fullmatch(r"\s*\d+\s*-\s*\d+\s*", value):
        lo, hi = (int(x) for x in value.split("-"))
        if hi < lo:
            raise ConfigError(f"seeds {value!r}: the range is empty ({hi} < {lo})")
        seeds = tuple(range(lo, hi + 1))
    elif isinstance(value, str) and re.fullmatch(r"\s*\d+\s*(,\s*\d+\s*)*", value):
        seeds = tuple(int(x) for x in value.split(","))
    else:
        raise ConfigError(f"seeds {value!r}: expected a range such as 0-7, a list such as 0,3,5, or one seed")
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"seeds {value!r}: a seed is repeated")
    if len(seeds) > MAX_SEEDS:
        raise ConfigError(f"seeds {value!r}: more than {MAX_SEEDS} seeds")
    return seeds


def parse_assignment(text: str, flag: str) -> tuple[str, str]:
    key, sep, raw = text.partition("=")
    if not sep or not key.strip() or not raw.strip():
        raise ConfigError(f"{flag} {text!r}: expected key=value")
    return key.strip(), raw.strip()


def parse_grid(text: str) -> tuple[str, tuple[Any, ...]]:
    """`--grid loss.r1_gamma=0,1,10` -> ("loss.r1_gamma", (0, 1, 10))."""
    key, raw = parse_assignment(text, "--grid")
    values = tuple(parse_value(v) for v in raw.split(",") if v.strip())
    if not values or len(values) != len(raw.split(",")):
        raise ConfigError(f"--grid {text!r}: expected key=v1,v2,... with no empty value")
    return key, values


def _flatten(table: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """{"train": {"epochs": 5}} -> [("train.epochs", 5)] (TOML's dotted keys make tables)."""
    out: list[tuple[str, Any]] = []
    for key, value in table.items():
        path = f"{prefix}{key}"
        out += _flatten(value, path + ".") if isinstance(value, dict) else [(path, value)]
    return out


def from_flags(base: SweepSpec | None = None, *, preset: str | None = None, seeds: str | None = None,
               sets: list[str] = (), grids: list[str] = (), name: str | None = None, jobs: int | None = None,
               threads_per_job: int | None = None, evaluate_n: int | None = None, trials: int | None = None,
               spaces: list[str] = (), storage: str | None = None) -> SweepSpec:
    """A spec from `mnistgan sweep` flags, over `base` (a spec file's) when given: a flag
    replaces the file's value; --set, --grid and --space add keys (a key given again wins)."""
    grid = [parse_grid(g) for g in grids]
    keys = [k for k, _ in grid]
    if len(set(keys)) != len(keys):
        raise ConfigError(f"--grid: a key is given twice ({', '.join(sorted({k for k in keys if keys.count(k) > 1}))})")
    new_sets = [(k, parse_value(v)) for k, v in (parse_assignment(s, "--set") for s in sets)]
    new_space = [parse_assignment(s, "--space") for s in spaces]
    if base is None:
        base = SweepSpec(name=name or preset or "classic")
    return dataclasses.replace(
        base, name=name or base.name, preset=preset or base.preset,
        seeds=parse_seeds(seeds) if seeds is not None else base.seeds,
        threads_per_job=threads_per_job or base.threads_per_job, jobs=jobs or base.jobs,
        evaluate_n=base.evaluate_n if evaluate_n is None else evaluate_n,
        set=tuple((dict(base.set) | dict(new_sets)).items()), grid=tuple((dict(base.grid) | dict(grid)).items()),
        trials=base.trials if trials is None else trials, space=tuple((dict(base.space) | dict(new_space)).items()),
        storage=storage or base.storage)


def read_spec(path: Path) -> SweepSpec:
    """A spec from a TOML file (its name defaults to the file's)."""
    try:
        table = tomllib.loads(Path(path).read_text())
    except OSError as e:
        raise ConfigError(f"{path}: cannot read ({e.strerror or e})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: invalid TOML ({e})") from None
    try:
        return _spec_from_table(table, path)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None


def _spec_from_table(t: dict[str, Any], path: Path) -> SweepSpec:
    unknown = sorted(set(t) - set(SPEC_KEYS))
    if unknown:
        raise ConfigError(f"unknown sweep key {unknown[0]!r} (known: {', '.join(SPEC_KEYS)})")
    search = t.get("search", {})
    if not isinstance(search, dict) or set(search) - set(SEARCH_KEYS):
        raise ConfigError(f"[search] takes {', '.join(SEARCH_KEYS)}")
    for table in ("set", "grid", "variants"):
        if not isinstance(t.get(table, {}), dict):
            raise ConfigError(f"{table} must be a table of key = value")
    variants = t.get("variants", {})
    for label, table in variants.items():
        if not isinstance(table, dict):
            raise ConfigError(f"variants.{label} must be a table of key = value")
        for key, value in table.items():  # [variants.a.1] is TOML's table "1" inside "a"
            if isinstance(value, dict) and key not in SECTIONS:
                raise ConfigError(f"variants.{label}.{key}: a dotted variant name makes nested tables; "
                                  f'quote it: [variants."{label}.{key}"]')
    grid = _flatten(t.get("grid", {}))
    for key, values in grid:
        if not isinstance(values, list):
            raise ConfigError(f"grid {key}: expected a list of values, got {values!r}")
    space = _flatten(search.get("space", {}))
    for key, text in space:
        if not isinstance(text, str):
            raise ConfigError(f"search.space {key}: expected a string such as \"loguniform(1e-4, 1e-3)\"")
    ints = {k: t.get(k) for k in ("threads_per_job", "jobs", "evaluate_n") if k in t} | \
        {"trials": search.get("trials", 0)}
    for key, value in ints.items():
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConfigError(f"{key}: expected a whole number, got {value!r}")
    for key in ("name", "preset"):
        if key in t and not isinstance(t[key], str):
            raise ConfigError(f"{key}: expected a string, got {t[key]!r}")
    return SweepSpec(
        name=t.get("name") or Path(path).stem, preset=t.get("preset", "classic"),
        seeds=parse_seeds(t.get("seeds", 0)), threads_per_job=t.get("threads_per_job", 1),
        jobs=t.get("jobs"), evaluate_n=t.get("evaluate_n", 10_000),
        set=tuple(_flatten(t.get("set", {}))), grid=tuple((k, tuple(v)) for k, v in grid),
        variants=tuple((label, tuple(_flatten(table))) for label, table in variants.items()),
        trials=search.get("trials", 0), space=tuple(space), storage=search.get("storage"))


def spec_from_dict(d: dict[str, Any]) -> SweepSpec:
    """The spec saved in sweep.json (to_dict) back."""
    try:
        return SweepSpec(
            name=d["name"], preset=d["preset"], seeds=tuple(d["seeds"]), threads_per_job=d["threads_per_job"],
            jobs=d.get("jobs"), evaluate_n=d["evaluate_n"], set=tuple(d["set"].items()),
            grid=tuple((k, tuple(v)) for k, v in d["grid"].items()),
            variants=tuple((label, tuple(items.items())) for label, items in d.get("variants", {}).items()),
            trials=d["trials"],
            space=tuple(d["space"].items()), storage=d.get("storage"))
    except (KeyError, TypeError, AttributeError) as e:
        raise ConfigError(f"not a sweep spec ({type(e).__name__}: {e})") from None


@dataclass(frozen=True)
class Setting:
    """One point of the grid: a label for folders and tables, the preset, its overrides,
    and the config they make (seed aside)."""

    label: str
    preset: str
    overrides: tuple[str, ...]  # "key=value" for `mnistgan train --set`, the spec's set first
    cfg: RunConfig


def _label(choice: dict[str, Any]) -> str:
    if not choice:
        return "base"
    parts = [str(v) if k == "preset" else f"{k.rsplit('.', 1)[-1]}={v}" for k, v in choice.items()]
    return _SETTING.sub("_", "-".join(parts))[:60]


def build_setting(spec: SweepSpec, choice: dict[str, Any], label: str, sources: Sources) -> Setting:
    """A setting's config, checked now (ConfigError naming the setting when a key is
    unknown or its values may not go together)."""
    from mnistgan.train.fit import SetSize, fit_to_data
    from mnistgan.train.loop import check_config

    preset = str(choice.get("preset", spec.preset))
    overrides = tuple(f"{k}={toml_value(v)}" for k, v in [*spec.set, *choice.items()] if k != "preset")
    if any(k == "train.seed" for k, _ in [*spec.set, *choice.items()]):
        raise ConfigError("train.seed is set by the sweep's seeds: use --seeds")
    where = f"setting {label}" if choice else "the base setting"
    try:
        cfg = load_config(preset, None, overrides)  # then fitted to a small set, as `mnistgan train` does
        cfg = fit_to_data(cfg, SetSize.of(cfg.data, sources.cache_dir), explicit_keys(None, overrides), f"{where}: ")
        check_config(cfg, sources)
    except ConfigError as e:
        raise ConfigError(f"{where}: {e}") from None
    return Setting(label, preset, overrides, cfg)


def settings(spec: SweepSpec, sources: Sources) -> list[Setting]:
    """Every setting: each variant (one without variants) times each combination of the grid
    (one without a grid), each config built and checked."""
    keys = [k for k, _ in spec.grid]
    combos = list(itertools.product(*(v for _, v in spec.grid)))
    variants = spec.variants or (("", ()),)
    if len(combos) * len(variants) > MAX_SETTINGS:
        raise ConfigError(f"the sweep has {len(combos) * len(variants)} settings, more than {MAX_SETTINGS}")
    choices, labels = [], []
    for name, items in variants:
        for combo in combos:
            grid_choice = dict(zip(keys, combo))
            overlap = sorted(set(grid_choice) & {k for k, _ in items})
            if overlap:
                raise ConfigError(f"variant {name} and the grid both set {overlap[0]}: one setting per key")
            choices.append(dict(items) | grid_choice)
            labels.append(f"{name}-{_label(grid_choice)}" if name and grid_choice else name or _label(grid_choice))
    if len(set(labels)) != len(labels):  # values that differ only in characters a folder name cannot hold
        labels = [f"setting{i}" for i in range(len(labels))]
    return [build_setting(spec, c, lab, sources) for c, lab in zip(choices, labels)]

