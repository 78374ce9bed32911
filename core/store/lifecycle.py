"""The life of a job in the store: create, claim, renew, checkpoint, finish, cancel, requeue.

Every state change is a compare-and-set on (status, attempts, lease owner), so two deliveries of one
job can never both run it, and a stale attempt can never overwrite a newer one's outcome. A job that
waits for others (`job_dependencies`) is claimable only once they all succeeded; a parent that ends
otherwise cancels its queued dependents, transitively, in the same transaction.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, delete, insert, or_, select, update
from sqlalchemy.orm import Session

from aigc.core.context import PendingModel, PendingResult
from aigc.core.masking import masked
from aigc.core.store import notices
from aigc.core.store.database import Store, rowcount
from aigc.core.store.dependencies import cancel_dependents, hand_model_to_dependents
from aigc.core.store.models import Job, JobDependency, JobStatus, Metric, Model, Result, Sweep, utcnow
from aigc.core.store.readiness import ready


@dataclass(frozen=True)
class LeaseOwner:
    """Who holds a job's lease, stored as "worker:token" in `jobs.lease_owner`.

    `worker` names the process running the attempt (a Celery node such as cpu0@host, or host:pid for
    an embedded run) and goes to `jobs.worker`, which `aigc workers` joins on the worker rows; `token`
    is unique to the attempt, so two attempts in threads of one worker never share a lease.
    """

    worker: str
    token: str

    @classmethod
    def new(cls, worker: str | None = None) -> LeaseOwner:
        """A fresh owner for one attempt; the worker defaults to this process (host:pid)."""
        return cls(worker or f"{socket.gethostname()}:{os.getpid()}", uuid.uuid4().hex[:8])

    @classmethod
    def parse(cls, text: str) -> LeaseOwner:
        worker, _, token = text.rpartition(":")  # the worker part may hold colons itself (host:pid)
        return cls(worker, token)

    def format(self) -> str:
        return f"{self.worker}:{self.token}"


@dataclass(frozen=True)
class ClaimedJob:
    """What an attempt needs to know of its job, read in the claiming statement itself."""

    plugin: str
    kind: str
    params: dict[str, Any]
    seed: int
    checkpoint_sha256: str | None
    timeout_s: float | None = None
    label: str | None = None
    notify_url: str | None = None


@dataclass(frozen=True)
class Claim:
    """The right to run one attempt of a job, held while the lease is renewed."""

    job_id: int
    attempt: int
    owner: LeaseOwner
    job: ClaimedJob | None = None


def create_job(
    session: Session,
    *,
    kind: str,
    plugin: str,
    params: dict[str, Any],
    seed: int,
    model_id: str | None,
    queue: str,
    priority: int = 0,
    max_attempts: int = 3,
    retries: int = 0,
    token_name: str | None = None,
    after: Sequence[int] = (),
    sweep_id: int | None = None,
    timeout_s: float | None = None,
    notify_url: str | None = None,
    label: str | None = None,
) -> Job:
    job = Job(
        kind=kind,
        plugin=plugin,
        params=params,
        seed=seed,
        model_id=model_id,
        queue=queue,
        priority=priority,
        max_attempts=max(max_attempts, retries + 1),
        retries=retries,
        timeout_s=timeout_s,
        notify_url=notify_url,
        label=label,
        status=JobStatus.queued,
        progress=0.0,
        progress_info={},
        summary={},
        attempts=0,
        failures=0,
        cancel_requested=False,
        token_name=token_name,
        sweep_id=sweep_id,
    )
    session.add(job)
    session.flush()
    if after:
        session.execute(insert(JobDependency), [{"job_id": job.id, "parent_id": p} for p in sorted(set(after))])
    return job


def _claimable(now: datetime) -> ColumnElement[bool]:
    fresh = and_(
        Job.status == JobStatus.queued,
        Job.cancel_requested.is_(False),
        or_(Job.not_before.is_(None), Job.not_before <= now),
    )
    lapsed = and_(Job.status == JobStatus.running, Job.lease_expires_at < now)
    return and_(or_(fresh, lapsed), Job.attempts < Job.max_attempts, ready(now))


def claim_job(store: Store, job_id: int, owner: LeaseOwner, lease_s: float) -> Claim | None:
    """Atomically start the next attempt of a job; None if it is finished, held, not yet due, waiting
    for a parent, or its sweep already runs as many jobs as it may."""
    now = utcnow()
    with store.transaction() as session:
        if store.engine.dialect.name != "sqlite":  # SQLite's BEGIN IMMEDIATE runs writers one at a time
            # Two claims of one sweep count its running jobs one after the other, so its cap holds.
            sweep_id = session.execute(select(Job.sweep_id).where(Job.id == job_id)).scalar_one_or_none()
            if sweep_id is not None:
                session.execute(select(Sweep.id).where(Sweep.id == sweep_id).with_for_update())
        row = session.execute(
            update(Job)
            .where(Job.id == job_id, _claimable(now))
            .values(
                status=JobStatus.running,
                attempts=Job.attempts + 1,
                lease_owner=owner.format(),
                lease_expires_at=now + timedelta(seconds=lease_s),
                worker=owner.worker,
                started_at=now,
                finished_at=None,
                progress_info={},
            )
            .returning(
                Job.attempts,
                Job.plugin,
                Job.kind,
                Job.params,
                Job.seed,
                Job.checkpoint_sha256,
                Job.timeout_s,
                Job.label,
                Job.notify_url,
            )
        ).one_or_none()
    if row is None:
        return None
    attempt, *job = row
    return Claim(job_id, attempt, owner, ClaimedJob(*job))


def _held(claim: Claim) -> ColumnElement[bool]:
    return and_(
        Job.id == claim.job_id,
        Job.status == JobStatus.running,
        Job.attempts == claim.attempt,
        Job.lease_owner == claim.owner.format(),
    )


def renew_lease(store: Store, claim: Claim, lease_s: float, **progress: Any) -> bool:
    """Extend the lease (and write progress if given); False when the attempt no longer holds the job."""
    values: dict[str, Any] = {"lease_expires_at": utcnow() + timedelta(seconds=lease_s), **progress}
    with store.transaction() as session:
        return rowcount(session.execute(update(Job).where(_held(claim)).values(**values))) == 1


def poll(store: Store, claim: Claim) -> str | None:
    """ "lost" if another attempt owns the job, "cancel" if a cancel was requested, else None."""
    with store.transaction() as session:
        row = session.execute(
            select(Job.status, Job.attempts, Job.lease_owner, Job.cancel_requested).where(Job.id == claim.job_id)
        ).one()
    if row.status != JobStatus.running or row.attempts != claim.attempt or row.lease_owner != claim.owner.format():
        return "lost"
    return "cancel" if row.cancel_requested else None


def _write_outputs(
    session: Session,
    job_id: int,
    results: Sequence[PendingResult],
    metrics: Iterable[tuple[str, int, float]],
) -> None:
    if results:
        session.execute(
            insert(Result),
            [
                {
                    "job_id": job_id,
                    "index": r.index,
                    "kind": r.kind,
                    "role": r.role,
                    "mime": r.mime,
                    "data": r.data,
                    "text": r.text,
                    "seed": r.seed,
                    "meta": r.meta,
                    "created_at": utcnow(),
                }
                for r in results
            ],
        )
    # Points are appended in step order; a replayed step (a plugin that logs again from an earlier
    # step after resuming) replaces the stored suffix instead of colliding with it.
    latest = {(key, step): value for key, step, value in metrics}
    first_step: dict[str, int] = {}
    for key, step in latest:
        first_step[key] = min(step, first_step.get(key, step))
    for key, step in first_step.items():
        session.execute(delete(Metric).where(Metric.job_id == job_id, Metric.key == key, Metric.step >= step))
    if latest:
        session.execute(
            insert(Metric),
            [{"job_id": job_id, "key": k, "step": s, "value": v} for (k, s), v in latest.items()],
        )


def commit_checkpoint(
    store: Store,
    claim: Claim,
    sha256: str,
    results: Sequence[PendingResult],
    metrics: Sequence[tuple[str, int, float]],
) -> str | None | Literal[False]:
    """Record a checkpoint and the outputs reported before it, in one transaction.

    Returns the sha256 of the checkpoint it replaced (None if none), or False if the lease was lost.
    """
    with store.transaction() as session:
        previous = session.execute(select(Job.checkpoint_sha256).where(_held(claim)).with_for_update()).one_or_none()
        if previous is None:
            return False
        session.execute(update(Job).where(_held(claim)).values(checkpoint_sha256=sha256))
        _write_outputs(session, claim.job_id, results, metrics)
    return previous[0]


@dataclass
class Outcome:
    status: JobStatus
    error: str | None = None
    device: str | None = None
    summary: dict[str, Any] | None = None
    results: Sequence[PendingResult] = ()
    metrics: Sequence[tuple[str, int, float]] = ()
    models: Sequence[PendingModel] = ()
    final: bool = False  # a failure no retry may undo (a timeout)


def finish_job(store: Store, claim: Claim, outcome: Outcome) -> JobStatus | None:
    """End the attempt: outputs, models and final status in one transaction.

    Returns the job's status after it, or None (and writes nothing) if the attempt lost its lease.
    """
    now = utcnow()
    with store.transaction() as session:
        job = session.execute(select(Job).where(_held(claim)).with_for_update()).scalar_one_or_none()
        if job is None:
            return None
        retry = (
            outcome.status == JobStatus.failed
            and not outcome.final
            and job.failures < job.retries
            and job.attempts < job.max_attempts
        )
        job.error = masked(outcome.error) if outcome.error else outcome.error  # a traceback may quote a URL
        job.device = outcome.device or job.device
        job.lease_owner = None
        job.lease_expires_at = None
        if outcome.status == JobStatus.failed:
            job.failures += 1
        if retry:
            # Exponential backoff: 2 s, 4 s, 8 s ... before the next attempt may be claimed.
            job.status = JobStatus.queued
            job.not_before = now + timedelta(seconds=2**job.failures)
            return JobStatus.queued
        if outcome.status == JobStatus.succeeded:
            # A failed or cancelled attempt keeps only what its checkpoints committed.
            _write_outputs(session, job.id, outcome.results, outcome.metrics)
        made: list[Model] = []
        for model in outcome.models if outcome.status == JobStatus.succeeded else ():
            made.append(
                Model(
                    plugin=job.plugin,
                    name=model.name,
                    source_job_id=job.id,
                    sha256=model.sha256,
                    format=model.format,
                    config=model.config,
                    metrics=model.metrics,
                )
            )
        session.add_all(made)
        job.status = outcome.status
        job.summary = {**(job.summary or {}), **(outcome.summary or {})}
        job.finished_at = now
        if outcome.status == JobStatus.succeeded:
            job.progress = 1.0
            if job.kind == "train":  # only a training job's dependents may read its model (from:ID)
                session.flush()  # the models' ids
                hand_model_to_dependents(session, job.id, made[-1].id if made else None, now)
        else:
            cancel_dependents(session, {job.id: str(outcome.status)}, now)
        notices.enqueue(session, job, store.settings.webhook_url)
    return outcome.status


def request_cancel(store: Store, job_id: int) -> JobStatus:
    """Cancel a job: a queued one never runs; a running one stops at its next progress point.

    A running job whose lease lapsed has nobody to reach a progress point: it ends `cancelled` at once.
    Should its attempt still be alive after all, its next write finds the lease gone and stops it.
    """
    now = utcnow()
    with store.transaction() as session:
        before = session.execute(select(Job.status).where(Job.id == job_id)).scalar_one()
        session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == JobStatus.queued)
            .values(status=JobStatus.cancelled, cancel_requested=True, finished_at=now, error="cancelled while queued")
        )
        session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == JobStatus.running, Job.lease_expires_at < now)
            .values(
                status=JobStatus.cancelled,
                cancel_requested=True,
                finished_at=now,
                error="cancelled; its lease had lapsed",
                lease_owner=None,
                lease_expires_at=None,
            )
        )
        session.execute(
            update(Job).where(Job.id == job_id, Job.status == JobStatus.running).values(cancel_requested=True)
        )
        job = session.execute(
            select(Job).where(Job.id == job_id).execution_options(populate_existing=True)
        ).scalar_one()
        if before != JobStatus.cancelled and job.status == JobStatus.cancelled:
            notices.enqueue(session, job, store.settings.webhook_url)
            cancel_dependents(session, {job_id: job.status}, now)
        status = job.status
    return JobStatus(status)


def mark_dispatched(store: Store, job_ids: Sequence[int]) -> None:
    with store.transaction() as session:
        session.execute(update(Job).where(Job.id.in_(job_ids)).values(dispatched_at=utcnow()))


def reap_lapsed(store: Store, job_ids: Sequence[int] | None = None) -> tuple[list[int], list[int]]:
    """Requeue running jobs whose lease lapsed (the process running them died); fail those out of attempts.

    Only the jobs in `job_ids` if given. Returns (requeued ids, failed ids).
    """
    now = utcnow()
    query = select(Job).where(Job.status == JobStatus.running, Job.lease_expires_at < now)
    if job_ids is not None:
        query = query.where(Job.id.in_(job_ids))
    with store.transaction() as session:
        lapsed = session.execute(query.with_for_update()).scalars().all()
        requeued, failed = [], []
        for job in lapsed:
            job.lease_owner = None
            job.lease_expires_at = None
            if job.cancel_requested:
                job.status, job.finished_at, job.error = JobStatus.cancelled, now, "cancelled; its lease had lapsed"
            elif job.attempts >= job.max_attempts:
                job.status, job.finished_at = JobStatus.failed, now
                tries = f"{job.attempts} attempt{'s' if job.attempts != 1 else ''}"
                job.error = f"gave up after {tries}: the process running it stopped renewing its lease"
                failed.append(job.id)
            else:
                job.status = JobStatus.queued
                requeued.append(job.id)
            if job.state.finished:
                notices.enqueue(session, job, store.settings.webhook_url)
        cancel_dependents(session, {job.id: job.status for job in lapsed if job.status != JobStatus.queued}, now)
    return requeued, failed


def release_jobs_of(store: Store, worker: str) -> list[int]:
    """Hand the jobs a stopping worker runs back to the queue, without spending their attempt.

    The running attempts lose their lease, so each stops at its next progress point (LeaseLost) and
    writes nothing more; the next attempt resumes from the last checkpoint. Returns the job ids.
    """
    with store.transaction() as session:
        held = (
            session.execute(select(Job).where(Job.status == JobStatus.running, Job.worker == worker).with_for_update())
            .scalars()
            .all()
        )
        for job in held:
            job.status = JobStatus.queued
            job.attempts = job.attempts - 1  # a graceful stop is not a failed attempt
            job.lease_owner = None
            job.lease_expires_at = None
        return [job.id for job in held]
