"""`aigc workers`: live workers (the store's worker rows) and queue depths in the store and the broker."""

from __future__ import annotations

from dataclasses import dataclass

from aigc.core.store import Store
from aigc.core.store.models import utcnow
from aigc.core.store.workers import LiveWorker, live_workers


@dataclass
class QueueDepth:
    queue: str
    queued: int  # claimable jobs waiting in the store
    messages: int | None  # messages waiting in the broker; None when the broker cannot be reached


@dataclass
class ClusterStatus:
    workers: list[LiveWorker]
    queues: list[QueueDepth]
    broker_error: str | None = None


def cluster_status(store: Store) -> ClusterStatus:
    """`aigc workers`: live workers, the jobs each runs, and queue depths in the store and the broker."""
    from aigc.core.errors import BrokerUnavailable
    from aigc.core.store import queries
    from aigc.worker.app import QUEUES, app_for
    from aigc.worker.config import WorkerSettings

    ws = WorkerSettings.from_env(store.settings)
    workers = live_workers(store, silent_after_s=3 * ws.heartbeat_s + 2)
    with store.transaction() as session:
        waiting = queries.queued_due_counts(session, utcnow())
    names = sorted(set(QUEUES) | set(waiting))
    error, depths = None, {}
    try:
        from aigc.worker.dispatch import queue_depths

        depths = queue_depths(names, app=app_for(store.settings))
    except BrokerUnavailable as exc:
        error = str(exc)
    queues = [QueueDepth(name, waiting.get(name, 0), depths.get(name)) for name in names]
    return ClusterStatus(workers, queues, error)
