"""The documentation site builds strictly, its generated reference covers every CLI flag,
config key, metric and run-folder file, and the README's links into it resolve."""

from __future__ import annotations

import html
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mnistgan.cli import build_parser
from mnistgan.config import RunConfig
from mnistgan.errors import ConfigError
from mnistgan.eval.evaluate import METRICS
from mnistgan.eval.report import write_report
from mnistgan.runfolder import RUN_FILES

ROOT = Path(__file__).resolve().parents[1]


def _hooks():
    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "tools" / "docs_hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hooks = _hooks()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`mkdocs build --strict` into a temp folder (CI installs the docs extra: there a missing
    mkdocs fails rather than skips)."""
    if importlib.util.find_spec("mkdocs") is None and not os.environ.get("CI"):
        pytest.skip("mkdocs is not installed (pip install -e '.[docs]')")
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(out)],
                          cwd=ROOT, capture_output=True, text=True, env=os.environ | {"NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def _options() -> list[tuple[str, str]]:
    """(command, option string) for every flag of every subcommand."""
    found = []
    for name, sub in hooks._subcommands(build_parser()).items():
        for action in sub._actions:
            found += [(name, s) for s in action.option_strings if s not in ("-h", "--help")]
    return found


def test_the_site_builds_strictly_and_offline(site: Path) -> None:
    for page in ("index.html", "tutorial.html", "reference/cli.html", "reference/api.html", "search/search_index.json"):
        assert (site / page).is_file(), page
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        external = re.findall(r'<(?:script|link)[^>]+(?:src|href)="(https?://[^"]+)"', text)
        assert not external, f"{page.relative_to(site)} loads {external}"
    assert "load_generator" in (site / "reference" / "api.html").read_text(encoding="utf-8")  # mkdocstrings ran


def test_every_cli_command_and_flag_is_in_the_built_reference(site: Path) -> None:
    text = (site / "reference" / "cli.html").read_text(encoding="utf-8")
    commands = hooks._subcommands(build_parser())
    assert {"train", "sample", "evaluate", "report", "export", "serve", "data", "runs"} <= set(commands)
    for name in commands:
        assert f"mnistgan {name}" in text
    for name, option in _options():
        section = text.split(f'<h2 id="mnistgan-{name}">', 1)[1].split("<h2", 1)[0]
        assert f"<code>{option}</code>" in section, (name, option)


def test_every_config_key_is_in_the_built_reference_with_its_default(site: Path) -> None:
    text = (site / "reference" / "config.html").read_text(encoding="utf-8")
    keys = hooks.config_fields()
    assert len(keys) > 30
    for key, f, _ in keys:
        row = re.search(rf"<td><code>{re.escape(key)}</code></td>(.*?)</tr>", text, re.S)
        assert row, key
        cells = [html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
                 for c in re.findall(r"<td>(.*?)</td>", row.group(1), re.S)]
        default = RunConfig().to_dict()
        for part in key.split("."):
            default = default[part]
        assert cells[1] == (json.dumps(default) if isinstance(default, (str, bool)) else repr(default)), key
        assert cells[3] == f.metadata["help"].replace("`", ""), key


def test_every_config_field_has_help_and_its_integer_bounds_hold() -> None:
    """The reference's bounds are the checks': the upper bound passes, one past it is refused."""
    for key, f, typ in hooks.config_fields():
        assert f.metadata.get("help"), f"{key} has no help text"
        m = re.fullmatch(r"(\d+) to ([\d,]+)", f.metadata.get("bounds", ""))
        if typ is not int or not m or "." not in key:
            continue
        section, name = key.split(".")
        lo, hi = int(m.group(1)), int(m.group(2).replace(",", ""))
        cls = type(getattr(RunConfig(), section))
        for value, ok in ((hi, True), (hi + 1, False), (lo, True), (lo - 1, False)):
            try:
                cls(**{name: value})
                accepted = True
            except ConfigError:
                accepted = False
            assert accepted == ok, (key, value)


def test_every_metric_has_its_floor_in_the_reference() -> None:
    floors = json.loads(hooks.FLOORS.read_text())
    assert floors["machine"] and floors["command"] and floors["date"]
    for measured in floors["floors"]:
        assert set(METRICS) <= set(measured["values"]), measured["n"]
    text = hooks.metrics_markdown()
    for key, metric in METRICS.items():
        assert f"`{key}`" in text and metric.label in text


def _pattern(path: str) -> re.Pattern[str]:
    """`EEEE` and `SSSS` (epoch and step digits) and `*` as RUN_FILES writes them."""
    escaped = re.sub(r"E{4,}|S{4,}", lambda m: rf"\d{{{len(m.group())}}}", re.escape(path))
    return re.compile(escaped.replace(r"\*", ".*") + "$")


def test_the_run_folder_reference_lists_every_file_a_run_writes(tiny_run: Path) -> None:
    write_report(tiny_run)
    patterns = [_pattern(p) for p, _, _ in RUN_FILES]
    files = [p.relative_to(tiny_run).as_posix() for p in tiny_run.rglob("*") if p.is_file()]
    assert len(files) > 8
    for name in files:
        assert any(p.match(name) for p in patterns), f"{name} is not in runfolder.RUN_FILES"


def test_an_unknown_marker_fails_the_build() -> None:
    with pytest.raises(ValueError, match="unknown generated section"):
        hooks.render("<!-- generated: nonsense -->")


def test_readme_links_into_the_docs_resolve(site: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\((docs/[^)\s]+)\)", readme)
    assert len(links) >= 8
    for link in links:
        path, _, anchor = link.partition("#")
        assert (ROOT / path).is_file(), link
        if path.endswith(".md") and anchor:
            page = site / Path(path).relative_to("docs").with_suffix(".html")
            assert f'id="{anchor}"' in page.read_text(encoding="utf-8"), link
