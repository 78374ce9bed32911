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
    workers = live_workers(store, silent_after_s=_silent_after(store))
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


def unserved(status: ClusterStatus) -> list[QueueDepth]:
    """Queues with jobs waiting and no live worker serving them: those jobs wait until one starts."""
    served = {q for w in status.workers for q in w.queues}
    return [q for q in status.queues if q.queued and q.queue not in served]


def serves(store: Store, queue: str) -> bool:
    """Whether a live worker takes jobs from `queue`."""
    return any(queue in w.queues for w in live_workers(store, silent_after_s=_silent_after(store)))


def start_worker_hint(queue: str) -> str:
    """How to get a worker for `queue`, in one phrase."""
    if queue == "gpu":
        return "start one on a GPU node (aigc worker), or let CPUs take GPU jobs: aigc worker --gpus none -Q gpu,cpu"
    return f"start one: aigc worker --gpus none -Q {queue}"


def _silent_after(store: Store) -> float:
    # A worker beats every heartbeat period; one silent for three periods is listed as gone.
    return 3 * store.settings.heartbeat_s + 2
