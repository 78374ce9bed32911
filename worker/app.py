"""The Celery app, configured from the environment; `celery -A aigc.worker.app worker` finds `app` here.

The store is the system of record: the broker only carries job ids, there is no result backend,
and whether a job runs is decided by the compare-and-set claim in the store, never by the broker.
Importing this module builds no app (one is built per broker URL on first use) and must not import
torch: a prefork parent that initialised CUDA could not fork.
"""

from __future__ import annotations

import threading
from typing import Any

from celery import Celery

from aigc.core.config import Settings
from aigc.worker.config import WorkerSettings

TASK_NAME = "aigc.run_job"
QUEUES = ("gpu", "cpu")


def celery_config(ws: WorkerSettings) -> dict[str, Any]:
    """Every setting with the reason it is set; the defaults suit short web tasks, not GPU jobs."""
    return {
        "broker_url": ws.broker_url,
        # Workers started before Redis (compose starts them together) wait for it instead of exiting.
        "broker_connection_retry_on_startup": True,
        # `aigc submit` must say "broker down" within seconds rather than hang on a dead host.
        "broker_connection_timeout": 3.0,
        "task_publish_retry_policy": {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1},
        "broker_transport_options": {
            # Redis re-delivers an unacknowledged message after this; a job that outlives it gets a
            # second delivery, which the store's claim drops (the lease is held), so this only needs
            # to be long enough not to waste deliveries: above the longest job.
            "visibility_timeout": ws.visibility_timeout,
            # How often a worker looks for messages past their visibility timeout: a fraction of it.
            "unacked_restore_interval": max(1.0, min(10.0, ws.visibility_timeout / 4)),
            "unacked_restore_throttle": 1 if ws.visibility_timeout < 1000 else 10,
            # Ten priority lists per queue, so `--priority 0..9` maps one to one (0 is served first).
            "priority_steps": list(range(10)),
            # A GPU worker also serving `cpu` drains `gpu` first: -Q order is preference order.
            "queue_order_strategy": "priority",
            # A broker that vanishes without closing the socket must not hang a publish forever.
            "socket_timeout": 30,
            "socket_connect_timeout": 3,
        },
        # JSON only: a message is `[job_id]`; pickle would let whoever writes to Redis run code.
        "task_serializer": "json",
        "accept_content": ["json"],
        # The store holds every outcome; a result backend would be a second, weaker truth.
        "task_ignore_result": True,
        "result_backend": None,
        # Acknowledge after the job, not before: a worker that dies mid-job leaves the message
        # un-acked, so it is delivered again (the claim in the store decides whether it runs).
        "task_acks_late": True,
        # If a prefork pool child is killed, requeue its message at once instead of acking it as failed.
        "task_reject_on_worker_lost": True,
        # One message per process at a time: a long job must not sit on reserved messages that an
        # idle worker could run, and priorities only work if nothing is hoarded.
        "worker_prefetch_multiplier": 1,
        # A broker blink must not kill hours of training: the store lease, not the broker connection,
        # says who runs a job, and the re-delivered copy is dropped at claim.
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        # Soft-shutdown window for prefork pools on a cold shutdown (SIGQUIT); solo workers, which
        # Celery cannot cancel, get the same window from aigc.worker.node on SIGTERM instead.
        "worker_soft_shutdown_timeout": ws.soft_shutdown_s,
        "worker_send_task_events": ws.task_events,
        "task_send_sent_event": ws.task_events,
        "task_default_queue": "cpu",
        "enable_utc": True,
    }


def create_app(ws: WorkerSettings | None = None) -> Celery:
    app = Celery("aigc", include=["aigc.worker.tasks"])
    app.conf.update(celery_config(ws or WorkerSettings.from_env()))
    return app


_apps: dict[str, Celery] = {}
_lock = threading.Lock()


def app_for(settings: Settings | None = None) -> Celery:
    """The app of `settings`' broker (default: the environment's), built once per broker URL."""
    ws = WorkerSettings.from_env(settings)
    with _lock:
        if ws.broker_url not in _apps:
            _apps[ws.broker_url] = create_app(ws)
        return _apps[ws.broker_url]


def __getattr__(name: str) -> Any:
    """`app`, the worker's app: what `celery -A aigc.worker.app worker` runs, built on first use."""
    if name == "app":
        from aigc.worker import node  # noqa: F401 - connects the worker's signal hooks

        return app_for()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
