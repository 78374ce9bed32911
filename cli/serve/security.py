"""Who may talk to the server: a bearer token beyond loopback, loopback Host names without one, same-origin writes.

Three checks, all in one middleware so no route can forget them:
- with a token (`AIGC_API_TOKEN`, or any named token of `aigc tokens create`), every request except static
  assets and the login page must carry one, as `Authorization: Bearer TOKEN` or as the session cookie the
  login page sets (for people with browsers); the request then speaks for that token's `Caller`
  (`request.state.caller`), whose name goes on the jobs it submits;
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
from aigc.core.tokens import ADMIN, NOBODY, Caller, TokenBook

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
    # The named tokens of the store; None: only AIGC_API_TOKEN (or none) counts.
    book: TokenBook | None = None

    def required(self) -> bool:
        """Whether requests need a token: AIGC_API_TOKEN is set, or the store holds a named token."""
        return self.token is not None or (self.book is not None and self.book.any_token())

    def session_value(self, caller: Caller = ADMIN, key: str | None = None) -> str:
        """What the login cookie holds: a keyed digest, never the token itself. For a named token it is
        the name and a digest keyed by the token's stored sha256, so revoking the token ends the session."""
        if caller.name == ADMIN.name or key is None:
            assert self.token is not None
            return hmac.new(self.token.encode(), b"aigc serve session", hashlib.sha256).hexdigest()
        return f"{caller.name}.{hmac.new(key.encode(), b'aigc serve session', hashlib.sha256).hexdigest()}"

    def _session_caller(self, request: Request) -> Caller | None:
        cookie = request.cookies.get(COOKIE, "")
        if not cookie:
            return None
        if "." not in cookie:
            if self.token is not None and hmac.compare_digest(cookie.encode(), self.session_value().encode()):
                return ADMIN
            return None
        name = cookie.rsplit(".", 1)[0]
        found = self.book.by_name(name) if self.book is not None else None
        if found is None:
            return None
        caller, key = found
        return caller if hmac.compare_digest(cookie.encode(), self.session_value(caller, key).encode()) else None

    def token_caller(self, given: str) -> Caller | None:
        """The caller `given` speaks for: the admin of AIGC_API_TOKEN, a named token's, or None."""
        if self.token is not None and hmac.compare_digest(given.encode(), self.token.encode()):
            return ADMIN
        if self.book is not None and given:
            return self.book.caller(given)
        return None

    def login_cookie(self, caller: Caller) -> str:
        """The session cookie for a caller that just logged in: AIGC_API_TOKEN's, or a named token's."""
        if self.book is None or caller.name is None or caller.name == ADMIN.name:
            return self.session_value()
        found = self.book.by_name(caller.name)
        return self.session_value(caller, found[1] if found else None)

    def check_token(self, request: Request, given: str) -> Response | Caller:
        """The caller if `given` is a token; else the answer (401, or 429 while the address must wait).

        A wrong token counts against the client's address; while it waits no token of its is checked,
        so a guess can be neither confirmed nor refuted.
        """
        address = client_address(request)
        wait_s = self.throttle.wait_s(address)
        if wait_s:
            return throttled(request, address, wait_s)
        caller = self.token_caller(given)
        if caller is not None:
            return caller
        self.throttle.fail(address)
        return _unauthorized()

    def refusal(self, request: Request) -> Response | None:
        """The response that refuses this request, or None to let it through (`request.state.caller` set)."""
        answer = self._answer(request)
        if isinstance(answer, Caller):
            request.state.caller = answer
            return None
        return answer

    def _answer(self, request: Request) -> Response | Caller:
        required = self.required()
        if not required and self.check_host and not is_loopback(_host_name(request.headers.get("host", ""))):
            return PlainTextResponse(
                "this server answers only loopback host names (127.0.0.1, localhost); "
                "to serve other hosts, set AIGC_API_TOKEN",
                status_code=421,
            )
        if request.method not in SAFE_METHODS and _cross_site(request):
            return PlainTextResponse("cross-site request refused", status_code=403)
        path = request.url.path
        if not required:
            return NOBODY
        if path.startswith(OPEN_PATHS):
            return NOBODY if path.startswith("/static/") else Caller(name=None, admin=False)
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            return self.check_token(request, given.strip())
        caller = self._session_caller(request)
        if caller is not None:  # a keyed digest: not worth guessing, not counted
            return caller
        if request.method == "GET" and not path.startswith("/api") and "text/html" in request.headers.get("accept", ""):
            return RedirectResponse(f"/login?next={_quote_path(request)}", status_code=303)
        return _unauthorized()


def _unauthorized() -> Response:
    return PlainTextResponse(
        "missing or wrong token: send 'Authorization: Bearer TOKEN' (AIGC_API_TOKEN, or one of `aigc tokens create`)",
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
