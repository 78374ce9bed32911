"""What a worker reads from the environment, beyond the core's Settings (store, artifacts, lease)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from aigc.core.config import Settings

# Celery's own default is an AMQP URL; ours is the Redis a developer runs locally (compose sets it).
DEFAULT_BROKER = "redis://127.0.0.1:6379/0"


@dataclass(frozen=True)
class WorkerSettings:
    broker_url: str
    # Redis re-delivers a message not acknowledged within this many seconds; keep it above the longest job.
    visibility_timeout: float
    # On SIGTERM a job gets this long to finish before it is handed back (checkpoint kept) to the queue.
    soft_shutdown_s: float
    # A queued job whose message went out longer ago than this is re-sent if the broker seems to lack it.
    resend_after_s: float
    # Heartbeat and reaper period; a worker silent for three periods is listed as gone.
    heartbeat_s: float
    # Celery task events, for Flower; off by default because each job then costs extra broker writes.
    task_events: bool

    @classmethod
    def from_env(cls, settings: Settings | None = None) -> WorkerSettings:
        settings = settings or Settings.from_env()
        env = os.environ
        return cls(
            broker_url=settings.broker_url or DEFAULT_BROKER,
            visibility_timeout=float(env.get("AIGC_VISIBILITY_TIMEOUT", 12 * 3600)),
            soft_shutdown_s=float(env.get("AIGC_SOFT_SHUTDOWN_SECONDS", 60)),
            resend_after_s=float(env.get("AIGC_RESEND_SECONDS", 2 * settings.lease_seconds)),
            heartbeat_s=max(0.5, settings.lease_seconds / 3),
            task_events=env.get("AIGC_TASK_EVENTS", "").lower() in ("1", "true", "yes"),
        )
