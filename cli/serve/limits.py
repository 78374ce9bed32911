"""What one client may send: request bodies up to a size, and wrong tokens at a pace.

- `BodyLimit` refuses a body over `AIGC_MAX_REQUEST_BYTES` with 413: at once when its Content-Length
  says so, else (a chunked body) as soon as the bytes read pass the limit, before any route sees them.
- `Throttle` counts wrong tokens (the login form, `Authorization: Bearer`) per client address: after
  `limit` in `window_s` seconds the address gets 429 with Retry-After, and no token of its is checked,
  the right one included, until the oldest failure ages out. It lives in the server's memory: a restart
  forgets it, and several server processes count apart.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

from fastapi import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Addresses remembered at most; past it, those whose failures have aged out are forgotten first.
MAX_ADDRESSES = 10_000


class BodyTooLarge(HTTPException):
    """Raised while a route reads a body that passes the limit; the app's HTTP error handler answers it."""

    def __init__(self, limit: int, source: str) -> None:
        super().__init__(413, too_large_message(limit, source))


def too_large_message(limit: int, source: str = "AIGC_MAX_REQUEST_BYTES") -> str:
    return f"request body over {limit} bytes ({source}); send less, or raise the limit"


class BodyLimit:
    """ASGI middleware: no request body over `limit` bytes reaches a route."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, source = self._limit_of(scope)
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, receive, send, limit, source)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit, source)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge:  # read outside a route (the routes' own reads are answered by the handler)
            if started:
                raise
            await self._refuse(scope, receive, send, limit, source)

    def _limit_of(self, scope: Scope) -> tuple[int, str]:
        """The server's limit, or the caller's token's if lower (the guard, outside, named the caller)."""
        caller = scope.get("state", {}).get("caller")
        own = getattr(caller, "max_request_bytes", None)
        if own is not None and own < self.limit:
            return own, f"the limit of token '{caller.name}'"
        return self.limit, "AIGC_MAX_REQUEST_BYTES"

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int, source: str) -> None:
        message = too_large_message(limit, source)
        response: Response
        if scope["path"].startswith("/api"):
            response = JSONResponse({"detail": message}, status_code=413)
        else:
            response = PlainTextResponse(message, status_code=413)
        response.headers["Connection"] = "close"  # the rest of the body is not read
        await response(scope, receive, send)


class Throttle:
    """Wrong tokens per client address, in a sliding window."""

    def __init__(self, limit: int = 5, window_s: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window_s, self.clock = limit, window_s, clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()  # sync routes run in a thread pool

    def wait_s(self, address: str) -> int:
        """Whole seconds `address` must wait before its next token is checked; 0 when it may try now."""
        with self._lock:
            failures = self._recent(address)
            if len(failures) < self.limit:
                return 0
            return max(1, math.ceil(failures[0] + self.window_s - self.clock()))

    def fail(self, address: str) -> None:
        with self._lock:
            self._recent(address).append(self.clock())
            if len(self._failures) > MAX_ADDRESSES:
                self._forget_old()

    def _recent(self, address: str) -> deque[float]:
        failures = self._failures.setdefault(address, deque())
        horizon = self.clock() - self.window_s
        while failures and failures[0] <= horizon:
            failures.popleft()
        return failures

    def _forget_old(self) -> None:
        horizon = self.clock() - self.window_s
        for address in [a for a, f in self._failures.items() if not f or f[-1] <= horizon]:
            del self._failures[address]
        while len(self._failures) > MAX_ADDRESSES:  # all recent: the longest-known go first
            del self._failures[next(iter(self._failures))]


def client_address(request: Request) -> str:
    """The client's address as uvicorn gives it (behind a proxy it trusts, the X-Forwarded-For one)."""
    return request.client.host if request.client else "unknown"


def throttled(request: Request, address: str, wait_s: int) -> Response:
    """The 429 answer to an address that must wait."""
    message = f"too many wrong tokens from {address}; try again in {wait_s} s"
    headers = {"Retry-After": str(wait_s)}
    if request.url.path.startswith("/api"):
        return JSONResponse({"detail": message}, status_code=429, headers=headers)
    return PlainTextResponse(message, status_code=429, headers=headers)
