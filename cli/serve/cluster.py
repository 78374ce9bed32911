"""Workers and queue depths: from the worker layer when a broker is configured, else the embedded slot."""

from __future__ import annotations

from aigc.cli.serve.launcher import Launcher
from aigc.cli.serve.schemas import ClusterOut, QueueOut, WorkerOut
from aigc.core.store import Store, queries
from aigc.core.store.models import utcnow


def cluster(store: Store, launcher: Launcher) -> ClusterOut:
    running, waiting = launcher.snapshot()
    if store.settings.broker_url:
        try:
            from aigc.worker.presence import cluster_status
        except ImportError as exc:  # the worker layer is optional for the server
            return _store_only(store, running, waiting, f"worker layer unavailable: {exc}")
        status = cluster_status(store)
        return ClusterOut(
            broker=True,
            workers=[WorkerOut(**vars(w)) for w in status.workers],
            queues=[QueueOut(**vars(q)) for q in status.queues],
            broker_error=status.broker_error,
            embedded_running=running,
            embedded_waiting=waiting,
        )
    return _store_only(store, running, waiting, None)


def _store_only(store: Store, running: list[int], waiting: list[int], error: str | None) -> ClusterOut:
    with store.transaction() as session:
        depths = queries.queued_due_counts(session, utcnow())
    return ClusterOut(
        broker=store.settings.broker_url is not None,
        workers=[],
        queues=[QueueOut(queue=q, queued=n, messages=None) for q, n in sorted(depths.items())],
        broker_error=error,
        embedded_running=running,
        embedded_waiting=waiting,
    )
