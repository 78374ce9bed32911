"""What a worker needs beyond the core's Settings, from the AIGC_* variables (aigc.core.environment)."""

from __future__ import annotations

from dataclasses import dataclass

from aigc.core.config import Settings, environment

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
    # How long past its timeout a job that reaches no progress point may run before its process is recycled.
    timeout_grace_s: float = 60.0

    @classmethod
    def from_env(cls, settings: Settings | None = None) -> WorkerSettings:
        settings = settings or Settings.from_env()
        env = environment()
        return cls(
            broker_url=settings.broker_url or DEFAULT_BROKER,
            visibility_timeout=env.visibility_timeout,
            soft_shutdown_s=env.soft_shutdown_seconds,
            resend_after_s=env.resend_seconds or 2 * settings.lease_seconds,
            heartbeat_s=settings.heartbeat_s,
            task_events=env.task_events,
            timeout_grace_s=env.timeout_grace_seconds,
        )
