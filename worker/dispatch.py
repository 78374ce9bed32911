"""The Celery dispatcher: one message per job, carrying only its id, routed by what the job needs.

Registered in the `aigc.dispatchers` entry-point group (pyproject); the core finds it there when a
broker is configured and never imports this package itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from aigc.core.errors import BrokerUnavailable, first_line
from aigc.core.masking import masked
from aigc.core.store import Job, Store, lifecycle
from aigc.worker.app import QUEUES, TASK_NAME, app_for

if TYPE_CHECKING:
    from celery import Celery

    from aigc.core.config import Settings

# Errors a publish raises when Redis is down or unreachable (kombu wraps most, not all, of them).
_BROKER_ERRORS: tuple[type[Exception], ...] = (OSError, ConnectionError, TimeoutError)


def broker_priority(priority: int) -> int:
    """Our priority (0-9, higher first) as the Redis transport's (0-9, lower first)."""
    return 9 - max(0, min(9, priority))


class CeleryDispatcher:
    """The core's `Dispatcher` over Celery and Redis."""

    queues: tuple[str, ...] = QUEUES

    def __init__(self, settings: Settings, app: Celery | None = None) -> None:
        self.app = app or app_for(settings)

    def send(self, store: Store, jobs: Sequence[Job], *, countdown: float | None = None) -> None:
        """Send each job to its queue (`job.queue`: gpu or cpu) at its priority, then record when it went out.

        If the broker cannot be reached the jobs stay `queued` in the store, unsent, and
        `BrokerUnavailable` says so; any worker's reaper (or `aigc jobs recover`) sends them later.
        """
        if not jobs:
            return
        from kombu.exceptions import KombuError

        try:
            with self.app.producer_or_acquire() as producer:
                for job in jobs:
                    self.app.send_task(
                        TASK_NAME,
                        args=[job.id],
                        queue=job.queue,  # sent through Redis' anonymous exchange: no binding to lose
                        priority=broker_priority(job.priority),
                        countdown=countdown,
                        producer=producer,
                        add_to_parent=False,
                    )
        except (KombuError, *_BROKER_ERRORS) as exc:  # type: ignore[misc]  # kombu ships no type hints
            raise BrokerUnavailable(self._unsent_message([job.id for job in jobs], exc)) from exc
        lifecycle.mark_dispatched(store, [job.id for job in jobs])

    def queue_depths(self, queues: Iterable[str]) -> dict[str, int]:
        """Messages waiting in the broker per queue (all priorities; not those a worker holds)."""
        from kombu import Queue
        from kombu.exceptions import KombuError

        depths: dict[str, int] = {}
        try:
            with self.app.connection_for_read() as conn:
                channel = conn.default_channel
                for name in queues:
                    try:
                        depths[name] = Queue(name, channel=channel).queue_declare(passive=True).message_count
                    except conn.channel_errors:
                        depths[name] = 0  # Redis deletes an empty list: no queue means no messages
        except (KombuError, *_BROKER_ERRORS) as exc:  # type: ignore[misc]  # kombu ships no type hints
            raise BrokerUnavailable(_problem(self._safe_url(), exc)[0]) from exc
        return depths

    def _unsent_message(self, job_ids: list[int], exc: BaseException) -> str:
        ids = ", ".join(str(i) for i in job_ids[:10]) + (" ..." if len(job_ids) > 10 else "")
        which = f"job {ids} stays" if len(job_ids) == 1 else f"jobs {ids} stay"
        problem, down = _problem(self._safe_url(), exc)
        when = (
            "will be sent when the broker is back (by any running worker, or now with `aigc jobs recover`)"
            if down
            else "will be sent by any running worker, or with `aigc jobs recover` once AIGC_BROKER_URL is right"
        )
        return f"{problem}; {which} queued in the store and {when}"

    def _safe_url(self) -> str:
        return masked(str(self.app.conf.broker_url))


def _problem(url: str, exc: BaseException) -> tuple[str, bool]:
    """What went wrong with the broker, in words, and whether it is down (rather than refusing our settings)."""
    from redis.exceptions import AuthenticationError, ResponseError

    cause = _redis_error(exc)
    reason = _reason(cause or exc)
    if isinstance(cause, AuthenticationError) or (isinstance(cause, ResponseError) and _is_auth(reason)):
        return (
            f"the broker at {url} refused the login ({reason}): check the user and password in AIGC_BROKER_URL",
            False,
        )
    if isinstance(cause, ResponseError) and "DB index" in reason:
        database = urlsplit(url).path.removeprefix("/") or "0"
        return (
            f"the broker at {url} has no database {database} ({reason}): check the database number in AIGC_BROKER_URL",
            False,
        )
    return f"cannot reach the broker at {url} ({reason})", True


def _redis_error(exc: BaseException) -> BaseException | None:
    """The redis-py error under kombu's wrapping, if any: it names what Redis said."""
    from redis.exceptions import RedisError

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, RedisError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _is_auth(reason: str) -> bool:
    return reason.startswith(("NOAUTH", "WRONGPASS")) or "invalid username-password" in reason


def _reason(exc: BaseException) -> str:
    return masked(first_line(exc)).rstrip(".")
