"""The tables: jobs (with the jobs each waits for, and the sweep it belongs to), sweeps, results, metrics and
models (trained checkpoints). Times are naive UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from aigc.core.status import JobStatus

# Job and model ids are 32-bit integer columns (PostgreSQL's INTEGER); a larger id names nothing.
MAX_ID = 2**31 - 1


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, datetime: DateTime()}


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    plugin: Mapped[str] = mapped_column(String(100), index=True)
    params: Mapped[dict[str, Any]]
    seed: Mapped[int] = mapped_column(BigInteger)
    model_id: Mapped[str | None] = mapped_column(String(64))  # the model a job reads (lineage)
    queue: Mapped[str] = mapped_column(String(32), default="cpu")
    priority: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.queued, index=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    progress_info: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)  # cap on attempts for any reason
    retries: Mapped[int] = mapped_column(Integer, default=0)  # re-runs granted to a job that raised
    failures: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None]
    not_before: Mapped[datetime | None]  # retry backoff: not claimed before this time
    dispatched_at: Mapped[datetime | None]  # last time a message for it went to the broker
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    worker: Mapped[str | None] = mapped_column(String(200))
    device: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    checkpoint_sha256: Mapped[str | None] = mapped_column(String(64))
    # The name of the API token that submitted it (aigc serve); None from the CLI, a worker or a token-less server.
    token_name: Mapped[str | None] = mapped_column(String(100), index=True)
    sweep_id: Mapped[int | None] = mapped_column(ForeignKey("sweeps.id", ondelete="SET NULL"), index=True)
    # Seconds an attempt may run; past it the job ends `failed` (core/timeouts.py). None: no limit.
    timeout_s: Mapped[float | None] = mapped_column(Float)
    # Where a JSON notice of the job's end is POSTed (core/webhooks.py), besides AIGC_WEBHOOK_URL.
    notify_url: Mapped[str | None] = mapped_column(String(2000))
    # "visible": results also carry a visible AI mark (core/provenance.py); None: the metadata label only.
    label: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    @property
    def state(self) -> JobStatus:
        return JobStatus(self.status)

    def lease_lapsed_s(self, now: datetime | None = None) -> float | None:
        """Seconds since a running job's lease ran out (the process running it stopped renewing it);
        None while the lease holds or when the job is not running."""
        if self.status != JobStatus.running or self.lease_expires_at is None:
            return None
        lapsed = ((now or utcnow()) - self.lease_expires_at).total_seconds()
        return lapsed if lapsed > 0 else None

    @property
    def lease_lapsed(self) -> bool:
        return self.lease_lapsed_s() is not None

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None:
            return None
        return ((self.finished_at or utcnow()) - self.started_at).total_seconds()


class JobDependency(Base):
    """`job_id` may be claimed only once `parent_id` has succeeded; a parent that fails cancels it."""

    __tablename__ = "job_dependencies"

    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    parent_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True, index=True)


class Sweep(Base):
    """Many jobs asking one question: a grid or a random draw over params, replicated over seeds.

    `spec` is what was asked (axes as typed, mode, seeds, chained jobs), kept to show and to repeat it;
    the jobs themselves carry their own params and point at the sweep through `jobs.sweep_id`.
    """

    __tablename__ = "sweeps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    plugin: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    spec: Mapped[dict[str, Any]]
    max_parallel: Mapped[int | None] = mapped_column(Integer)  # jobs of the sweep running at once, at most
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Result(Base):
    """One generated item (or a grid/sample sheet) of a job: PNG bytes or text, with its metadata."""

    __tablename__ = "results"
    __table_args__ = (UniqueConstraint("job_id", "index", name="uq_results_job_index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    index: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))  # image | text
    role: Mapped[str] = mapped_column(String(16))  # item | grid | sample
    mime: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes | None] = mapped_column(LargeBinary)
    text: Mapped[str | None] = mapped_column(Text)
    seed: Mapped[int | None] = mapped_column(BigInteger)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Metric(Base):
    """One point of a training curve."""

    __tablename__ = "metrics"
    __table_args__ = (
        UniqueConstraint("job_id", "key", "step", name="uq_metrics_job_key_step"),
        Index("ix_metrics_job", "job_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(100))
    step: Mapped[int] = mapped_column(Integer)
    value: Mapped[float] = mapped_column(Float)


class Model(Base):
    """A trained checkpoint: a content-addressed artifact plus its config, metrics and source job."""

    __tablename__ = "models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    plugin: Mapped[str] = mapped_column(String(100), index=True)
    name: Mapped[str] = mapped_column(String(200))
    source_job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    sha256: Mapped[str] = mapped_column(String(64))
    format: Mapped[str] = mapped_column(String(16))  # safetensors | hf
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


Index("ix_jobs_status_queue", Job.status, Job.queue)


class Worker(Base):
    """One worker process (a Celery node serving one GPU, or one CPU slot), kept alive by its heartbeat.

    A job's `worker` column holds the node name of the attempt running it, so what a worker runs is a
    join, not a second copy of the truth.
    """

    __tablename__ = "workers"
    __table_args__ = (UniqueConstraint("name", name="uq_workers_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))  # Celery node name, e.g. gpu0@host
    hostname: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    device: Mapped[str] = mapped_column(String(200))  # "cpu" or "cuda:0 (NVIDIA H200)"
    queues: Mapped[str] = mapped_column(String(200))  # comma-separated, in consumption order
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    stopped_at: Mapped[datetime | None]  # set on a clean shutdown; a crash leaves the heartbeat to age


class Token(Base):
    """A named API token of `aigc serve`: only its sha256 is kept, the token itself is shown once at creation.

    Revoking deletes the row; jobs keep the name, so a token later created under the same name owns them.
    """

    __tablename__ = "tokens"
    __table_args__ = (
        UniqueConstraint("name", name="uq_tokens_name"),
        UniqueConstraint("digest", name="uq_tokens_digest"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    digest: Mapped[str] = mapped_column(String(64))  # sha256 hex of the token
    admin: Mapped[bool] = mapped_column(Boolean, default=False)
    # Limits of this token; None: only the server's own (AIGC_MAX_REQUEST_BYTES), no cap on the others.
    max_queued: Mapped[int | None] = mapped_column(Integer)  # its jobs queued or running at once
    max_request_bytes: Mapped[int | None] = mapped_column(Integer)
    max_n: Mapped[int | None] = mapped_column(Integer)  # the `n` param of one job
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]


class JobLog(Base):
    """One line a job's plugin logged (ctx.logger, Python warnings); the newest lines of each job are kept."""

    __tablename__ = "job_logs"
    __table_args__ = (UniqueConstraint("job_id", "line", name="uq_job_logs_job_line"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    line: Mapped[int] = mapped_column(Integer)  # numbered from 1 across the job's attempts
    at: Mapped[datetime] = mapped_column(default=utcnow)
    level: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)


class Notification(Base):
    """A webhook notice of a job's end, written with the end itself (an outbox) and sent until delivered."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_state_next", "state", "next_at"), Index("ix_notifications_job", "job_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2000))
    body: Mapped[str] = mapped_column(Text)  # the exact bytes signed and sent, as UTF-8
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending | delivered | gave_up
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[datetime] = mapped_column(default=utcnow)  # also a sender's claim: pushed ahead while sending
    deliveries: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [{attempt, http_status, error, at}]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Lock(Base):
    """A named lock one process holds until `expires_at` (the retention policy runs in one process at a time)."""

    __tablename__ = "locks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime]
