"""One thread per process renews the leases of every attempt running in it.

A job's lease must stay fresh however long its plugin goes without reporting progress; a lease that
lapses tells the reapers (and `aigc jobs` without a broker) that the process running it died. A lease
is renewed only while the plugin runs: if the final write then fails (a full disk), nothing keeps the
job claimed and it becomes recoverable one lease later. One shared thread (started on first use)
costs nothing per job, where a thread per job would cost a start and a join on every run.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from aigc.core.errors import AigcError, first_line

if TYPE_CHECKING:
    from aigc.core.store import Store
    from aigc.core.store.lifecycle import Claim, LeaseOwner

log = logging.getLogger("aigc.leases")

TICK_S = 1.0


class LeaseKeeper:
    def __init__(self) -> None:
        self._held: dict[tuple[int, int, LeaseOwner], tuple[Store, Claim, float, float]] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @contextmanager
    def hold(self, store: Store, claim: Claim, lease_s: float) -> Iterator[None]:
        """Keep `claim`'s lease renewed (every third of `lease_s`) while the block runs."""
        key = (claim.job_id, claim.attempt, claim.owner)
        with self._lock:
            self._held[key] = (store, claim, lease_s, time.monotonic() + lease_s / 3)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="aigc-lease-keeper", daemon=True)
                self._thread.start()
        try:
            yield
        finally:
            with self._lock:
                self._held.pop(key, None)

    def holds(self, job_id: int) -> bool:
        """Whether this process still renews a lease of `job_id`."""
        with self._lock:
            return any(key[0] == job_id for key in self._held)

    def _run(self) -> None:
        from aigc.core.store import lifecycle

        while True:
            with self._lock:
                due = sorted(self._held.items(), key=lambda item: item[1][3])
            now = time.monotonic()
            for key, (store, claim, lease_s, renew_at) in due:
                if renew_at > now:
                    continue
                try:
                    held = lifecycle.renew_lease(store, claim, lease_s)
                except Exception as exc:
                    # The database blinked; two thirds of the lease are left to retry. Any error, not
                    # only ours: a dead keeper thread would let every lease of this process lapse.
                    if not isinstance(exc, AigcError):
                        log.warning("job %s: lease renewal failed: %s", claim.job_id, first_line(exc))
                    held = True
                with self._lock:
                    if key in self._held:
                        if held:
                            self._held[key] = (store, claim, lease_s, now + lease_s / 3)
                        else:
                            del self._held[key]  # lost: the plugin learns it at its next progress point
            with self._lock:
                next_at = min((entry[3] for entry in self._held.values()), default=now + TICK_S)
            # Waking at least every TICK_S picks up new claims without `hold` having to signal
            # this thread, which would cost every job a thread switch.
            time.sleep(min(TICK_S, max(0.01, next_at - time.monotonic())))


keeper = LeaseKeeper()
