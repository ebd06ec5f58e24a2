"""The web app's JSON API as a client meets it, on a classic and a conditional run:
seeded PNGs that match the generator, the game's truth and score, judging a drawing,
the run's report sections, and bad input refused in one line."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from mnistgan.images import make_grid
from mnistgan.pretrained import Shipped
from mnistgan.runfolder import read_best
from mnistgan.sample import load_discriminator, load_generator, sample_uint8
from mnistgan.serve.play import slerp
from mnistgan.tensors import as_input


def png_array(data: bytes) -> np.ndarray:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return np.asarray(Image.open(io.BytesIO(data)).convert("L"))


def test_runs_info_and_health(client, runs):
    shipped = [f"pretrained:{n}" for n in Shipped().names()]  # listed after the user's runs
    assert client.get("/healthz").json() == {"ok": True, "runs": 2 + len(shipped)}
    listed = client.get("/api/runs").json()
    assert [r["name"] for r in listed["runs"]] == [runs.classic, runs.cond, *shipped] and listed["default"] == runs.cond
    assert [r["pretrained"] for r in listed["runs"]] == [False, False, *[True] * len(shipped)]
    first = listed["runs"][0]
    assert first["preset"] == "classic" and first["epochs"] == 2 and first["fid"] > 0
    info = client.get("/api/info", params={"run": runs.classic}).json()
    assert info["conditional"] is False and info["z_dim"] == 64 and info["discriminator"] is True
    assert info["d_score"] == {"name": "probability real", "threshold": 0.5}
    best_epoch = read_best(runs.root / runs.classic)["epoch"]  # the light evaluation's pick
    assert info["generator"] == "generator-best.safetensors" and info["generator_epoch"] == best_epoch
    for path in ("/api/runs", f"/api/info?run={runs.classic}"):
        assert str(runs.root.parent) not in client.get(path).text  # no server paths in answers
    cond = client.get("/api/info").json()  # the default: the newest run
    assert cond["name"] == runs.cond and cond["conditional"] is True and cond["classes"] == [str(i) for i in range(10)]
    schema = client.get("/openapi.json").json()
    assert {"/api/sample", "/api/interpolate", "/api/game/round", "/api/game/guess", "/api/judge"} <= set(schema["paths"])
    assert client.get("/docs").status_code == 200


def test_sample_is_the_generators_grid_for_the_seed(client, runs):
    G = load_generator(runs.root / runs.classic)
    r = client.get("/api/sample", params={"run": runs.classic, "n": 9, "seed": 5})
    assert r.status_code == 200 and r.headers["content-type"] == "image/png" and r.headers["x-seed"] == "5"
    assert np.array_equal(png_array(r.content), make_grid(sample_uint8(G, 9, seed=5), nrow=3))
    again = client.get("/api/sample", params={"run": runs.classic, "n": 9, "seed": 5}).content
    other = client.get("/api/sample", params={"run": runs.classic, "n": 9, "seed": 6}).content
    assert again == r.content and other != r.content
    big = client.get("/api/sample", params={"run": runs.classic, "n": 256, "seed": -(2**63)})
    assert big.status_code == 200 and png_array(big.content).shape == (16 * 30 + 2, 16 * 30 + 2)


def test_a_digit_draws_that_class_and_an_unconditional_model_refuses(client, runs):
    G = load_generator(runs.root / runs.cond)
    r = client.get("/api/sample", params={"run": runs.cond, "n": 4, "seed": 1, "digit": 7})
    assert np.array_equal(png_array(r.content), make_grid(sample_uint8(G, 4, seed=1, digit=7), nrow=2))
    bad = client.get("/api/sample", params={"run": runs.cond, "digit": 10})
    assert bad.status_code == 422 and bad.json() == {"error": "digit: must be between 0 and 9 for this model, got 10"}
    unc = client.get("/api/sample", params={"run": runs.classic, "digit": 3})
    assert unc.status_code == 422 and "unconditional" in unc.json()["error"]


def test_interpolation_walks_from_one_seed_to_the_other(client, runs):
    G = load_generator(runs.root / runs.classic)
    r = client.get("/api/interpolate", params={"run": runs.classic, "seed_a": 3, "seed_b": 4, "steps": 5})
    strip = png_array(r.content)
    assert strip.shape == (32, 5 * 30 + 2)
    tiles = [strip[2:30, 2 + 30 * i : 30 + 30 * i] for i in range(5)]
    assert np.array_equal(tiles[0], sample_uint8(G, 1, seed=3)[0])
    assert np.abs(tiles[-1].astype(int) - sample_uint8(G, 1, seed=4)[0]).max() <= 1  # slerp's end, to rounding
    a, b = torch.randn(8), torch.randn(8)
    path = slerp(a, b, 7)
    assert torch.allclose(path[0], a, atol=1e-5) and torch.allclose(path[-1], b, atol=1e-5)
    assert torch.allclose(path[3].norm(), (a.norm() + b.norm()) / 2, rtol=0.2)  # stays near the shell, not the middle


@pytest.mark.parametrize("which", ["classic", "cond"])
def test_the_game_keeps_the_truth_and_the_score(client, runs, which):
    name = getattr(runs, which)
    D = load_discriminator(runs.root / name)
    client.app.state.mnistgan.games.rng = np.random.default_rng(0)  # a seeded coin: both kinds in 12 rounds
    game, truths, rights, d_rights = None, [], 0, 0
    for i in range(12):
        r = client.get("/api/game/round", params={"run": name, **({"game": game} if game else {})}).json()
        game = r["game"]
        image = png_array(__import__("base64").b64decode(r["image"].split(",", 1)[1]))
        assert image.shape == (28, 28)
        guess = "real" if i % 2 else "fake"
        out = client.post("/api/game/guess", json={"game": game, "round": r["round"], "guess": guess}).json()
        truths.append(out["truth"])
        rights += out["correct"]
        assert out["correct"] == (guess == out["truth"])
        # D's verdict is D's own score on the image shown, at BCE's threshold
        label = torch.tensor([out["label"] if out["label"] is not None else 0])
        prob = torch.sigmoid(D(as_input(torch.from_numpy(image[None].copy())), label if D.num_classes else None)).item()
        assert out["d"]["score"] == pytest.approx(prob, abs=1e-5)
        assert out["d"]["verdict"] == ("real" if prob > 0.5 else "fake")
        assert out["d"]["correct"] == (out["d"]["verdict"] == out["truth"])
        d_rights += out["d"]["correct"]
        assert out["score"]["rounds"] == i + 1 and out["score"]["person"] == rights and out["score"]["d"] == d_rights
    assert set(truths) == {"real", "fake"}
    again = client.post("/api/game/guess", json={"game": game, "round": r["round"], "guess": "real"})
    assert again.status_code == 404 and "already answered" in again.json()["error"]


def test_a_generated_round_shows_a_sample_of_the_model(client, runs, monkeypatch):
    """A fake round's image is G's sample; a real one is a test image."""
    from mnistgan.data.sources import load_split

    test = load_split("tiny", "test", runs.sources).images.numpy()
    seen = {"real": 0, "fake": 0}
    for _ in range(10):
        r = client.get("/api/game/round", params={"run": runs.classic}).json()
        image = png_array(__import__("base64").b64decode(r["image"].split(",", 1)[1]))
        truth = client.post("/api/game/guess", json={"game": r["game"], "round": r["round"], "guess": "real"}).json()["truth"]
        in_test = any(np.array_equal(image, t) for t in test)
        assert in_test == (truth == "real")
        seen[truth] += 1


def test_judge_a_drawing_as_json_or_png(client, runs):
    pixels = np.zeros((28, 28), dtype=np.uint8)
    pixels[4:7, 6:22] = 255  # the tiny dataset's digits are bars: this is a bar
    r = client.post("/api/judge", params={"run": runs.classic}, json={"pixels": pixels.tolist()})
    assert r.status_code == 200
    out = r.json()
    assert len(out["probabilities"]) == 10 and sum(out["probabilities"]) == pytest.approx(1, abs=1e-6)
    assert out["d"]["verdict"] in ("real", "fake") and 0 <= out["d"]["score"] <= 1
    seen = np.asarray(out["pixels"], dtype=np.uint8).reshape(28, 28)
    ys, xs = np.nonzero(seen)
    assert xs.max() - xs.min() + 1 == 20  # fitted to MNIST's 20-pixel box
    buf = io.BytesIO()
    Image.fromarray(255 - pixels).save(buf, format="PNG")  # dark ink on white paper: inverted
    png = client.post("/api/judge", params={"run": runs.classic}, content=buf.getvalue(),
                      headers={"content-type": "image/png"}).json()
    assert png["pixels"] == out["pixels"] and png["d"] == out["d"]
    cond = client.post("/api/judge", params={"run": runs.cond}, json={"pixels": pixels.reshape(-1).tolist()}).json()
    assert cond["d_label"] == int(np.argmax(cond["probabilities"]))  # a conditional D judges it as that class


def test_the_run_sections_come_from_the_report(client, runs):
    r = client.get("/api/run/sections", params={"run": runs.classic}).json()
    assert r["epochs"] == [1, 2]
    sections = r["sections"]
    assert '<section id="health">' in sections["health"] and '<section id="losses">' in sections["losses"]
    assert "Metrics during training" in sections["eval_curves"] and sections["conditional"] == ""
    grid = client.get("/api/run/grid", params={"run": runs.classic, "epoch": 2})
    assert grid.content == (runs.root / runs.classic / "samples" / "epoch_0002.png").read_bytes()
    missing = client.get("/api/run/grid", params={"run": runs.classic, "epoch": 3})
    assert missing.status_code == 404 and "no grid for epoch 3" in missing.json()["error"]


@pytest.mark.parametrize("name", ["../00000-classic-tiny", "/etc/passwd", "..", ".", "00000-classic-tiny/../..",
                                  "%2e%2e%2f", "~", "", "samples", "00000-classic-tiny/config.json"])
def test_only_listed_runs_by_name(client, name):
    r = client.get("/api/info", params={"run": name})
    assert r.status_code == 404 and r.json()["error"].startswith("unknown run")


@pytest.mark.parametrize("path", ["/static/../app.py", "/static/%2e%2e/app.py", "/static/..%2fapp.py",
                                  "/static/catalog.py", "/static//etc/passwd", "/../../etc/passwd"])
def test_static_files_are_a_fixed_list(client, path):
    r = client.get(path)
    assert r.status_code == 404 and "error" in r.json()


def test_the_page_and_its_files_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    for name, kind in (("app.js", "javascript"), ("style.css", "text/css")):
        assert f"/static/{name}" in page.text
        r = client.get(f"/static/{name}")
        assert r.status_code == 200 and kind in r.headers["content-type"]
    assert "http" not in page.text.replace("http-equiv", "")  # nothing from a CDN: works offline


def test_bodies_over_256_kb_are_refused(client, runs):
    big = b'{"pixels": [' + b"0," * 140_000 + b"0]}"
    r = client.post("/api/judge", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json() == {"error": "the request body is larger than 256 KB"}

    def chunks():  # no Content-Length: counted as it arrives
        for _ in range(40):
            yield b"x" * 10_000

    r = client.post("/api/judge", content=chunks(), headers={"content-type": "image/png"})
    assert r.status_code == 413
    assert client.get("/healthz").status_code == 200


def test_serve_binds_loopback_by_default_and_warns_without_a_token_elsewhere(runs, monkeypatch, capsys, caplog):
    """`mnistgan serve` binds 127.0.0.1 by default; on any other host --no-token warns."""
    import uvicorn

    from mnistgan.cli import main

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append(kw))
    assert main(["serve", str(runs.root), "--data-dir", str(runs.sources.data_dir)]) == 0
    assert calls[-1]["host"] == "127.0.0.1" and calls[-1]["port"] == 8000
    assert "serving 2 run(s)" in capsys.readouterr().out and "authentication" not in caplog.text
    assert main(["serve", str(runs.root / runs.cond), "--host", "0.0.0.0", "--port", "9000", "--no-token"]) == 0
    assert calls[-1]["host"] == "0.0.0.0" and "--no-token: anyone who can reach this address" in caplog.text
    assert main(["serve", str(runs.root.parent / "data")]) == 2
    assert "no run folders here" in capsys.readouterr().err
    assert main(["serve", str(runs.root.parent / "nowhere")]) == 2
    assert "no such folder" in capsys.readouterr().err
    assert main(["serve", str(runs.root), "--port", "70000"]) == 2


def test_a_weights_only_run_without_data_or_evaluator_says_what_is_missing(runs, tmp_path):
    """No checkpoints (so no D), no dataset and no evaluator: the app still samples, and
    the game and the judge say, in one line, what they lack."""
    import shutil

    from fastapi.testclient import TestClient

    from mnistgan.data.sources import Sources
    from mnistgan.serve.app import create_app

    run = tmp_path / "runs" / "weights-only"
    run.mkdir(parents=True)
    for name in ("config.json", "generator.safetensors", "metrics.jsonl"):
        shutil.copy(runs.root / runs.classic / name, run / name)
    app = create_app(tmp_path / "runs", Sources(data_dir=tmp_path / "no-data", cache_dir=tmp_path / "empty-cache"))
    with TestClient(app, raise_server_exceptions=False) as c:
        assert c.get("/api/info").json()["discriminator"] is False
        assert c.get("/api/sample", params={"n": 4}).status_code == 200
        game = c.get("/api/game/round")
        assert game.status_code == 409 and "test split is not available" in game.json()["error"]
        judged = c.post("/api/judge", json={"pixels": [0] * 400 + [255] * 20 + [0] * 364}).json()
        assert judged["d"] is None and "no discriminator" in judged["d_missing"]
        assert judged["probabilities"] is None and "mnistgan evaluator build --dataset tiny" in judged["evaluator_missing"]


def test_a_new_best_generator_is_served_without_a_restart(runs, tmp_path):
    import os
    import shutil

    from fastapi.testclient import TestClient

    from mnistgan.serve.app import create_app

    run = tmp_path / "run"
    shutil.copytree(runs.root / runs.classic, run)
    with TestClient(create_app(run, runs.sources), raise_server_exceptions=False) as c:
        before = c.get("/api/sample", params={"n": 4}).content
        assert c.get("/api/sample", params={"n": 4}).content == before
        best = run / "generator-best.safetensors"
        shutil.copy(runs.root / runs.cond / "generator-best.safetensors", best)  # as if training kept a new best
        os.utime(best, (best.stat().st_mtime + 5, best.stat().st_mtime + 5))
        assert c.get("/api/info").json()["conditional"] is True
        assert c.get("/api/sample", params={"n": 4}).content != before


def test_a_run_copied_without_checkpoints_says_what_it_has(runs, tmp_path):
    """The issue's case in the web app: the best generator and its light-evaluation FID are
    known from generator-best.safetensors and metrics.jsonl; D's absence names checkpoints/."""
    import json
    import shutil

    from fastapi.testclient import TestClient

    from mnistgan.serve.app import create_app

    source = runs.root / runs.classic
    shutil.copytree(source, tmp_path / "runs" / runs.classic, ignore=shutil.ignore_patterns("checkpoints"))
    best = json.loads((source / "checkpoints" / "best.json").read_text())
    with TestClient(create_app(tmp_path / "runs", runs.sources), raise_server_exceptions=False) as c:
        info = c.get("/api/info").json()
        assert info["generator"] == "generator-best.safetensors" and info["best"] == best
        assert info["fid"] == best["fid_lenet"] and info["fid_from"] == f"light evaluation, epoch {best['epoch']}"
        assert info["discriminator"] is False and "checkpoints/" in info["d_missing"]
        health = c.get("/api/run/sections").json()
        text = json.dumps(health)
        assert f"epoch {best['epoch']}" in text and "was off" not in text


def test_serve_without_runs_serves_the_shipped_models_and_refuses_a_tampered_one(tmp_path):
    import shutil

    from fastapi.testclient import TestClient

    from mnistgan import pretrained
    from mnistgan.serve.app import create_app

    root = tmp_path / "pretrained"
    shutil.copytree(pretrained.ROOT, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    with TestClient(create_app(None, shipped=Shipped(root)), raise_server_exceptions=False) as c:
        listed = c.get("/api/runs").json()
        assert listed["default"] == "pretrained:best" and all(r["pretrained"] for r in listed["runs"])
        assert png_array(c.get("/api/sample", params={"n": 4, "digit": 7}).content).shape == (62, 62)  # 2 x 2
        assert c.get("/api/info").json()["discriminator"] is True  # the shipped D, for the game
        weights = root / "classic" / pretrained.GENERATOR
        weights.write_bytes(weights.read_bytes()[:-1] + b"\0")
        refused = c.get("/api/sample", params={"run": "pretrained:classic"})
        assert refused.status_code == 409 and "does not match its sha256" in refused.json()["error"]
