"""Finding the browser for the tests that drive one: Debian's Chromium through Playwright
(browser downloads are not possible here). Without either, those tests skip on a
developer's machine and fail under CI (env CI set), which must run them."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("MNISTGAN_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


def need(what: str | None) -> None:
    """Skip (or, under CI, fail) with `what` as the reason; nothing when it is None."""
    if what:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run this test: {what}")
        pytest.skip(what)


def need_chromium() -> None:
    try:
        import playwright.sync_api  # noqa: F401  (only whether it imports)
    except ImportError:
        need("the playwright package is not installed (pip install -e '.[test]')")
    if not Path(CHROMIUM).is_file():
        need(f"no Chromium at {CHROMIUM} (apt-get install chromium)")


@contextmanager
def launch_chromium() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield browser
        browser.close()


def watch_errors(page: Any) -> list[str]:
    """The page's console errors and uncaught exceptions, collected as they happen."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors
