"""A token on every request, as Jupyter does: `mnistgan serve` on a host other than this
machine's loopback makes one (or takes --token) and prints it in the URL.

An ASGI middleware. The token may come as `?token=` (the printed URL), as the header
`Authorization: token T` (the page's API calls; `Bearer T` too) or as the cookie set when
a page was opened with the right `?token=` (so the page's own script and style sheet, and
/docs, load too). It is compared in constant time. A missing or wrong token gets 401 with
one line of JSON, and nothing of the app.
"""

from __future__ import annotations

import hmac
import json
import re
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qs

TOKEN = re.compile(r"^[A-Za-z0-9_\-.~]{8,256}$")  # safe in a URL, a header and a cookie as it is


def check_token(token: str) -> str:
    """The token, or ValueError saying what a token must be."""
    if not TOKEN.match(token):
        raise ValueError("a token is 8 to 256 characters among letters, digits and - _ . ~")
    return token


class TokenCheck:
    def __init__(self, app: Any, token: str) -> None:
        self.app, self.token = app, check_token(token).encode()

    def _given(self, scope: dict) -> tuple[list[bytes], bool]:
        """The tokens the request carries, and whether one came in the query string."""
        headers = dict(scope.get("headers") or [])
        query = parse_qs((scope.get("query_string") or b"").decode("latin-1")).get("token", [])
        given = [q.encode() for q in query]
        scheme, _, value = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        if scheme.lower() in ("token", "bearer"):
            given.append(value.strip().encode())
        try:
            cookie = SimpleCookie(headers.get(b"cookie", b"").decode("latin-1")).get(self.cookie_name(scope))
        except CookieError:  # a malformed Cookie header carries no token
            cookie = None
        if cookie is not None:
            given.append(cookie.value.encode())
        return given, bool(query)

    @staticmethod
    def cookie_name(scope: dict) -> str:
        """One cookie per port: two servers on one host keep their own tokens."""
        server = scope.get("server") or (None, None)
        return f"mnistgan-token-{server[1] or 0}"

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return await self.app(scope, receive, send)
        given, in_query = self._given(scope)
        # every candidate is compared, so the time taken does not say which one (or how much) matched
        ok = [hmac.compare_digest(g, self.token) for g in given]
        if not any(ok) and scope["type"] != "http":  # a websocket (the app has none): closed unanswered
            await send({"type": "websocket.close", "code": 1008})
            return
        if not any(ok):
            body = json.dumps({"error": "missing or wrong token: open the URL that `mnistgan serve` printed "
                                        "(it ends in ?token=...)"}).encode()
            await send({"type": "http.response.start", "status": 401,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode()),
                                    (b"www-authenticate", b'Token realm="mnistgan"')]})
            await send({"type": "http.response.body", "body": body})
            return
        if not in_query:
            return await self.app(scope, receive, send)
        cookie = (f"{self.cookie_name(scope)}={self.token.decode()}; Path=/; HttpOnly; SameSite=Strict").encode()

        async def with_cookie(message: dict) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"set-cookie", cookie)]}
            await send(message)

        await self.app(scope, receive, with_cookie)
