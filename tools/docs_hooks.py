"""MkDocs hook: the reference pages are generated from the code at build time.

A page holds a marker such as `<!-- generated: cli -->`; `on_page_markdown` replaces it with
Markdown rendered from the argparse parser (cli.py), the config dataclasses (config.py), the
metric table (eval/evaluate.py, with the real floors measured in docs/data/floors.json) and
the run folder's file list (runfolder.py). An unknown marker fails the build. The same
functions are what tests/test_docs.py checks, so the reference cannot drift from the code.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mnistgan.cli import build_parser
from mnistgan.config import ALIASES, PRESET_ABOUT, PRESETS, RunConfig
from mnistgan.eval import registry
from mnistgan.runfolder import RUN_FILES

FLOORS = Path(__file__).resolve().parents[1] / "docs" / "data" / "floors.json"
MARKER = re.compile(r"<!-- generated: ([a-z-]+) -->")


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# --- the CLI ------------------------------------------------------------------------------
def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:  # argparse keeps its subparsers only here
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _about(parser: argparse.ArgumentParser, name: str) -> str:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                if choice.dest == name:
                    return choice.help or ""
    return ""


def _argument_row(action: argparse.Action) -> list[str]:
    name = ", ".join(f"`{s}`" for s in action.option_strings) or f"`{action.metavar or action.dest}`"
    if action.option_strings and action.nargs != 0 and not action.choices:
        name += f" `{action.metavar or action.dest.upper()}`"
    choices = ", ".join(f"`{c}`" for c in action.choices) if action.choices else ""
    default = action.default
    shown = "" if default in (None, False, argparse.SUPPRESS) or default == [] else f"`{default}`"
    return [name, choices, shown, action.help or ""]


def cli_markdown() -> str:
    parser = build_parser()
    out = [f"`{parser.prog}`: {parser.description}", "",
           _table(["global option", "choices", "default", "meaning"],
                  [_argument_row(a) for a in parser._actions
                   if a.option_strings and not isinstance(a, argparse._HelpAction)])]
    for name, sub in _subcommands(parser).items():
        usage = sub.format_usage().removeprefix("usage: ").rstrip()  # as `--help` wraps it
        out += ["", f"## `mnistgan {name}`", "", _about(parser, name) + ".", "", f"```\n{usage}\n```", ""]
        rows = [_argument_row(a) for a in sub._actions if not isinstance(a, argparse._HelpAction)]
        out.append(_table(["argument", "choices", "default", "meaning"], rows) if rows else "No arguments.")
    return "\n".join(out)


# --- the config ---------------------------------------------------------------------------
def _type_name(typ: Any) -> str:
    return getattr(typ, "__name__", str(typ))


def _value(v: Any) -> str:
    return f"`{json.dumps(v)}`" if isinstance(v, (str, bool)) else f"`{v!r}`"


def config_fields() -> list[tuple[str, dataclasses.Field[Any], Any]]:
    """(section.key, field, its type) for every leaf key of RunConfig."""
    keys = []
    hints = typing.get_type_hints(RunConfig)
    for f in dataclasses.fields(RunConfig):
        if dataclasses.is_dataclass(hints[f.name]):
            sub_hints = typing.get_type_hints(hints[f.name])
            keys += [(f"{f.name}.{g.name}", g, sub_hints[g.name]) for g in dataclasses.fields(hints[f.name])]
        else:
            keys.append((f.name, f, hints[f.name]))
    return keys


def config_markdown() -> str:
    defaults = RunConfig().to_dict()
    out = []
    section = None
    for key, f, typ in config_fields():
        head = key.split(".")[0] if "." in key else "run"
        if head != section:
            section = head
            cls = typing.get_type_hints(RunConfig).get(head)
            doc = (cls.__doc__ or "").strip() if cls is not None and dataclasses.is_dataclass(cls) else ""
            doc = "" if doc.startswith(f"{cls.__name__ if cls else ''}(") else doc
            out += ["", f"## `{head}`" if head != "run" else "## top level", ""]
            if doc:
                out += [" ".join(doc.split()), ""]
            out += ["| key | type | default | bounds | meaning |", "|---|---|---|---|---|"]
        node: Any = defaults
        for part in key.split("."):
            node = node[part]
        out.append("| " + " | ".join([f"`{key}`", _type_name(typ), _value(node), _cell(f.metadata.get("bounds", "")),
                                      _cell(f.metadata.get("help", ""))]) + " |")
    out += ["", "## What each preset changes", "",
            "Each preset, what it is, and its values that differ from the defaults above (`mnistgan presets` "
            "lists them).", ""]
    rows = []
    for name, cfg in PRESETS.items():
        changed = []
        for key, _, _ in config_fields():
            if key == "preset":
                continue
            a, b = defaults, cfg.to_dict()
            for part in key.split("."):
                a, b = a[part], b[part]
            if a != b:
                changed.append(f"`{key}={json.dumps(b) if isinstance(b, str) else b}`")
        rows.append([f"`{name}`", PRESET_ABOUT[name], ", ".join(changed) or "(the defaults)"])
    rows += [[f"`{alias}`", f"another name for `{name}`", ""] for alias, name in ALIASES.items()]
    out.append(_table(["preset", "what", "settings"], rows))
    return "\n".join(out).strip()


# --- the metrics --------------------------------------------------------------------------
def _floor(v: Any) -> str:
    if v is None:
        return "—"
    value, std = v if isinstance(v, list) else (v, None)
    text = f"{value:.4g}"
    return f"{text} ± {std:.2g}" if std is not None else text


def metrics_markdown() -> str:
    floors = json.loads(FLOORS.read_text())
    sets = floors["floors"]
    header = ["key", "metric", "better", "what it measures", "needs", "light"] + [f"floor, n = {n:,}" for n in
                                                                                  (s["n"] for s in sets)]
    rows = []
    for key, m in registry.metrics().items():
        rows.append([f"`{key}`", m.label, m.better, m.about, ", ".join(sorted(m.needs)),
                     "yes" if registry.LIGHT in m.shown else ""] + [_floor(s["values"].get(key)) for s in sets])
    note = (f"The floors: {floors['what']} Measured with `{floors['command']}` on {floors['date']}, "
            f"{floors['machine']}, torch {floors['torch']}.")
    return _table(header, rows) + "\n\n" + note


# --- the run folder -----------------------------------------------------------------------
def run_folder_markdown() -> str:
    return _table(["path", "written by", "what it holds"], [[f"`{p}`", w, what] for p, w, what in RUN_FILES])


GENERATORS: dict[str, Callable[[], str]] = {
    "cli": cli_markdown,
    "config": config_markdown,
    "metrics": metrics_markdown,
    "run-folder": run_folder_markdown,
}


def render(markdown: str) -> str:
    def one(m: re.Match[str]) -> str:
        if m.group(1) not in GENERATORS:
            raise ValueError(f"unknown generated section {m.group(1)!r} (known: {', '.join(GENERATORS)})")
        return GENERATORS[m.group(1)]()
    return MARKER.sub(one, markdown)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    return render(markdown)
