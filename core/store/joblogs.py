"""Job logs in the store: lines appended per job, only the newest `KEEP` kept, read back in order."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, insert, select

from aigc.core.store.database import Store
from aigc.core.store.models import JobLog

KEEP = 10_000  # lines per job: a chatty plugin must not fill the database


def append(store: Store, job_id: int, lines: Sequence[tuple[datetime, str, str]]) -> None:
    """Add (time, level, text) lines after the job's last one, dropping the oldest beyond KEEP."""
    if not lines:
        return
    with store.transaction() as session:
        last = session.execute(select(func.max(JobLog.line)).where(JobLog.job_id == job_id)).scalar() or 0
        session.execute(
            insert(JobLog),
            [
                {"job_id": job_id, "line": last + n, "at": at, "level": level, "text": text}
                for n, (at, level, text) in enumerate(lines[-KEEP:], start=1)
            ],
        )
        newest = last + min(len(lines), KEEP)
        if newest > KEEP:
            session.execute(delete(JobLog).where(JobLog.job_id == job_id, JobLog.line <= newest - KEEP))


def lines_after(store: Store, job_id: int, after: int = 0, limit: int = KEEP) -> list[JobLog]:
    """The job's lines numbered above `after`, oldest first."""
    with store.transaction() as session:
        query = select(JobLog).where(JobLog.job_id == job_id, JobLog.line > after).order_by(JobLog.line).limit(limit)
        return list(session.execute(query).scalars())


def tail(store: Store, job_id: int, count: int) -> list[JobLog]:
    """The job's last `count` lines, oldest first."""
    with store.transaction() as session:
        query = select(JobLog).where(JobLog.job_id == job_id).order_by(JobLog.line.desc()).limit(count)
        return list(reversed(session.execute(query).scalars().all()))
