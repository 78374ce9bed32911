"""Read-side queries over the store, used by the CLI, the web server, the runner and the testing helpers.

Listings leave result bytes out unless a file is asked for: a page of a thousand images reads kilobytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from aigc.core.errors import UnknownJob
from aigc.core.store.models import Job, JobStatus, Metric, Model, Result
from aigc.core.store.readiness import ready


def get_job(session: Session, job_id: int) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise UnknownJob(job_id)
    return job


def find_job(session: Session, job_id: int) -> Job | None:
    return session.get(Job, job_id)


def list_jobs(
    session: Session,
    *,
    status: str | None = None,
    plugin: str | None = None,
    before: int | None = None,
    limit: int = 20,
    sweep_id: int | None = None,
) -> Sequence[Job]:
    """Newest first; `before` (a job id) pages back through older jobs; `sweep_id`: only that sweep's."""
    query = select(Job).order_by(Job.id.desc()).limit(limit)
    if sweep_id is not None:
        query = query.where(Job.sweep_id == sweep_id)
    if status:
        query = query.where(Job.status == status)
    if plugin:
        query = query.where(Job.plugin == plugin)
    if before:
        query = query.where(Job.id < before)
    return session.execute(query).scalars().all()


def status_counts(session: Session, plugin: str | None = None) -> dict[str, int]:
    query = select(Job.status, func.count()).group_by(Job.status)
    if plugin:
        query = query.where(Job.plugin == plugin)
    return {status: count for status, count in session.execute(query).all()}


def job_plugins(session: Session) -> list[str]:
    """Every plugin name that has jobs (a filter offers them even if the plugin is gone)."""
    return sorted(session.execute(select(Job.plugin).distinct()).scalars().all())


def results_of(session: Session, job_id: int) -> Sequence[Result]:
    query = select(Result).where(Result.job_id == job_id).order_by(Result.index)
    return session.execute(query).scalars().all()


@dataclass(frozen=True)
class ResultInfo:
    """A result without its bytes: enough to list it and link to the file."""

    index: int
    kind: str
    role: str
    mime: str
    seed: int | None
    meta: dict[str, Any]
    text: str | None
    size: int | None


def result_infos(session: Session, job_id: int, *, offset: int = 0, limit: int | None = None) -> list[ResultInfo]:
    query = (
        select(
            Result.index,
            Result.kind,
            Result.role,
            Result.mime,
            Result.seed,
            Result.meta,
            Result.text,
            func.length(Result.data),
        )
        .where(Result.job_id == job_id)
        .order_by(Result.index)
        .offset(offset)
        .limit(limit)
    )
    return [ResultInfo(*row) for row in session.execute(query)]


def get_result(session: Session, job_id: int, index: int) -> Result | None:
    return session.execute(select(Result).where(Result.job_id == job_id, Result.index == index)).scalar_one_or_none()


def results_after(session: Session, job_id: int, after: int, limit: int) -> list[Result]:
    """Up to `limit` results with their bytes, those numbered above `after` (paging by index)."""
    query = select(Result).where(Result.job_id == job_id, Result.index > after).order_by(Result.index).limit(limit)
    return list(session.execute(query).scalars())


def count_results(session: Session, job_id: int) -> dict[str, int]:
    rows = session.execute(select(Result.role, func.count()).where(Result.job_id == job_id).group_by(Result.role)).all()
    return {role: count for role, count in rows}


def next_result_index(session: Session, job_id: int) -> int:
    highest = session.execute(select(func.max(Result.index)).where(Result.job_id == job_id)).scalar()
    return 0 if highest is None else highest + 1


def metrics_of(session: Session, job_id: int) -> Sequence[Metric]:
    query = select(Metric).where(Metric.job_id == job_id).order_by(Metric.key, Metric.step)
    return session.execute(query).scalars().all()


def metric_series(session: Session, job_id: int) -> dict[str, list[tuple[int, float]]]:
    """Each metric's (step, value) points, in step order."""
    series: dict[str, list[tuple[int, float]]] = {}
    rows = session.execute(
        select(Metric.key, Metric.step, Metric.value).where(Metric.job_id == job_id).order_by(Metric.key, Metric.step)
    )
    for key, step, value in rows:
        series.setdefault(key, []).append((step, value))
    return series


def models_of(session: Session, plugin: str | None = None) -> Sequence[Model]:
    query = select(Model).order_by(Model.id.desc())
    if plugin:
        query = query.where(Model.plugin == plugin)
    return session.execute(query).scalars().all()


def newest_model(session: Session, plugin: str) -> Model | None:
    query = select(Model).where(Model.plugin == plugin).order_by(Model.id.desc()).limit(1)
    return session.execute(query).scalar_one_or_none()


def model_of_job(session: Session, job_id: int) -> Model | None:
    """The model a training job made (its last, should it have made several)."""
    query = select(Model).where(Model.source_job_id == job_id).order_by(Model.id.desc()).limit(1)
    return session.execute(query).scalar_one_or_none()


def get_model(session: Session, model_id: int) -> Model | None:
    return session.get(Model, model_id)


def models_read_by(session: Session, job_ids: Iterable[int]) -> dict[int, str | None]:
    """The model id each of these jobs read (a trained model's lineage: what its source job started from)."""
    ids = list(job_ids)
    if not ids:
        return {}
    rows = session.execute(select(Job.id, Job.model_id).where(Job.id.in_(ids)))
    return {job_id: model_id for job_id, model_id in rows}


def model_use_counts(session: Session) -> dict[tuple[str, str], int]:
    """How many jobs read each model, by (plugin, model id)."""
    query = (
        select(Job.plugin, Job.model_id, func.count())
        .where(Job.model_id.is_not(None))
        .group_by(Job.plugin, Job.model_id)
    )
    return {(plugin, model_id): count for plugin, model_id, count in session.execute(query) if model_id is not None}


def queued_due_counts(session: Session, now: datetime) -> dict[str, int]:
    """Jobs waiting in the store that a worker could claim now, per queue."""
    rows = session.execute(select(Job.queue, func.count()).where(_due_queued(now)).group_by(Job.queue)).all()
    return {queue: count for queue, count in rows}


def stale_queued(session: Session, now: datetime, sent_before: datetime | None, limit: int = 1000) -> Sequence[Job]:
    """Claimable queued jobs whose last message went out before `sent_before` (or never; all if None)."""
    query = select(Job).where(_due_queued(now)).order_by(Job.id).limit(limit)
    if sent_before is not None:
        # A job never sent counts from its creation, so one being submitted right now is not stale.
        query = query.where(func.coalesce(Job.dispatched_at, Job.created_at) < sent_before)
    return session.execute(query).scalars().all()


def _due_queued(now: datetime) -> ColumnElement[bool]:
    return and_(
        Job.status == JobStatus.queued,
        Job.cancel_requested.is_(False),
        Job.attempts < Job.max_attempts,
        or_(Job.not_before.is_(None), Job.not_before <= now),
        ready(now),  # a job waiting for a parent or a sweep slot is sent when that ends, not before
    )


def next_lease_expiry(session: Session) -> datetime | None:
    """When the soonest lease of a running job runs out (the reaper wakes then, not a period later)."""
    return session.execute(select(func.min(Job.lease_expires_at)).where(Job.status == JobStatus.running)).scalar()


def checkpoint_in_use(session: Session, sha256: str) -> bool:
    query = select(Job.id).where(Job.checkpoint_sha256 == sha256).limit(1)
    return session.execute(query).first() is not None
