"""Named API tokens of `aigc serve`: made, checked and limited here, kept (hashed) in the store.

A token is 32 random bytes (256 bits) from `secrets`; the store keeps its sha256 only. A slow password
hash (argon2, bcrypt) protects secrets people choose, which are few enough to try one by one; a
256-bit random token is not, so a plain sha256 is as safe against a stolen database and costs
microseconds per request instead of tens of milliseconds.

`Caller` is who a request speaks for: a named token, the one admin token of AIGC_API_TOKEN, or nobody
(a token-less server on loopback, which trusts the one person on the machine).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from aigc.core.errors import NotAllowed, OverLimit, UsageError, excerpt
from aigc.core.store import Store
from aigc.core.store import tokens as rows
from aigc.core.store.models import Token, utcnow

PREFIX = "aigc_"  # says what a leaked string is, for people and for secret scanners
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$")
ADMIN_NAME = "admin"  # the name of AIGC_API_TOKEN's caller, on the jobs it submits
USED_EVERY_S = 60.0  # last-used times are written at most this often per token: not a write per request


@dataclass(frozen=True)
class Caller:
    """Who a request speaks for, and the limits it is held to (None: no limit of its own)."""

    name: str | None
    admin: bool
    max_queued: int | None = None
    max_request_bytes: int | None = None
    max_n: int | None = None

    def may_change(self, owner: str | None) -> bool:
        """Whether this caller may cancel or re-run a job that the token `owner` submitted."""
        return self.admin or (self.name is not None and owner == self.name)

    def check_owner(self, job_id: int, owner: str | None, action: str) -> None:
        if not self.may_change(owner):
            by = f"token '{owner}'" if owner else "no token (the command line or a worker)"
            raise NotAllowed(
                f"job {job_id} was submitted by {by}; token '{self.name}' may {action} only its own jobs "
                "(an admin token may any)"
            )


NOBODY = Caller(name=None, admin=True)  # a token-less server: everything is the local user's
ADMIN = Caller(name=ADMIN_NAME, admin=True)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise UsageError(
            f"token name {name!r} is not valid; use 1 to 100 letters, digits and _ . @ -, starting with a letter or digit"
        )
    if name == ADMIN_NAME:
        raise UsageError(f"'{ADMIN_NAME}' names the AIGC_API_TOKEN caller; choose another name")
    return name


def create(
    store: Store,
    name: str,
    *,
    admin: bool = False,
    max_queued: int | None = None,
    max_request_bytes: int | None = None,
    max_n: int | None = None,
) -> str:
    """Store a new token under `name` and return it: the only time it is ever seen in full."""
    check_name(name)
    token = PREFIX + secrets.token_urlsafe(32)
    with store.transaction() as session:
        rows.add(
            session,
            name=name,
            digest=digest(token),
            admin=admin,
            max_queued=max_queued,
            max_request_bytes=max_request_bytes,
            max_n=max_n,
        )
    return token


def listed(store: Store) -> list[Token]:
    with store.transaction() as session:
        return list(rows.all_tokens(session))


def revoke(store: Store, name: str) -> None:
    with store.transaction() as session:
        if not rows.revoke(session, name):
            known = ", ".join(t.name for t in rows.all_tokens(session)) or "none"
            raise UsageError(f"no token named '{name}'; tokens: {known}")


class TokenBook:
    """The server's view of the named tokens: who a token is, and whether any exists (then all need one)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._used: dict[str, float] = {}  # name -> when its last-used time was last written
        self._any: tuple[float, bool] = (0.0, False)

    def any_token(self, fresh_s: float = 2.0) -> bool:
        """Whether the store holds a named token; looked up at most every `fresh_s` seconds."""
        checked, answer = self._any
        if time.monotonic() - checked > fresh_s:
            with self.store.transaction() as session:
                answer = rows.any_token(session)
            self._any = (time.monotonic(), answer)
        return answer

    def caller(self, token: str) -> Caller | None:
        """The caller a token speaks for, or None for no (or a revoked) token."""
        with self.store.transaction() as session:
            row = rows.by_digest(session, digest(token))
            if row is None:
                return None
            caller = _caller_of(row)
            now = time.monotonic()
            if now - self._used.get(row.name, -USED_EVERY_S) >= USED_EVERY_S:
                rows.mark_used(session, row.name, utcnow())
                self._used[row.name] = now
        return caller

    def by_name(self, name: str) -> tuple[Caller, str] | None:
        """(caller, stored digest) of the token `name`: what a login cookie is checked against."""
        with self.store.transaction() as session:
            row = rows.by_name(session, name)
            return (_caller_of(row), row.digest) if row is not None else None


def _caller_of(row: Token) -> Caller:
    return Caller(row.name, row.admin, row.max_queued, row.max_request_bytes, row.max_n)


def check_submission(store: Store, caller: Caller, params: dict[str, Any]) -> None:
    """Refuse a job the caller's limits do not allow: too large an `n` (413), too many jobs at once (429)."""
    n = params.get("n")
    if isinstance(n, str) and n.strip().isascii() and n.strip().isdigit():  # `-p n=64` arrives as text
        digits = n.strip()
        n = int(digits) if len(digits) <= 18 else 10**18  # no int() of a million digits
    if caller.max_n is not None and isinstance(n, int) and n > caller.max_n:
        shown = excerpt(params["n"]) if n >= 10**18 else str(n)
        raise OverLimit(
            f"n={shown} is over token '{caller.name}''s limit of {caller.max_n} per job; ask for fewer", 413
        )
    if caller.max_queued is not None and caller.name is not None:
        with store.transaction() as session:
            waiting = rows.unfinished_jobs(session, caller.name)
        if waiting >= caller.max_queued:
            raise OverLimit(
                f"token '{caller.name}' has {waiting} jobs queued or running, its limit; submit again when one ends",
                429,
            )
