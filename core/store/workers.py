"""Worker rows: who is alive (heartbeat), on which device and queues, and which jobs each one runs.

A job's `worker` column holds the worker part of its lease owner (`LeaseOwner.worker`), which is the
name of a worker row; what a worker runs is that join, not a second copy of the truth.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update

from aigc.core.store.database import Store, rowcount
from aigc.core.store.models import Job, JobStatus, Worker, utcnow

# A worker row whose heartbeat is older than this is deleted by any reaper (a node long gone).
FORGET_AFTER = timedelta(days=1)


@dataclass
class LiveWorker:
    name: str
    hostname: str
    pid: int
    device: str
    queues: list[str]
    started_at: datetime
    heartbeat_at: datetime
    running: list[int] = field(default_factory=list)  # job ids this worker holds


def register(store: Store, name: str, device: str, queues: Sequence[str]) -> None:
    """Insert or take over the row for `name` (a restarted process keeps its slot's name)."""
    now = utcnow()
    values = dict(hostname=socket.gethostname(), pid=os.getpid(), device=device, queues=",".join(queues))
    with store.transaction() as session:
        row = session.execute(select(Worker).where(Worker.name == name).with_for_update()).scalar_one_or_none()
        if row is None:
            session.add(Worker(name=name, started_at=now, heartbeat_at=now, **values))
            return
        for key, value in values.items():
            setattr(row, key, value)
        row.started_at, row.heartbeat_at, row.stopped_at = now, now, None


def beat(store: Store, name: str) -> bool:
    """Refresh the heartbeat; False if the row is gone (then the caller registers again)."""
    with store.transaction() as session:
        done = session.execute(
            update(Worker).where(Worker.name == name, Worker.pid == os.getpid()).values(heartbeat_at=utcnow())
        )
        return rowcount(done) == 1


def stopped(store: Store, name: str) -> None:
    with store.transaction() as session:
        session.execute(
            update(Worker).where(Worker.name == name, Worker.pid == os.getpid()).values(stopped_at=utcnow())
        )


def forget_old(store: Store) -> None:
    with store.transaction() as session:
        session.execute(delete(Worker).where(Worker.heartbeat_at < utcnow() - FORGET_AFTER))


def runs_jobs(store: Store, name: str) -> bool:
    """Whether the worker `name` holds any running job."""
    with store.transaction() as session:
        count = session.execute(
            select(func.count()).where(Job.status == JobStatus.running, Job.worker == name)
        ).scalar_one()
    return count > 0


def live_workers(store: Store, silent_after_s: float) -> list[LiveWorker]:
    """Workers that beat within `silent_after_s` and did not stop, with the jobs each holds."""
    since = utcnow() - timedelta(seconds=silent_after_s)
    with store.transaction() as session:
        rows = (
            session.execute(
                select(Worker).where(Worker.stopped_at.is_(None), Worker.heartbeat_at >= since).order_by(Worker.name)
            )
            .scalars()
            .all()
        )
        running = session.execute(
            select(Job.worker, Job.id).where(Job.status == JobStatus.running).order_by(Job.id)
        ).all()
    held: dict[str, list[int]] = {}
    for worker, job_id in running:
        held.setdefault(worker or "", []).append(job_id)
    return [
        LiveWorker(
            name=row.name,
            hostname=row.hostname,
            pid=row.pid,
            device=row.device,
            queues=[q for q in row.queues.split(",") if q],
            started_at=row.started_at,
            heartbeat_at=row.heartbeat_at,
            running=held.get(row.name, []),
        )
        for row in rows
    ]
