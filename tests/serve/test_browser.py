"""The page in a real headless Chromium (Playwright, Debian's chromium): new samples, a
digit, a drawing judged, three rounds of the game, switching runs; no console errors,
and no sideways scrolling on a phone. Skips without Chromium, except under CI (env CI
set), where a missing browser fails."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from pathlib import Path

import pytest

from tests.browser_support import launch_chromium, need_chromium, watch_errors

SCREENSHOTS = os.environ.get("MNISTGAN_SCREENSHOTS")  # a folder: save desktop and phone screenshots there


@contextlib.contextmanager
def uvicorn_serving(app):
    """The app under a real uvicorn on a free port of 127.0.0.1, in this process (so the tiny
    datasets are registered); yields its address."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def server(runs):
    need_chromium()
    from mnistgan.serve.app import create_app

    with uvicorn_serving(create_app(runs.root, runs.sources)) as url:
        yield url


@pytest.fixture(scope="module")
def browser(server):
    with launch_chromium() as b:
        yield b


def open_page(browser, url: str, width: int = 1280):
    phone = width < 500
    page = browser.new_page(viewport={"width": width, "height": 900}, has_touch=phone, is_mobile=phone)
    errors = watch_errors(page)
    page.goto(url)
    page.wait_for_function("document.querySelector('#report section') !== null && "
                           "document.querySelector('#game-image').src.startsWith('data:')", timeout=30_000)
    return page, errors


def draw_seven(page, pointer: str = "mouse") -> None:
    pad = page.locator("#pad")
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    x, y, w = box["x"], box["y"], box["width"]
    points = [(0.25, 0.2), (0.5, 0.2), (0.75, 0.2), (0.65, 0.45), (0.55, 0.65), (0.45, 0.85)]
    if pointer == "mouse":
        page.mouse.move(x + w * points[0][0], y + w * points[0][1])
        page.mouse.down()
        for px, py in points[1:]:
            page.mouse.move(x + w * px, y + w * py, steps=4)
        page.mouse.up()
    else:  # a finger: touch events through the browser's input pipeline (CDP), as a phone sends them
        cdp = page.context.new_cdp_session(page)
        at = [{"x": x + w * px, "y": y + w * py} for px, py in points]  # the box is viewport-relative
        cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [at[0]]})
        for p in at[1:]:
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [p]})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def test_samples_digits_drawing_and_three_rounds(browser, server, runs):
    page, errors = open_page(browser, f"{server}/?run={runs.cond}")
    assert page.locator("#run-select").input_value() == runs.cond
    # "New": a fresh seed, a different grid
    before = page.locator("#grid").get_attribute("src")
    seed_before = page.locator("#seed").input_value()
    page.click("#new-btn")
    # the caption is written once the new grid has loaded
    page.wait_for_function("document.querySelector('#grid-caption').textContent.includes("
                           "`seed ${document.querySelector('#seed').value} `)")
    assert page.locator("#seed").input_value() != seed_before
    assert page.locator("#grid").get_attribute("src") != before
    # a digit: only that class
    src = page.locator("#grid").get_attribute("src")
    page.click("#digit-buttons button[data-digit='3']")
    page.wait_for_function("document.querySelector('#grid-caption').textContent.includes('only 3s')")
    assert page.locator("#grid").get_attribute("src") != src
    assert page.locator("#digits-reason").is_hidden()
    # judge a drawing
    draw_seven(page)
    page.wait_for_function("document.querySelectorAll('#judge-probs .bar').length === 10", timeout=15_000)
    verdict = page.locator("#judge-verdict").inner_text()
    assert "D judges it" in verdict and ("real" in verdict or "fake" in verdict) and "The evaluator reads" in verdict
    # three rounds of the game
    for i in range(1, 4):
        page.click("#guess-real" if i % 2 else "#guess-fake")
        page.wait_for_function(f"document.querySelector('#score-person').textContent.endsWith('/{i}')")
        assert "D said" in page.locator("#game-result").inner_text()
        assert page.locator("#score-d").inner_text().endswith(f"/{i}")
        image = page.locator("#game-image").get_attribute("src")
        page.click("#next-round")
        page.wait_for_function(f"document.querySelector('#game-image').src !== {image!r}")
    # the run: the epoch slider shows the grid of the epoch chosen
    assert page.locator("#epoch-label").inner_text() == "2 of 2"
    grid = page.locator("#epoch-grid").get_attribute("src")
    page.locator("#epoch-slider").fill("0")
    page.wait_for_function(f"document.querySelector('#epoch-grid').src !== {grid!r}")
    assert page.locator("#epoch-label").inner_text() == "1 of 2"
    assert page.locator("#report #losses img").count() == 1 and page.locator("#report #health").count() == 1
    if SCREENSHOTS:
        page.screenshot(path=str(Path(SCREENSHOTS) / "desktop.png"), full_page=True)
    assert errors == []
    page.close()


def test_an_unconditional_run_greys_the_digits_and_runs_switch(browser, server, runs):
    page, errors = open_page(browser, f"{server}/?run={runs.classic}")
    buttons = page.locator("#digit-buttons button")
    assert buttons.count() == 10 and all(buttons.nth(i).is_disabled() for i in range(10))
    assert "unconditional" in page.locator("#digits-reason").inner_text()
    page.select_option("#run-select", runs.cond)
    page.wait_for_function("!document.querySelector('#digit-buttons button').disabled")
    assert "conditional" in page.locator("#run-info").inner_text()
    assert page.locator("#runs-body tr.current").get_attribute("data-run") == runs.cond
    assert errors == []
    page.close()


def test_a_phone_draws_with_a_finger_and_nothing_scrolls_sideways(browser, server, runs):
    page, errors = open_page(browser, f"{server}/?run={runs.cond}", width=390)
    draw_seven(page, pointer="touch")
    page.wait_for_function("document.querySelectorAll('#judge-probs .bar').length === 10", timeout=15_000)
    page.click("#guess-fake")
    page.wait_for_function("document.querySelector('#score-person').textContent.endsWith('/1')")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    if SCREENSHOTS:
        page.screenshot(path=str(Path(SCREENSHOTS) / "phone.png"), full_page=True)
    assert errors == []
    page.close()


TOKEN = "browser-test-token-0123456789"


@pytest.fixture(scope="module")
def shipped_server():
    """`mnistgan serve --host 0.0.0.0` with no run folder: the shipped models alone, behind a
    token (bound to 127.0.0.1 here; the token check is the same). MNIST's test split for the
    game comes from ../shared when it is there."""
    need_chromium()
    from mnistgan.data.sources import Sources
    from mnistgan.serve.app import create_app
    from tests.conftest import SHARED_MNIST

    sources = Sources(data_dir=SHARED_MNIST if SHARED_MNIST.is_dir() else None, download=False)
    with uvicorn_serving(create_app(None, sources, token=TOKEN)) as url:
        yield url


def test_serve_without_a_run_folder_draws_the_shipped_best_with_its_token(browser, shipped_server):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = watch_errors(page)
    page.goto(f"{shipped_server}/?token={TOKEN}")
    page.wait_for_function("document.querySelector('#grid').src.startsWith('blob:') && "
                           "document.querySelector('#report section') !== null", timeout=30_000)
    assert page.locator("#run-select").input_value() == "pretrained:best"
    assert f"token={TOKEN}" in page.url  # kept in the address, so a reload still works
    page.click("#digit-buttons button[data-digit='7']")
    page.wait_for_function("document.querySelector('#grid-caption').textContent.includes('only 7s')")
    page.select_option("#run-select", "pretrained:classic")
    page.wait_for_function("document.querySelector('#digit-buttons button').disabled")
    assert errors == []
    page.close()


def test_without_the_token_the_page_is_refused(browser, shipped_server):
    page = browser.new_page()
    response = page.goto(f"{shipped_server}/?run=pretrained:best")
    assert response.status == 401 and "token" in page.content() and page.locator("#grid").count() == 0
    response = page.goto(f"{shipped_server}/?token=not-the-token-at-all")
    assert response.status == 401
    page.close()


def test_a_three_channel_run_greys_the_drawing_pad(browser, stacked_run, tiny_stacked):
    """A drawing is grey: on a Stacked MNIST run the pad and its button are off, and the page
    says why, rather than sending a drawing the server would refuse."""
    from mnistgan.data.sources import Sources
    from mnistgan.serve.app import create_app

    sources = Sources(data_dir=tiny_stacked[1], download=False)
    with uvicorn_serving(create_app(stacked_run.parent, sources)) as url:
        page, errors = open_page(browser, f"{url}/?run={stacked_run.name}")
        assert page.locator("#judge-btn").is_disabled()
        assert "3-channel images: it cannot judge drawings" in page.locator("#judge-verdict").inner_text()
        draw_seven(page)
        page.wait_for_timeout(300)  # a stroke would have sent the drawing by now
        assert page.locator("#judge-probs .bar").count() == 0 and not page.locator("#judge-seen").get_attribute("src")
        assert errors == []
        page.close()
