"""When a queued job may run: the conditions the claim, the dispatch and the reaper share.

A job waits for its parents (`job_dependencies`) until every one has succeeded, and a job of a sweep
with `max_parallel` waits for a free slot. The store decides both, in the claiming statement itself,
so a message that reaches a worker too early is refused there and nothing else needs to be exact.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import aliased

from aigc.core.store.models import Job, JobDependency, JobStatus, Sweep

# Built once: adapting a fresh alias's columns costs milliseconds, and every claim reads these.
_parent = aliased(Job, name="parent")
_sibling = aliased(Job, name="sibling")
_PARENTS_SUCCEEDED = ~(
    select(JobDependency.parent_id)
    .join(_parent, _parent.id == JobDependency.parent_id)
    .where(JobDependency.job_id == Job.id, _parent.status != JobStatus.succeeded)
    .exists()
)


def parents_succeeded() -> ColumnElement[bool]:
    """No parent of the job (the `jobs` row of the enclosing statement) is anything but succeeded."""
    return _PARENTS_SUCCEEDED


def sweep_has_room(now: datetime) -> ColumnElement[bool]:
    """The job is in no sweep, its sweep has no cap, or fewer of its jobs than the cap hold a live lease."""
    sibling = _sibling
    running = (
        select(func.count())
        .select_from(sibling)
        .where(sibling.sweep_id == Job.sweep_id, sibling.status == JobStatus.running, sibling.lease_expires_at >= now)
        .scalar_subquery()
    )
    cap = select(Sweep.max_parallel).where(Sweep.id == Job.sweep_id).scalar_subquery()
    return or_(Job.sweep_id.is_(None), cap.is_(None), running < cap)


def ready(now: datetime) -> ColumnElement[bool]:
    return and_(parents_succeeded(), sweep_has_room(now))
