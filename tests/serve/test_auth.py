"""The token (as Jupyter's): on a non-loopback host every page and API call needs it; a
missing or wrong one gets 401 and one line of JSON, nothing of the app."""

from __future__ import annotations

import re

import pytest

TOKEN = "s3cret-token_for.tests~1"


@pytest.fixture(scope="module")
def guarded(runs):
    from fastapi.testclient import TestClient

    from mnistgan.serve.app import create_app

    with TestClient(create_app(runs.root, runs.sources, token=TOKEN), raise_server_exceptions=False) as c:
        yield c


PATHS = ["/", "/static/app.js", "/static/style.css", "/healthz", "/api/runs", "/api/info", "/api/sample?n=4",
         "/api/interpolate", "/api/game/round", "/api/run/sections", "/docs", "/openapi.json", "/no-such-page"]


@pytest.mark.parametrize("path", PATHS)
def test_without_the_right_token_every_path_is_401_and_nothing_else(guarded, path):
    for headers in ({}, {"Authorization": "token wrong-token-123"}, {"Authorization": f"token {TOKEN}x"},
                    {"Authorization": "token "}, {"Cookie": "mnistgan-token-80=wrong-token-123"}):
        guarded.cookies.clear()
        r = guarded.get(path, headers=headers)
        assert r.status_code == 401 and r.headers["content-type"] == "application/json"
        assert set(r.json()) == {"error"} and "token" in r.json()["error"] and "set-cookie" not in r.headers
    guarded.cookies.clear()
    assert guarded.get(path + ("&" if "?" in path else "?") + "token=" + TOKEN[:-1]).status_code == 401
    assert guarded.post("/api/judge", json={"pixels": [0] * 784}).status_code == 401
    assert guarded.post("/api/game/guess", json={"game": "g", "round": "r", "guess": "real"}).status_code == 401


def test_the_token_opens_the_page_and_its_cookie_loads_the_rest(guarded, runs):
    guarded.cookies.clear()
    page = guarded.get(f"/?token={TOKEN}")
    assert page.status_code == 200 and "<script" in page.text
    cookie = page.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert guarded.get("/static/app.js").status_code == 200  # the browser sends the cookie back
    assert guarded.get("/docs").status_code == 200
    guarded.cookies.clear()
    auth = {"Authorization": f"token {TOKEN}"}  # what the page's script sends on each API call
    assert guarded.get("/api/runs", headers=auth).json()["default"] == runs.cond
    assert guarded.get("/api/sample", params={"n": 4}, headers=auth).headers["content-type"] == "image/png"
    assert guarded.get("/api/runs", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert guarded.get("/api/runs", params={"token": TOKEN}).status_code == 200


def test_serve_makes_a_token_on_a_non_loopback_host_and_prints_it(runs, monkeypatch, capsys, caplog):
    import uvicorn
    from fastapi.testclient import TestClient

    from mnistgan.cli import main

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    assert main(["serve", str(runs.root), "--host", "0.0.0.0", "--data-dir", str(runs.sources.data_dir)]) == 0
    url = re.search(r"http://0\.0\.0\.0:8000/\?token=(\S+)", capsys.readouterr().out)
    assert url and len(url.group(1)) >= 40 and "no authentication" not in caplog.text
    with TestClient(calls[-1][0]) as c:
        assert c.get("/api/runs").status_code == 401
        assert c.get("/api/runs", params={"token": url.group(1)}).status_code == 200
    assert main(["serve", str(runs.root), "--host", "0.0.0.0"]) == 0  # a new token each start
    assert url.group(1) not in capsys.readouterr().out
    assert main(["serve", str(runs.root), "--token", TOKEN]) == 0  # on loopback, only when asked
    assert f"?token={TOKEN}" in capsys.readouterr().out
    with TestClient(calls[-1][0]) as c:
        assert c.get("/healthz").status_code == 401
    assert main(["serve", str(runs.root)]) == 0
    assert "token" not in capsys.readouterr().out
    with TestClient(calls[-1][0]) as c:
        assert c.get("/healthz").status_code == 200
    assert main(["serve", str(runs.root), "--token", "short"]) == 2
    assert "--token: a token is 8 to 256 characters" in capsys.readouterr().err
    assert main(["serve", str(runs.root), "--token", TOKEN, "--no-token"]) == 2
