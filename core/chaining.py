"""Sending the jobs that a job's end lets run: its dependents, and the next jobs of a capped sweep.

The store decides what is ready (`aigc.core.store.dependencies`); this only sends it. A send that
fails (the broker is down, the process dies first) loses nothing: the jobs stay queued and ready in
the store, and any worker's reaper sends them (`aigc.core.recovery`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from aigc.core.dispatch import dispatcher_for, uses_broker
from aigc.core.errors import AigcError, first_line
from aigc.core.store import Job, Store
from aigc.core.store.dependencies import ready_after, sendable
from aigc.core.store.models import utcnow

log = logging.getLogger("aigc.chaining")


def send_ready_after(store: Store, job_id: int) -> list[int]:
    """After job `job_id` ended: send what it unblocked (with a broker); returns the ids sent."""
    if not uses_broker(store.settings):
        return []  # an embedded run resolves the graph in order itself (aigc.core.jobs.start)
    with store.transaction() as session:
        jobs = ready_after(session, job_id, utcnow())
    if not jobs:
        return []
    try:
        dispatcher_for(store.settings).send(store, jobs)
    except AigcError as exc:
        ids = ", ".join(str(job.id) for job in jobs)
        log.warning("jobs %s are ready but could not be sent (%s); the reaper sends them", ids, first_line(exc))
        return []
    return [job.id for job in jobs]


def send_ready(store: Store, jobs: Sequence[Job]) -> list[int]:
    """Send those of `jobs` that a worker could claim now; the others are sent when what they wait for
    ends. BrokerUnavailable if the broker cannot be reached (the jobs stay queued in the store)."""
    with store.transaction() as session:
        ready = sendable(session, [job.id for job in jobs], utcnow())
    dispatcher_for(store.settings).send(store, ready)
    return [job.id for job in ready]
