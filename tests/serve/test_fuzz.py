"""Hundreds of malformed requests: wrong types, huge numbers, broken JSON, non-PNG bytes,
oversized bodies, unknown runs and path tricks. Every one gets a 4xx with a one-line
{"error": ...}; none a 5xx; and the server still serves a good request afterwards."""

from __future__ import annotations

import io
import json
import random
import struct
import zlib

import numpy as np
from PIL import Image

BAD_INTS = ["abc", "1.5", "", "1e9", "-1", "0", "257", "99999999999999999999999", "NaN", "inf", "-inf", "0x10",
            "true", "[]", "{}", "null", "9223372036854775808", "-9223372036854775809", "1e400", "%00", "\x00",
            "1_000", "+-1", "--1", "1" * 5000, "٥٥٥٥", " ", "0b1", "2**64"]
BAD_RUNS = ["../", "../../etc/passwd", "/etc/passwd", "..", ".", "runs/../..", "C:\\Windows", "~root", "%2e%2e%2f",
            "\x00", "a" * 300, "a" * 5000, "00000-classic-tiny/..", "00000-classic-tiny/config.json", "☃", "<script>",
            "' OR 1=1 --", "$(rm -rf /)", "samples", "checkpoints"]


def png(width: int, height: int, mode: str = "L") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (width, height)).save(buf, format="PNG")
    return buf.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A PNG signature and an IHDR that claims a huge size, and no pixel data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return b"\x89PNG\r\n\x1a\n" + chunk


def malformed(rng: random.Random, runs) -> list[tuple[str, str, dict]]:
    """(method, path, httpx keyword arguments) for each request."""
    reqs: list[tuple[str, str, dict]] = []
    for value in BAD_INTS:
        for key in ("n", "seed", "digit"):
            reqs.append(("GET", "/api/sample", {"params": {"run": runs.cond, key: value}}))
        for key in ("seed_a", "seed_b", "steps", "digit"):
            reqs.append(("GET", "/api/interpolate", {"params": {"run": runs.classic, key: value}}))
        reqs.append(("GET", "/api/run/grid", {"params": {"run": runs.classic, "epoch": value}}))
    for n in (0, 257, 10**6, -5, 2**70):
        reqs.append(("GET", "/api/sample", {"params": {"n": n}}))
    for digit in (10, 11, 999, 1000, -1):
        reqs.append(("GET", "/api/sample", {"params": {"run": runs.cond, "digit": digit}}))
    reqs.append(("GET", "/api/sample", {"params": {"run": runs.classic, "digit": 1}}))  # unconditional
    for steps in (0, 1, 65, 10**9):
        reqs.append(("GET", "/api/interpolate", {"params": {"steps": steps}}))
    for name in BAD_RUNS:
        for path in ("/api/info", "/api/sample", "/api/interpolate", "/api/game/round", "/api/run/sections",
                     "/api/run/grid"):
            reqs.append(("GET", path, {"params": {"run": name}}))
        reqs.append(("POST", "/api/judge", {"params": {"run": name}, "json": {"pixels": [0] * 784}}))
    for game in ("x" * 65, "\x00", "unknown"):
        reqs.append(("GET", "/api/game/round", {"params": {"game": game}}))
    guesses = ["{", "}", "", "null", "[]", "1", '"real"', '{"game": 1}', '{"game": "a", "round": "b"}',
               '{"game": "a", "round": "b", "guess": "maybe"}', '{"game": "a", "round": "b", "guess": "real"}',
               '{"game": [], "round": {}, "guess": null}', '{"game": "' + "g" * 100 + '", "round": "r", "guess": "fake"}',
               '{"game": "a", "round": "b", "guess": "real"' + ", " * 10 + "}", "\xff\xfe", "NaN", '{"a": ' * 500]
    for body in guesses:
        reqs.append(("POST", "/api/game/guess", {"content": body.encode("utf-8", "surrogatepass"),
                                                  "headers": {"content-type": "application/json"}}))
    pixel_bodies = [[0] * 783, [0] * 785, [256] * 784, [-1] * 784, ["0"] * 784, [None] * 784, [True] * 784,
                    [[0] * 28] * 27, [[0] * 27] * 28, [[0] * 28] * 27 + [[0] * 29], [[[0]] * 28] * 28, "0" * 784,
                    {"a": 1}, 5, None, [], [0] * 784]  # the last is valid but empty
    for pixels in pixel_bodies:
        reqs.append(("POST", "/api/judge", {"json": {"pixels": pixels}}))
    for body in (b"NaN", b'{"pixels": [NaN' + b", NaN" * 783 + b"]}", b'{"pixels": [Infinity' + b", 0" * 783 + b"]}",
                 b'{"pixels": ', b'{"pix": []}', b"[]", b"\xff" * 100, b'{"pixels": [1e400' + b", 0" * 783 + b"]}"):
        reqs.append(("POST", "/api/judge", {"content": body, "headers": {"content-type": "application/json"}}))
    good_png = png(28, 28)
    pngs = [b"", b"GIF89a" + bytes(100), b"\x89PNG\r\n\x1a\n", good_png[:40], good_png[:-12], png(29, 28), png(1, 1),
            png(28, 28, "RGB")[:-20], png_claiming(100_000, 100_000), png_claiming(0, 0), png_claiming(28, 28),
            b"\x89PNG\r\n\x1a\n" + bytes(70_000), bytes(rng.getrandbits(8) for _ in range(3000))]
    flipped = bytearray(png(28, 28, "RGBA"))
    flipped[50] ^= 0xFF
    pngs.append(bytes(flipped))
    for data in pngs:
        reqs.append(("POST", "/api/judge", {"content": data, "headers": {"content-type": "image/png"}}))
    for kind in ("text/plain", "multipart/form-data", "", "image/jpeg", "application/x-www-form-urlencoded"):
        reqs.append(("POST", "/api/judge", {"content": good_png, "headers": {"content-type": kind}}))
    big = b"[" + b"0," * 200_000 + b"0]"
    reqs.append(("POST", "/api/judge", {"content": big, "headers": {"content-type": "application/json"}}))
    reqs.append(("POST", "/api/game/guess", {"content": big, "headers": {"content-type": "application/json"}}))
    for method, path in (("POST", "/api/sample"), ("DELETE", "/api/info"), ("PUT", "/api/judge"), ("GET", "/api/judge"),
                         ("GET", "/api/game/guess"), ("PATCH", "/healthz"), ("GET", "/api/nope"), ("GET", "/api"),
                         ("GET", "/static/"), ("GET", "/static/../../etc/passwd"), ("GET", "/%2e%2e/%2e%2e/etc/passwd"),
                         ("GET", "/static/app.js/../../serve/app.py"), ("GET", "/api/sample/extra")):
        reqs.append((method, path, {}))
    # random garbage in every parameter of every GET route
    routes = {"/api/sample": ("run", "n", "seed", "digit"), "/api/interpolate": ("run", "seed_a", "seed_b", "steps", "digit"),
              "/api/game/round": ("run", "game"), "/api/info": ("run",), "/api/run/grid": ("run", "epoch")}
    alphabet = "0123456789-+.eE_xX/\\%\x00 abc☃"
    while len(reqs) < 650:
        path = rng.choice(list(routes))
        params = {k: "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30))) for k in routes[path]
                  if rng.random() < 0.7}
        reqs.append(("GET", path, {"params": params}))
    return reqs


def test_malformed_requests_get_4xx_json_and_the_server_keeps_serving(client, runs):
    rng = random.Random(0)
    reqs = malformed(rng, runs)
    assert len(reqs) >= 500
    statuses = []
    for method, path, kwargs in reqs:
        r = client.request(method, path, **kwargs)
        statuses.append(r.status_code)
        assert r.status_code < 500, (method, path, kwargs.get("params"), r.status_code, r.text[:200])
        if r.status_code >= 400:
            error = r.json()["error"]
            assert isinstance(error, str) and error and "\n" not in error, (path, error)
    assert sum(400 <= s < 500 for s in statuses) >= 500
    # still serving, correctly
    good = client.get("/api/sample", params={"run": runs.cond, "n": 16, "seed": 1, "digit": 3})
    assert good.status_code == 200 and good.content[:8] == b"\x89PNG\r\n\x1a\n"
    drawing = np.zeros((28, 28), dtype=np.uint8)
    drawing[5:23, 12:16] = 255
    judged = client.post("/api/judge", json={"pixels": drawing.tolist()})
    assert judged.status_code == 200 and judged.json()["d"] is not None
    assert json.loads(client.get("/healthz").text)["ok"] is True
