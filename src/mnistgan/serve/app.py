"""The web app: one offline page and a JSON API over the runs of one folder.

    app = create_app(Path("runs"), Sources(data_dir=Path("../shared/datasets/mnist")))
    uvicorn.run(app, host="127.0.0.1", port=8000)   # what `mnistgan serve runs` does
    create_app(None)                                # the shipped models alone (`mnistgan serve`)

Routes (FastAPI also serves /openapi.json and /docs):
    GET  /                        the page (static/index.html, app.js, style.css: no CDN, no build)
    GET  /healthz                 {"ok": true, "runs": N}
    GET  /api/runs                the runs to choose from: preset, epochs, FID
    GET  /api/info                the model, preset, classes, epochs, metrics, D's threshold
    GET  /api/sample              PNG grid of n samples (seed, digit)
    GET  /api/interpolate         PNG strip: a slerp walk from seed_a to seed_b
    GET  /api/game/round          a real test image or a generated one
    POST /api/game/guess          the truth, D's verdict and the running score
    POST /api/judge               D's score and the evaluator's class probabilities for a drawing
    GET  /api/run/sections        the HTML report's sections (losses, metrics beside the floor, health)
    GET  /api/run/grid            the fixed-noise grid after one epoch (PNG)
Every API route takes `run`, a name from /api/runs (default: the newest run, else the
shipped `pretrained:best`). With a token (serve/auth.py), every route and page needs it.

Bad input is a 4xx with {"error": "..."} naming the problem; model work runs in one
worker thread behind a bounded queue (serve/worker.py), never on the event loop.
"""

from __future__ import annotations

import json
import logging
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from mnistgan.data.sources import Sources
from mnistgan.errors import MnistganError, first_line
from mnistgan.eval.report import render_sections
from mnistgan.pretrained import Shipped
from mnistgan.runfolder import grid_files
from mnistgan.serve.auth import TokenCheck
from mnistgan.serve.catalog import Catalog, summary
from mnistgan.serve.drawing import DrawingError, from_pixels, from_png, mnist_style
from mnistgan.serve.limits import BodyLimit
from mnistgan.serve.play import Games, NotFound, Resources, Served, Unavailable, judge
from mnistgan.serve.worker import Busy, Worker

log = logging.getLogger("mnistgan")

MAX_N = 256  # samples per request
MAX_STEPS = 64  # frames of a latent walk
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_LOADED = 4  # runs kept in memory at once (the least recently used is dropped)
STATIC = {"index.html": "text/html; charset=utf-8", "app.js": "text/javascript; charset=utf-8",
          "style.css": "text/css; charset=utf-8"}
# the report sections the page's "The run" part shows, in order
RUN_SECTIONS = ("health", "losses", "d_outputs", "eval_curves", "metrics", "classes", "conditional")

Seed = Annotated[int, Query(ge=INT64_MIN, le=INT64_MAX, description="any int64; the same seed gives the same digits")]
Digit = Annotated[int | None, Query(ge=0, le=999, description="a class of a conditional model")]
RunName = Annotated[str | None, Query(max_length=255, description="a run's name from /api/runs")]


class Guess(BaseModel):
    game: str = Field(max_length=64)
    round: str = Field(max_length=64)
    guess: Literal["real", "fake"]


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _validation_message(exc: RequestValidationError) -> str:
    """FastAPI's list of problems -> one line: `where: what` for the first (and a count)."""
    errors = exc.errors()
    if not errors:
        return "invalid request"
    first = errors[0]
    where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "body"))
    what = first.get("msg", "invalid")
    if first.get("type") == "json_invalid":
        return f"the body is not valid JSON ({first.get('ctx', {}).get('error', 'parse error')})"
    got = first.get("input")
    got = f", got {got!r:.40}" if isinstance(got, (str, int, float)) and where else ""
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where or 'request'}: {what}{got}{more}"


class State:
    """Everything the routes share: the runs, the loaded models, games and the worker."""

    def __init__(self, catalog: Catalog, sources: Sources, threads: int) -> None:
        self.catalog = catalog
        self.resources = Resources(sources)
        self.games = Games()
        self.worker = Worker(threads)
        self._loaded: dict[str, Served] = {}
        self._sections: dict[tuple[str, float], dict[str, Any]] = {}

    async def served(self, run: str | None) -> Served:
        """The run called `run` (default: the newest), loaded in the worker on first use."""
        name = run if run is not None else self.catalog.default()
        try:
            path = self.catalog.path(name)
        except MnistganError as e:  # a shipped model whose files do not match the manifest
            raise Unavailable(first_line(e)) from None
        if path is None:
            raise ApiError(404, f"unknown run {name[:80]!r} (see /api/runs)")
        served = self._loaded.get(name)  # loaded and current: no trip through the worker's queue
        if served is not None and served.is_current(path):
            return served
        return await self.worker.run(self._load, name, path)

    def _load(self, name: str, path: Path) -> Served:  # in the worker thread: one load at a time
        known = self._loaded.get(name)
        if known is None or not known.is_current(path):  # new, or retrained
            try:
                self._loaded[name] = Served.load(name, path)
            except MnistganError as e:
                raise Unavailable(f"run {name!r} cannot be loaded: {first_line(e)}") from None
            while len(self._loaded) > MAX_LOADED:
                self._loaded.pop(next(iter(self._loaded)))
        self._loaded[name] = self._loaded.pop(name)  # most recently used last
        return self._loaded[name]

    def sections(self, served: Served) -> dict[str, Any]:  # in the worker: the plots take ~1 s
        mtime = max((p.stat().st_mtime for p in (served.path / "metrics.jsonl", served.path / "metrics.json")
                     if p.is_file()), default=0.0)
        key = (served.name, mtime)
        if key not in self._sections:
            try:
                html = render_sections(served.path, RUN_SECTIONS)
            except MnistganError as e:
                raise Unavailable(first_line(e)) from None
            self._sections = {key: {"sections": html, "epochs": list(grid_files(served.path))}}
        return self._sections[key]


def _check_digit(served: Served, digit: int | None) -> None:
    if digit is None:
        return
    if not served.num_classes:
        raise ApiError(422, "digit: this model is unconditional; it cannot draw a chosen digit")
    if digit >= served.num_classes:
        raise ApiError(422, f"digit: must be between 0 and {served.num_classes - 1} for this model, got {digit}")


def _png(data: bytes, **headers: str) -> Response:
    return Response(data, media_type="image/png", headers={"Cache-Control": "no-store", **headers})


def create_app(root: Path | None, sources: Sources = Sources(), threads: int = 1, token: str | None = None,
               shipped: Shipped | None = Shipped()) -> FastAPI:
    """The app over the runs in `root` (a run folder, or a folder of them; None: none) and
    the shipped models (unless `shipped` is None). With a `token`, every request must carry
    it (serve/auth.py)."""
    state = State(Catalog(None if root is None else Path(root), shipped), sources, threads)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        state.worker.close()

    app = FastAPI(title="mnistgan", summary="Play with a trained GAN: samples, latent walks, a real-or-fake "
                  "game against D, and a judge for your own drawings.", lifespan=lifespan)
    app.state.mnistgan = state
    app.add_middleware(BodyLimit)
    if token is not None:
        app.add_middleware(TokenCheck, token=token)  # added last, so it runs first

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(422, _validation_message(exc))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        messages = {404: f"not found: {request.url.path[:80]}", 405: f"method {request.method} not allowed here"}
        return _error(exc.status_code, messages.get(exc.status_code, str(exc.detail)))

    handlers = {ApiError: lambda e: (e.status, str(e)), DrawingError: lambda e: (422, f"drawing: {e}"),
                NotFound: lambda e: (404, str(e)), Unavailable: lambda e: (409, str(e)),
                Busy: lambda e: (503, str(e)), MnistganError: lambda e: (422, first_line(e))}
    for kind, reply in handlers.items():
        async def handle(request: Request, exc: Exception, reply=reply) -> JSONResponse:  # reply bound per kind
            return _error(*reply(exc))
        app.add_exception_handler(kind, handle)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:  # a bug: logged, still JSON
        log.exception("unexpected error in %s", request.url.path)
        return _error(500, f"internal error ({type(exc).__name__})")

    # --- the page ----------------------------------------------------------------

    def static(name: str) -> Response:
        body = resources.files("mnistgan.serve").joinpath("static", name).read_bytes()
        return Response(body, media_type=STATIC[name])

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> Response:
        return static("index.html")

    @app.get("/static/{name}", include_in_schema=False)
    async def static_file(name: str) -> Response:
        if name not in STATIC or name == "index.html":  # a fixed list: no client text reaches the filesystem
            raise ApiError(404, f"not found: /static/{name[:80]}")
        return static(name)

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"ok": True, "runs": len(state.catalog.names())}

    # --- the API -----------------------------------------------------------------

    @app.get("/api/runs")
    async def runs() -> dict[str, Any]:
        found = state.catalog.refresh()
        return {"runs": [summary(name, path) for name, path in found.items()], "default": state.catalog.default()}

    @app.get("/api/info")
    async def info(run: RunName = None) -> dict[str, Any]:
        return (await state.served(run)).info

    @app.get("/api/sample", response_class=Response, responses={200: {"content": {"image/png": {}}}})
    async def sample(run: RunName = None, n: Annotated[int, Query(ge=1, le=MAX_N)] = 64, seed: Seed = 0,
                     digit: Digit = None) -> Response:
        """A PNG grid of n samples (16 per row above 100); header X-Seed echoes the seed."""
        served = await state.served(run)
        _check_digit(served, digit)
        return _png(await state.worker.run(served.sample_png, n, seed, digit), **{"X-Seed": str(seed)})

    @app.get("/api/interpolate", response_class=Response, responses={200: {"content": {"image/png": {}}}})
    async def interpolate(run: RunName = None, seed_a: Seed = 0, seed_b: Seed = 1,
                          steps: Annotated[int, Query(ge=2, le=MAX_STEPS)] = 10, digit: Digit = None) -> Response:
        """A PNG strip of `steps` images along the great circle from seed_a's z to seed_b's."""
        served = await state.served(run)
        _check_digit(served, digit)
        return _png(await state.worker.run(served.interpolate_png, seed_a, seed_b, steps, digit))

    @app.get("/api/game/round")
    async def game_round(run: RunName = None, game: Annotated[str | None, Query(max_length=64)] = None) -> dict[str, Any]:
        """A new round: a real test image or a generated one (even odds); `game` keeps the score."""
        served = await state.served(run)
        return await state.worker.run(state.games.new_round, served, state.resources, game)

    @app.post("/api/game/guess")
    async def game_guess(body: Guess) -> dict[str, Any]:
        """Reveal the truth, D's verdict at its threshold, and the running score of person and D."""
        return state.games.guess(body.game, body.round, body.guess)

    @app.post("/api/judge", openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": {"type": "object", "properties": {"pixels": {
            "type": "array", "description": "784 values 0..255 (or 28 rows of 28), 0 = background"}}}},
        "image/png": {"schema": {"type": "string", "format": "binary", "description": "28x28, at most 64 KB"}}}}})
    async def judge_drawing(request: Request, run: RunName = None) -> dict[str, Any]:
        """D's score and the evaluator's class probabilities for a drawing, made MNIST-style
        (fitted to 20x20, centred by mass) first."""
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        body = await request.body()
        if kind == "image/png":
            image = from_png(body)
        elif kind == "application/json":
            try:
                data = json.loads(body)
            except (ValueError, UnicodeDecodeError) as e:
                raise ApiError(422, f"the body is not valid JSON ({first_line(e, 80)})") from None
            if not isinstance(data, dict) or "pixels" not in data:
                raise ApiError(422, 'the body must be an object {"pixels": [784 values 0..255]}')
            image = from_pixels(data["pixels"])
        else:
            raise ApiError(415, 'send application/json {"pixels": [...]} or an image/png of 28x28')
        served = await state.served(run)
        return await state.worker.run(lambda: judge(served, state.resources, mnist_style(image)))

    @app.get("/api/run/sections")
    async def run_sections(run: RunName = None) -> dict[str, Any]:
        """The HTML report's sections for this run (HTML fragments), and the epochs that have a grid."""
        served = await state.served(run)
        return await state.worker.run(state.sections, served)

    @app.get("/api/run/grid", response_class=Response, responses={200: {"content": {"image/png": {}}}})
    async def run_grid(run: RunName = None, epoch: Annotated[int, Query(ge=0, le=999_999)] = 1) -> Response:
        """The fixed-noise grid saved after `epoch` (one of /api/run/sections' epochs)."""
        served = await state.served(run)
        path = grid_files(served.path).get(epoch)  # from the folder's listing, by number
        if path is None:
            raise ApiError(404, f"epoch: run {served.name!r} has no grid for epoch {epoch}")
        return _png(path.read_bytes())

    return app
