"""`aigc workers` and the server's workers page: live workers, what each runs, and queue depths.

Workers and waiting jobs come from the store; messages waiting in the broker from the registered
dispatcher, when a broker is configured.
"""

from __future__ import annotations

from dataclasses import dataclass

from aigc.core.dispatch import dispatcher_for, uses_broker
from aigc.core.errors import BrokerUnavailable
from aigc.core.store import Store, queries
from aigc.core.store.models import utcnow
from aigc.core.store.workers import LiveWorker, live_workers


@dataclass
class QueueDepth:
    queue: str
    queued: int  # claimable jobs waiting in the store
    messages: int | None  # messages waiting in the broker; None when there is none or it cannot be reached


@dataclass
class ClusterStatus:
    broker: bool  # whether a broker is configured (else jobs run where they are submitted)
    workers: list[LiveWorker]
    queues: list[QueueDepth]
    broker_error: str | None = None


def cluster_status(store: Store) -> ClusterStatus:
    # A worker beats every heartbeat period; one silent for three periods is listed as gone.
    workers = live_workers(store, silent_after_s=3 * store.settings.heartbeat_s + 2)
    with store.transaction() as session:
        waiting = queries.queued_due_counts(session, utcnow())
    if not uses_broker(store.settings):
        queues = [QueueDepth(name, count, None) for name, count in sorted(waiting.items())]
        return ClusterStatus(False, workers, queues)
    dispatcher = dispatcher_for(store.settings)
    names = sorted(set(dispatcher.queues) | set(waiting))
    error, depths = None, {}
    try:
        depths = dispatcher.queue_depths(names)
    except BrokerUnavailable as exc:
        error = str(exc)
    queues = [QueueDepth(name, waiting.get(name, 0), depths.get(name)) for name in names]
    return ClusterStatus(True, workers, queues, error)
