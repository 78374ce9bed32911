"""What a job's parents decide for it: the model it reads, whether it is cancelled, when it is sent.

Called inside the transaction that ends a parent, so a dependent never sees a parent half-ended.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from aigc.core.store.models import Job, JobDependency, JobStatus, Sweep
from aigc.core.store.readiness import ready

# A job that reads the model its parent trains names it so (`--model from:ID`) until the parent succeeds.
FROM_PREFIX = "from:"


def hand_model_to_dependents(session: Session, job_id: int, model_id: int | None, now: datetime) -> None:
    """Dependents that read `from:JOB` now read the model the job made; without one they cannot run."""
    children = session.execute(
        select(Job)
        .join(JobDependency, JobDependency.job_id == Job.id)
        .where(JobDependency.parent_id == job_id, Job.status == JobStatus.queued)
    ).scalars()
    for child in children:
        if child.params.get("model") != f"{FROM_PREFIX}{job_id}":
            continue
        if model_id is None:
            reason = f"cancelled: job {job_id}, whose model it reads, succeeded without making one"
            _cancel(session, [child.id], reason, now)
            cancel_dependents(session, {child.id: "cancelled"}, now)
            continue
        child.params = {**child.params, "model": str(model_id)}
        child.model_id = str(model_id)


def cancel_dependents(session: Session, ended: dict[int, str], now: datetime) -> list[int]:
    """Cancel the queued jobs that wait for any job in `ended` (id -> how it ended), and theirs in turn.

    Returns the ids cancelled; each one's error names the parent that stopped it.
    """
    cancelled: list[int] = []
    while ended:
        rows = session.execute(
            select(JobDependency.job_id, JobDependency.parent_id)
            .join(Job, Job.id == JobDependency.job_id)
            .where(JobDependency.parent_id.in_(list(ended)), Job.status == JobStatus.queued)
        ).all()
        first_parent: dict[int, int] = {}
        for child, parent in rows:
            first_parent[child] = min(parent, first_parent.get(child, parent))
        for child, parent in first_parent.items():
            how = "failed" if ended[parent] == JobStatus.failed else "was cancelled"
            _cancel(session, [child], f"cancelled: job {parent}, which it waits for, {how}", now)
        cancelled.extend(first_parent)
        ended = {child: "cancelled" for child in first_parent}
    return cancelled


def _cancel(session: Session, job_ids: Sequence[int], reason: str, now: datetime) -> None:
    session.execute(
        update(Job)
        .where(Job.id.in_(job_ids), Job.status == JobStatus.queued)
        .values(status=JobStatus.cancelled, cancel_requested=True, finished_at=now, error=reason)
    )


def parents_of(session: Session, job_ids: Sequence[int]) -> dict[int, list[int]]:
    """Each job's parents, for the jobs given that have any."""
    rows = session.execute(
        select(JobDependency.job_id, JobDependency.parent_id)
        .where(JobDependency.job_id.in_(list(job_ids)))
        .order_by(JobDependency.parent_id)
    )
    found: dict[int, list[int]] = {}
    for child, parent in rows:
        found.setdefault(child, []).append(parent)
    return found


def children_of(session: Session, job_ids: Sequence[int]) -> dict[int, list[int]]:
    """The jobs waiting for each of the jobs given."""
    rows = session.execute(
        select(JobDependency.parent_id, JobDependency.job_id)
        .where(JobDependency.parent_id.in_(list(job_ids)))
        .order_by(JobDependency.job_id)
    )
    found: dict[int, list[int]] = {}
    for parent, child in rows:
        found.setdefault(parent, []).append(child)
    return found


def sendable(session: Session, job_ids: Sequence[int], now: datetime) -> list[Job]:
    """Of these queued jobs, those a worker could claim now, in id order; a sweep's beyond its free
    slots are left for the end of a running one (or for the reaper)."""
    jobs = list(
        session.execute(
            select(Job)
            .where(Job.id.in_(list(job_ids)), Job.status == JobStatus.queued, Job.cancel_requested.is_(False))
            .where(Job.attempts < Job.max_attempts, or_(Job.not_before.is_(None), Job.not_before <= now))
            .where(ready(now))
            .order_by(Job.id)
        ).scalars()
    )
    return _within_slots(session, jobs, now)


def ready_after(session: Session, job_id: int, now: datetime) -> list[Job]:
    """What the end of job `job_id` lets run: its dependents now ready, and the next queued jobs of its
    sweep when the sweep caps how many run at once."""
    children = children_of(session, [job_id]).get(job_id, [])
    found = sendable(session, children, now) if children else []
    sweep_id = session.execute(select(Job.sweep_id).where(Job.id == job_id)).scalar_one_or_none()
    if sweep_id is not None and session.get(Sweep, sweep_id) is not None:
        waiting = session.execute(
            select(Job.id).where(Job.sweep_id == sweep_id, Job.status == JobStatus.queued).order_by(Job.id)
        ).scalars()
        have = {job.id for job in found}
        found += [job for job in sendable(session, list(waiting), now) if job.id not in have]
    return _within_slots(session, found, now)


def _within_slots(session: Session, jobs: list[Job], now: datetime) -> list[Job]:
    """Cut each capped sweep's jobs to its free slots (the cap minus its jobs holding a live lease)."""
    free: dict[int, int | None] = {}
    kept = []
    for job in jobs:
        if job.sweep_id is not None and job.sweep_id not in free:
            cap = session.execute(select(Sweep.max_parallel).where(Sweep.id == job.sweep_id)).scalar_one_or_none()
            running = session.execute(
                select(func.count()).where(
                    Job.sweep_id == job.sweep_id, Job.status == JobStatus.running, Job.lease_expires_at >= now
                )
            ).scalar_one()
            free[job.sweep_id] = None if cap is None else max(0, cap - running)
        slots = free.get(job.sweep_id) if job.sweep_id is not None else None
        if slots is None:
            kept.append(job)
        elif slots > 0:
            kept.append(job)
            free[job.sweep_id] = slots - 1  # type: ignore[index]
    return kept
