"""Who may talk to the server: a bearer token beyond loopback, loopback Host names without one, same-origin writes.

Three checks, all in one middleware so no route can forget them:
- with a token (`AIGC_API_TOKEN`), every request except static assets and the login page must carry it,
  as `Authorization: Bearer TOKEN` or as the session cookie the login page sets (for people with browsers);
- without a token the server only answers Host names of the loopback interface, so a web page on another
  site cannot read it through DNS rebinding;
- a write (POST) whose Origin or Sec-Fetch-Site says it came from another site is refused (CSRF);
- an address that keeps sending wrong tokens waits (429, `limits.Throttle`), here and at /login.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from aigc.cli.serve.limits import Throttle, client_address, throttled

COOKIE = "aigc_session"
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
# Reachable without a token: assets that reveal nothing, and the form that asks for the token.
OPEN_PATHS = ("/static/", "/login")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def is_loopback(host: str) -> bool:
    """True for an address or name that only this machine can reach."""
    name = host.strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Guard:
    token: str | None = None
    # Off only for in-process test clients that speak as "testserver"; `aigc serve` always checks.
    check_host: bool = True
    throttle: Throttle = field(default_factory=Throttle)

    def session_value(self) -> str:
        """What the login cookie holds: a keyed digest of the token, never the token itself."""
        assert self.token is not None
        return hmac.new(self.token.encode(), b"aigc serve session", hashlib.sha256).hexdigest()

    def _session_cookie_matches(self, request: Request) -> bool:
        cookie = request.cookies.get(COOKIE, "")
        return bool(cookie) and hmac.compare_digest(cookie.encode(), self.session_value().encode())

    def token_matches(self, given: str) -> bool:
        return self.token is not None and hmac.compare_digest(given.encode(), self.token.encode())

    def check_token(self, request: Request, given: str) -> Response | None:
        """None if `given` is the token; else the answer (401, or 429 while the address must wait).

        A wrong token counts against the client's address; while it waits no token of its is checked,
        so a guess can be neither confirmed nor refuted.
        """
        address = client_address(request)
        wait_s = self.throttle.wait_s(address)
        if wait_s:
            return throttled(request, address, wait_s)
        if self.token_matches(given):
            return None
        self.throttle.fail(address)
        return _unauthorized()

    def refusal(self, request: Request) -> Response | None:
        """The response that refuses this request, or None to let it through."""
        if self.token is None and self.check_host and not is_loopback(_host_name(request.headers.get("host", ""))):
            return PlainTextResponse(
                "this server answers only loopback host names (127.0.0.1, localhost); "
                "to serve other hosts, set AIGC_API_TOKEN",
                status_code=421,
            )
        if request.method not in SAFE_METHODS and _cross_site(request):
            return PlainTextResponse("cross-site request refused", status_code=403)
        path = request.url.path
        if self.token is None or path.startswith(OPEN_PATHS):
            return None
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            return self.check_token(request, given.strip())
        if self._session_cookie_matches(request):  # a keyed digest: not worth guessing, not counted
            return None
        if request.method == "GET" and not path.startswith("/api") and "text/html" in request.headers.get("accept", ""):
            return RedirectResponse(f"/login?next={_quote_path(request)}", status_code=303)
        return _unauthorized()


def _unauthorized() -> Response:
    return PlainTextResponse(
        "missing or wrong token: send 'Authorization: Bearer <AIGC_API_TOKEN>'",
        status_code=401,
        headers={"WWW-Authenticate": "Bearer"},
    )


def _host_name(host_header: str) -> str:
    """The name part of a Host header: 'localhost:8000' -> 'localhost', '[::1]:8000' -> '::1'."""
    if host_header.startswith("["):
        return host_header[1 : host_header.find("]")] if "]" in host_header else host_header
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


def _cross_site(request: Request) -> bool:
    if request.headers.get("sec-fetch-site") == "cross-site":
        return True
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin == "null"
    return urlsplit(origin).netloc.lower() != request.headers.get("host", "").lower()


def _quote_path(request: Request) -> str:
    from urllib.parse import quote

    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return quote(target, safe="")


_LOCAL_PATH = re.compile(r"/(?![/\\])[A-Za-z0-9/_.~%?=&+-]*")


def safe_next(target: str | None) -> str:
    """Where to go after logging in: only a plain path on this server, never another site.

    Browsers drop tabs and newlines and read a backslash as a slash, so anything but plain path
    characters is refused rather than cleaned.
    """
    return target if target and _LOCAL_PATH.fullmatch(target) else "/jobs"
