"""Request bodies of at most 256 KB, checked before they are read into memory.

An ASGI middleware: a declared Content-Length over the limit is refused at once, and a
body sent without one (chunked) is counted as it arrives and refused when it passes the
limit. Either way the reply is 413 with {"error": ...}.
"""

from __future__ import annotations

import json
from typing import Any

MAX_BODY = 256 * 1024


class _TooLarge(Exception):
    pass


class BodyLimit:
    def __init__(self, app: Any, limit: int = MAX_BODY) -> None:
        self.app, self.limit = app, limit

    async def _refuse(self, send: Any, message: str) -> None:
        body = json.dumps({"error": message}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        too_big = f"the request body is larger than {self.limit // 1024} KB"
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            return await self._refuse(send, too_big if declared.isdigit() else "bad Content-Length header")
        received = 0
        started = False

        async def counted() -> dict:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _TooLarge
            return message

        async def tracked(message: dict) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except _TooLarge:
            if not started:
                await self._refuse(send, too_big)
