"""Sending jobs to the broker: one message per job, carrying only its id, routed by what it needs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from aigc.core.errors import BrokerUnavailable
from aigc.core.store import Job, Store, lifecycle

if TYPE_CHECKING:
    from celery import Celery

# Errors a publish raises when Redis is down or unreachable (kombu wraps most, not all, of them).
_BROKER_ERRORS: tuple[type[BaseException], ...] = (OSError, ConnectionError, TimeoutError)


def broker_priority(priority: int) -> int:
    """Our priority (0-9, higher first) as the Redis transport's (0-9, lower first)."""
    return 9 - max(0, min(9, priority))


def dispatch(store: Store, jobs: Sequence[Job], *, countdown: float | None = None, app: Celery | None = None) -> None:
    """Send each job to its queue (`job.queue`: gpu or cpu) at its priority, then record when it went out.

    Sending a job twice is harmless: the store's claim lets one delivery run it. If the broker cannot
    be reached the jobs stay `queued` in the store, unsent, and `BrokerUnavailable` says so; any
    worker's reaper (or `aigc jobs recover`) sends them once the broker is back.
    """
    if not jobs:
        return
    from kombu.exceptions import KombuError

    from aigc.worker.app import TASK_NAME, app_for

    app = app or app_for(store.settings)
    try:
        with app.producer_or_acquire() as producer:
            for job in jobs:
                app.send_task(
                    TASK_NAME,
                    args=[job.id],
                    queue=job.queue,  # sent through Redis' anonymous exchange: no binding to lose
                    priority=broker_priority(job.priority),
                    countdown=countdown,
                    producer=producer,
                    add_to_parent=False,
                )
    except (KombuError, *_BROKER_ERRORS) as exc:
        raise BrokerUnavailable(_unsent_message(app, [job.id for job in jobs], exc)) from exc
    lifecycle.mark_dispatched(store, [job.id for job in jobs])


def queue_depths(queues: Iterable[str], app: Celery | None = None) -> dict[str, int]:
    """Messages waiting in the broker per queue (all priorities; not those a worker holds)."""
    from kombu import Queue
    from kombu.exceptions import KombuError

    app = app or _default_app()
    depths: dict[str, int] = {}
    try:
        with app.connection_for_read() as conn:
            channel = conn.default_channel
            for name in queues:
                try:
                    depths[name] = Queue(name, channel=channel).queue_declare(passive=True).message_count
                except conn.channel_errors:
                    depths[name] = 0  # Redis deletes an empty list: no queue means no messages
    except (KombuError, *_BROKER_ERRORS) as exc:
        raise BrokerUnavailable(f"cannot reach the broker at {_safe_url(app)} ({_reason(exc)})") from exc
    return depths


def _default_app() -> Celery:
    from aigc.worker.app import app

    return app


def _unsent_message(app: Celery, job_ids: list[int], exc: BaseException) -> str:
    ids = ", ".join(str(i) for i in job_ids[:10]) + (" ..." if len(job_ids) > 10 else "")
    which = f"job {ids} stays" if len(job_ids) == 1 else f"jobs {ids} stay"
    return (
        f"cannot reach the broker at {_safe_url(app)} ({_reason(exc)}); "
        f"{which} queued in the store and will be sent when the broker is back "
        "(by any running worker, or now with `aigc jobs recover`)"
    )


def _safe_url(app: Celery) -> str:
    from kombu.utils.url import maybe_sanitize_url

    return str(maybe_sanitize_url(app.conf.broker_url))


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text.rstrip(".")
