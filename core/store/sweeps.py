"""The SQL of sweeps: a sweep row with its jobs stored in bulk, reading them back, cancelling them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from aigc.core.errors import UnknownSweep
from aigc.core.store.dependencies import cancel_dependents
from aigc.core.store.models import Job, JobDependency, JobStatus, Sweep, utcnow


def create_sweep(session: Session, *, plugin: str, kind: str, spec: dict[str, Any], max_parallel: int | None) -> Sweep:
    sweep = Sweep(plugin=plugin, kind=kind, spec=spec, max_parallel=max_parallel, created_at=utcnow())
    session.add(sweep)
    session.flush()
    return sweep


def insert_jobs(session: Session, rows: Sequence[dict[str, Any]], after: Sequence[Sequence[int]]) -> list[int]:
    """Store queued jobs in one statement (each row: kind, plugin, params, seed, model_id, queue, priority,
    max_attempts, retries, sweep_id) and what each waits for; returns their ids in the rows' order."""
    if not rows:
        return []
    now = utcnow()
    fixed = {
        "status": JobStatus.queued,
        "progress": 0.0,
        "progress_info": {},
        "summary": {},
        "attempts": 0,
        "failures": 0,
        "cancel_requested": False,
        "created_at": now,
    }
    statement = insert(Job).returning(Job.id, sort_by_parameter_order=True)
    ids = list(session.execute(statement, [{**fixed, **row} for row in rows]).scalars())
    links = [{"job_id": job_id, "parent_id": p} for job_id, parents in zip(ids, after, strict=True) for p in parents]
    if links:
        session.execute(insert(JobDependency), links)
    return ids


def get_sweep(session: Session, sweep_id: int) -> Sweep:
    sweep = session.get(Sweep, sweep_id)
    if sweep is None:
        raise UnknownSweep(sweep_id)
    return sweep


def list_sweeps(session: Session, limit: int = 20) -> Sequence[Sweep]:
    return session.execute(select(Sweep).order_by(Sweep.id.desc()).limit(limit)).scalars().all()


def jobs_of(session: Session, sweep_id: int) -> Sequence[Job]:
    return session.execute(select(Job).where(Job.sweep_id == sweep_id).order_by(Job.id)).scalars().all()


def status_counts(session: Session, sweep_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    rows = session.execute(
        select(Job.sweep_id, Job.status, func.count())
        .where(Job.sweep_id.in_(list(sweep_ids)))
        .group_by(Job.sweep_id, Job.status)
    )
    counts: dict[int, dict[str, int]] = {}
    for sweep_id, status, count in rows:
        if sweep_id is not None:
            counts.setdefault(sweep_id, {})[status] = count
    return counts


def cancel_sweep(session: Session, sweep_id: int) -> dict[str, int]:
    """Cancel every job of the sweep not yet ended: queued ones never run, running ones stop at their next
    progress point (those whose lease lapsed end at once). Returns how many of each."""
    get_sweep(session, sweep_id)
    now = utcnow()
    mine = Job.sweep_id == sweep_id
    reason = f"cancelled with sweep {sweep_id}"
    lapsed = session.execute(
        update(Job)
        .where(mine, Job.status == JobStatus.running, Job.lease_expires_at < now)
        .values(status=JobStatus.cancelled, cancel_requested=True, finished_at=now, error=reason, lease_owner=None)
        .returning(Job.id)
    ).scalars()
    stopped = list(lapsed)
    queued = session.execute(
        update(Job)
        .where(mine, Job.status == JobStatus.queued)
        .values(status=JobStatus.cancelled, cancel_requested=True, finished_at=now, error=reason)
        .returning(Job.id)
    ).scalars()
    ended = stopped + list(queued)
    running = session.execute(
        update(Job).where(mine, Job.status == JobStatus.running).values(cancel_requested=True).returning(Job.id)
    ).scalars()
    asked = list(running)
    cancel_dependents(session, dict.fromkeys(ended, "cancelled"), now)  # jobs of other sweeps waiting on these
    return {"cancelled": len(ended), "stopping": len(asked)}
