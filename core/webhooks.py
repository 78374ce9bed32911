"""Webhooks: the notices of the store's outbox (core/store/notices.py) POSTed, signed, retried.

A job's end writes its notices in the same transaction; a sender thread in every worker, in `aigc serve`
and in a process that just ran a job posts them. A receiver that is down only delays its notices: each
is tried again after a backoff that doubles up to a cap, across restarts (the outbox is in the store).
Sending never touches the job: a webhook can neither delay nor fail it.

Each POST carries `X-Aigc-Timestamp` (Unix seconds) and `X-Aigc-Signature: sha256=<hex>`, the
HMAC-SHA256 of `<timestamp>.<body>` under AIGC_WEBHOOK_SECRET; `verify` is the receiver's recipe.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
import urllib.error
import urllib.request
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from aigc.core.errors import UsageError, first_line

if TYPE_CHECKING:
    from aigc.core.store import Store

log = logging.getLogger("aigc.webhooks")

TIMEOUT_S = 10.0  # one POST; a receiver slower than this counts as down


def check_notify_url(url: str, *, remote: bool) -> None:
    """UsageError unless `url` is an http(s) URL; one sent over the API must also match AIGC_WEBHOOK_ALLOW,
    so no client can make the server call an address only the server can reach."""
    from aigc.core.config import environment

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"notify URL '{url}' is not an http(s) URL with a host")
    if remote and not allowed(url, environment().webhook_allow):
        raise UsageError(
            f"notify URL '{url}' is not allowed; the server accepts URLs under AIGC_WEBHOOK_ALLOW "
            f"({environment().webhook_allow or 'unset: none'})"
        )


def allowed(url: str, allow: str) -> bool:
    """Whether `url` lies under one of the comma-separated prefixes: same scheme, host and port, and a
    path below the prefix's (compared parsed, so https://hooks.example.com.evil.org matches nothing)."""
    target = urlsplit(url)
    for prefix in filter(None, (p.strip() for p in allow.split(","))):
        rule = urlsplit(prefix)
        same_origin = (target.scheme, target.hostname, target.port) == (rule.scheme, rule.hostname, rule.port)
        if same_origin and not target.username and target.path.startswith(rule.path or "/"):
            return True
    return False


def signature(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify(secret: str, timestamp: str, body: bytes, header: str, *, tolerance_s: float = 300.0) -> bool:
    """The receiver's check (docs/operations.md): the signature matches and the timestamp is recent."""
    try:
        fresh = abs(time.time() - int(timestamp)) <= tolerance_s
    except ValueError:
        return False
    return fresh and hmac.compare_digest(signature(secret, timestamp, body), header)


def post(url: str, body: str, secret: str | None, delivery_id: int) -> tuple[int | None, str | None]:
    """One POST: (HTTP status, None) when the receiver answered, (status or None, error) when not."""
    data = body.encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "aigc-webhook",
        "X-Aigc-Delivery": str(delivery_id),
        "X-Aigc-Timestamp": timestamp,
    }
    if secret:
        headers["X-Aigc-Signature"] = signature(secret, timestamp, data)
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310 - http(s) only, checked
            return response.status, None
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code}"
    except urllib.error.URLError as exc:  # refused, unreachable, no such host: the reason alone
        return None, first_line(exc.reason) if isinstance(exc.reason, BaseException) else str(exc.reason)
    except (OSError, ValueError) as exc:
        return None, first_line(exc)


def backoff_s(attempt: int, base_s: float, cap_s: float) -> float:
    """Wait after failed delivery number `attempt` (1-based): base, 2 x base, 4 x base ... up to cap."""
    return float(min(cap_s, base_s * 2 ** min(attempt - 1, 30)))


def send_due(store: Store) -> int:
    """Post every notice that is due once; returns how many were tried."""
    from aigc.core.config import environment
    from aigc.core.store import notices

    env = environment()
    secret = env.webhook_secret.get_secret_value() if env.webhook_secret else None
    tried = 0
    for due in notices.claim_due(store):
        status, error = post(due.url, due.body, secret, due.id)
        ok = status is not None and 200 <= status < 300
        attempt = due.attempts + 1
        retry = (
            None
            if ok or attempt >= env.webhook_attempts
            else backoff_s(attempt, env.webhook_backoff_seconds, env.webhook_backoff_max_seconds)
        )
        state = notices.record_delivery(store, due, http_status=status, error=error, retry_in_s=retry)
        if not ok:
            log.warning("webhook %s attempt %d: %s (%s)", due.url, attempt, error, state)
        tried += 1
    return tried


class Sender(threading.Thread):
    """Sends due notices until stopped: polls the store every `period_s`, or sooner when `wake()`d."""

    def __init__(self, store: Store, period_s: float = 1.0) -> None:
        super().__init__(name="aigc-webhooks", daemon=True)
        self.store, self.period_s = store, period_s
        self._wake = threading.Event()
        self._stop = threading.Event()

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                send_due(self.store)
            except Exception as exc:  # the store blinked: the notices wait for the next round
                log.warning("webhook round failed: %s", first_line(exc))
            self._wake.wait(self.period_s)
            self._wake.clear()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()


_senders: dict[str, Sender] = {}
_lock = threading.Lock()


def sender_for(store: Store) -> Sender:
    """This process's sender for the store's database, started on first use."""
    key = store.settings.database_url
    with _lock:
        sender = _senders.get(key)
        if sender is None or not sender.is_alive():
            sender = _senders[key] = Sender(store)
            sender.start()
    return sender


def stop_senders() -> None:
    """Stop this process's senders (a test's store is about to go away); the next `sender_for` starts anew."""
    with _lock:
        for sender in _senders.values():
            sender.stop()
        _senders.clear()


def first_tries(store: Store, job_id: int, timeout_s: float = 5.0) -> None:
    """Wait (at most `timeout_s`) until each notice of the job was tried once: a command that ran the job
    in its own process is about to exit, and would take its sender thread with it. The job has ended
    already; a notice still pending goes out with the next aigc process that sends (a worker, a server)."""
    from aigc.core.store import notices

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with store.transaction() as session:
            if notices.untried(session, job_id) == 0:
                return
        time.sleep(0.05)
