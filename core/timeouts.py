"""Job timeouts: the attempts running in this process, and which of them ran past their limit.

A job with a timeout ends `failed` ("timed out after 2h") at its first progress point past the limit
(JobContext raises JobTimedOut). A plugin that never reaches one cannot be stopped from inside: a
worker's heartbeat asks `overdue()` and, once a job is past its limit plus a grace period, records it
failed and ends its own process, which the supervisor (`aigc worker`) starts again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aigc.core.durations import format_duration

if TYPE_CHECKING:
    from aigc.core.store import Store
    from aigc.core.store.lifecycle import Claim


@dataclass(frozen=True)
class Watched:
    store: Store
    claim: Claim
    timeout_s: float
    deadline: float  # time.monotonic() at which the attempt's time is up


_running: dict[tuple[int, int], Watched] = {}
_lock = threading.Lock()


def message(timeout_s: float) -> str:
    return f"timed out after {format_duration(timeout_s)}"


@contextmanager
def watch(store: Store, claim: Claim, timeout_s: float | None) -> Iterator[float | None]:
    """Register the attempt while it runs; yields its deadline (monotonic), None without a timeout."""
    if timeout_s is None:
        yield None
        return
    key = (claim.job_id, claim.attempt)
    entry = Watched(store, claim, timeout_s, time.monotonic() + timeout_s)
    with _lock:
        _running[key] = entry
    try:
        yield entry.deadline
    finally:
        with _lock:
            _running.pop(key, None)


def overdue(grace_s: float) -> list[Watched]:
    """Attempts of this process still running `grace_s` after their deadline: their plugin reaches no
    progress point."""
    now = time.monotonic()
    with _lock:
        return [entry for entry in _running.values() if now > entry.deadline + grace_s]
