"""Workers and queue depths (`aigc.core.cluster`), with the jobs this server runs itself when there is no broker."""

from __future__ import annotations

from aigc.cli.serve.launcher import Launcher
from aigc.cli.serve.schemas import ClusterOut, QueueOut, WorkerOut
from aigc.core.cluster import cluster_status
from aigc.core.store import Store


def cluster(store: Store, launcher: Launcher) -> ClusterOut:
    running, waiting = launcher.snapshot()
    status = cluster_status(store)
    return ClusterOut(
        broker=status.broker,
        workers=[WorkerOut(**vars(w)) for w in status.workers],
        queues=[QueueOut(**vars(q)) for q in status.queues],
        broker_error=status.broker_error,
        embedded_running=running,
        embedded_waiting=waiting,
    )
