"""The SQL of retention: which finished jobs and models go, their sizes, and deleting them in one
transaction; the store's sizes per plugin (`aigc du`); a named lock so one process applies a policy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from aigc.core.store.database import Store, rowcount
from aigc.core.store.models import Job, JobLog, JobStatus, Lock, Metric, Model, Notification, Result, utcnow

FINISHED = (JobStatus.succeeded, JobStatus.failed, JobStatus.cancelled)


@dataclass
class Plan:
    """What a prune deletes (or, dry, would delete)."""

    jobs: int = 0
    results: int = 0
    result_bytes: int = 0
    metrics: int = 0
    log_lines: int = 0
    notices: int = 0
    models: list[tuple[int, str, str]] = field(default_factory=list)  # (id, sha256, format) deleted
    kept_models: list[int] = field(default_factory=list)  # made by a pruned job, but pinned or newest
    checkpoints: list[str] = field(default_factory=list)  # sha256 of checkpoint files no job needs any more


def _doomed(cutoff: datetime, statuses: Sequence[str], plugin: str | None) -> Select[Any]:
    query = select(Job.id).where(Job.status.in_(list(statuses)), Job.finished_at < cutoff)
    return query.where(Job.plugin == plugin) if plugin else query


def _count(session: Session, model: type, doomed: Select[Any]) -> int:
    column = model.job_id  # type: ignore[attr-defined]
    return int(session.execute(select(func.count()).where(column.in_(doomed))).scalar() or 0)


def plan(
    session: Session, cutoff: datetime, statuses: Sequence[str], plugin: str | None, newest_models: bool
) -> tuple[Plan, Select[Any]]:
    doomed = _doomed(cutoff, statuses, plugin)
    result = Plan()
    result.jobs = int(session.execute(select(func.count()).select_from(doomed.subquery())).scalar() or 0)
    result.results, result.result_bytes = session.execute(
        select(func.count(), func.coalesce(func.sum(_size()), 0)).where(Result.job_id.in_(doomed))
    ).one()
    result.metrics = _count(session, Metric, doomed)
    result.log_lines = _count(session, JobLog, doomed)
    result.notices = _count(session, Notification, doomed)
    pinned = set(
        session.execute(
            select(Job.model_id).where(Job.status.in_([JobStatus.queued, JobStatus.running]), Job.model_id.is_not(None))
        ).scalars()
    )
    newest = set(session.execute(select(func.max(Model.id)).group_by(Model.plugin)).scalars())
    for model_id, sha, fmt in session.execute(
        select(Model.id, Model.sha256, Model.format).where(Model.source_job_id.in_(doomed))
    ):
        if str(model_id) in pinned or (model_id in newest and not newest_models):
            result.kept_models.append(model_id)
        else:
            result.models.append((model_id, sha, fmt))
    shas = set(
        session.execute(select(Job.checkpoint_sha256).where(Job.id.in_(doomed), Job.checkpoint_sha256.is_not(None)))
        .scalars()
        .all()
    )
    if shas:
        still = session.execute(
            select(Job.checkpoint_sha256).where(Job.checkpoint_sha256.in_(shas), Job.id.not_in(doomed))
        ).scalars()
        result.checkpoints = sorted(sha for sha in shas - set(still) if sha is not None)
    return result, doomed


def _size() -> ColumnElement[int]:
    return func.coalesce(func.length(Result.data), 0) + func.coalesce(func.length(Result.text), 0)


def delete_planned(session: Session, planned: Plan, doomed: Select[Any]) -> list[tuple[str, str]]:
    """Delete what `plan` found (in the caller's transaction); returns the (sha256, format) of model files
    no remaining model row names."""
    ids = list(session.execute(doomed).scalars())
    model_ids = [m[0] for m in planned.models]
    for chunk in range(0, len(ids), 500):  # bounded IN lists: SQLite allows some 32,000 parameters
        part = ids[chunk : chunk + 500]
        for table in (Result, Metric, JobLog, Notification):
            session.execute(delete(table).where(table.job_id.in_(part)))
        session.execute(update(Model).where(Model.source_job_id.in_(part)).values(source_job_id=None))
    if model_ids:
        session.execute(delete(Model).where(Model.id.in_(model_ids)))
    for chunk in range(0, len(ids), 500):
        session.execute(delete(Job).where(Job.id.in_(ids[chunk : chunk + 500])))
    files = {(sha, fmt) for _, sha, fmt in planned.models}
    if not files:
        return []
    used = set(session.execute(select(Model.sha256).where(Model.sha256.in_([s for s, _ in files]))).scalars())
    return sorted((sha, fmt) for sha, fmt in files if sha not in used)


@dataclass(frozen=True)
class PluginUsage:
    plugin: str
    jobs: int
    results: int
    result_bytes: int
    models: list[tuple[str, str]]  # (sha256, format) of its trained models' files
    checkpoints: list[str]


def usage(session: Session) -> list[PluginUsage]:
    """Per plugin: jobs, results and their bytes, model and checkpoint artifacts."""
    jobs = {plugin: int(n) for plugin, n in session.execute(select(Job.plugin, func.count()).group_by(Job.plugin))}
    results = {
        plugin: (int(n), int(size))
        for plugin, n, size in session.execute(
            select(Job.plugin, func.count(Result.id), func.coalesce(func.sum(_size()), 0))
            .join(Result, Result.job_id == Job.id)
            .group_by(Job.plugin)
        )
    }
    models: dict[str, list[tuple[str, str]]] = {}
    for plugin, sha, fmt in session.execute(select(Model.plugin, Model.sha256, Model.format).distinct()):
        models.setdefault(plugin, []).append((sha, fmt))
    checkpoints: dict[str, list[str]] = {}
    for plugin, checkpoint in session.execute(
        select(Job.plugin, Job.checkpoint_sha256).where(Job.checkpoint_sha256.is_not(None)).distinct()
    ):
        if checkpoint is not None:
            checkpoints.setdefault(plugin, []).append(checkpoint)
    plugins = sorted(set(jobs) | set(models))
    return [
        PluginUsage(
            p,
            jobs.get(p, 0),
            results.get(p, (0, 0))[0],
            results.get(p, (0, 0))[1],
            models.get(p, []),
            checkpoints.get(p, []),
        )
        for p in plugins
    ]


def take_lock(store: Store, name: str, holder: str, hold_s: float) -> bool:
    """Hold lock `name` for `hold_s` unless another holder's hold is still running; True if taken."""
    now = utcnow()
    until = now + timedelta(seconds=hold_s)
    with store.transaction() as session:
        taken = session.execute(
            update(Lock)
            .where(Lock.name == name, or_(Lock.expires_at < now, Lock.holder == holder))
            .values(holder=holder, expires_at=until)
        )
        if rowcount(taken) == 1:
            return True
    try:
        with store.transaction() as session:
            session.execute(insert(Lock).values(name=name, holder=holder, expires_at=until))
        return True
    except IntegrityError:  # someone else holds it (or just took it)
        return False
