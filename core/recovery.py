"""Recovery from what the broker cannot see: dead workers (lapsed leases) and lost messages.

Runs in every worker, once per heartbeat, and on demand as `aigc jobs recover` (which, without a
broker, only requeues the jobs of dead embedded runs for `aigc jobs resume`). Sending a job twice
is harmless (the store's claim is a compare-and-set), so recovery errs on the side of sending.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from aigc.core.dispatch import Dispatcher, dispatcher_for, uses_broker
from aigc.core.store import Job, Store, lifecycle, queries
from aigc.core.store.models import utcnow

log = logging.getLogger("aigc.recovery")

# `aigc jobs recover` sends at most this many queued jobs per run (run it again for more).
RECOVER_LIMIT = 100_000


@dataclass
class Recovery:
    requeued: list[int] = field(default_factory=list)  # leases lapsed: back in the queue, sent again
    failed: list[int] = field(default_factory=list)  # leases lapsed on their last attempt
    resent: list[int] = field(default_factory=list)  # queued jobs whose message the broker lacked

    def __bool__(self) -> bool:
        return bool(self.requeued or self.failed or self.resent)


def reap(store: Store, dispatcher: Dispatcher, *, resend_after_s: float) -> Recovery:
    """One round: requeue jobs of dead workers, and re-send queued jobs the broker seems to have lost."""
    recovery = _requeue_lapsed(store, dispatcher)
    recovery.resent = _resend_lost(store, dispatcher, resend_after_s)
    if recovery:
        log.warning("reaper: requeued %s, failed %s, re-sent %s", recovery.requeued, recovery.failed, recovery.resent)
    return recovery


def recover(store: Store) -> Recovery:
    """`aigc jobs recover`: requeue lapsed leases, then send every claimable queued job again.

    Without a broker there is nothing to send them to: the lapsed jobs go back to `queued` (or end
    `failed`, out of attempts) and wait for `aigc jobs resume ID`, which runs one in the caller's process.
    """
    if not uses_broker(store.settings):
        requeued, failed = lifecycle.reap_lapsed(store)
        return Recovery(requeued=requeued, failed=failed)
    dispatcher = dispatcher_for(store.settings, "aigc jobs recover")
    recovery = _requeue_lapsed(store, dispatcher)
    with store.transaction() as session:
        jobs = list(queries.stale_queued(session, utcnow(), None, limit=RECOVER_LIMIT))
    jobs = [job for job in jobs if job.id not in set(recovery.requeued)]
    dispatcher.send(store, jobs)
    recovery.resent = [job.id for job in jobs]
    return recovery


def _requeue_lapsed(store: Store, dispatcher: Dispatcher) -> Recovery:
    requeued, failed = lifecycle.reap_lapsed(store)
    # The dead attempt's message was acked or sits un-acked until the visibility timeout: send anew.
    dispatcher.send(store, load_jobs(store, requeued))
    return Recovery(requeued=requeued, failed=failed)


def _resend_lost(store: Store, dispatcher: Dispatcher, resend_after_s: float) -> list[int]:
    """Re-send stale queued jobs of each queue whose broker list holds fewer messages than the store
    has claimable jobs: after a Redis restart or FLUSHDB, or a submit that found the broker down.

    The depth check keeps a long, healthy backlog from being duplicated every round.
    """
    now = utcnow()
    with store.transaction() as session:
        stale = list(queries.stale_queued(session, now, now - timedelta(seconds=resend_after_s)))
        if not stale:
            return []
        waiting = queries.queued_due_counts(session, now)
    depths = dispatcher.queue_depths({job.queue for job in stale})
    lost = [job for job in stale if depths[job.queue] < waiting.get(job.queue, 0)]
    dispatcher.send(store, lost)
    return [job.id for job in lost]


def load_jobs(store: Store, job_ids: list[int]) -> list[Job]:
    if not job_ids:
        return []
    with store.transaction() as session:
        return [queries.get_job(session, job_id) for job_id in job_ids]
