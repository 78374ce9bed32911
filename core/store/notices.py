"""The webhook outbox: a notice row is written in the same transaction as the job's end, then sent
(core/webhooks.py) until delivered or given up, each delivery recorded on the row."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from aigc.core.masking import masked
from aigc.core.store.database import Store, rowcount
from aigc.core.store.models import Job, Notification, utcnow

# A sender holds a notice this long while it posts it; one that dies mid-send leaves it to another after.
CLAIM_S = 60.0


def body_of(job: Job, server_url: str | None) -> str:
    """The JSON a notice carries: what ended, how, and where to look."""
    base = server_url or ""
    error = job.error.strip().splitlines()[-1] if job.error and job.error.strip() else None
    return json.dumps(
        {
            "event": "job.finished",
            "id": job.id,
            "status": job.status,
            "plugin": job.plugin,
            "kind": job.kind,
            "summary": job.summary or {},
            "error": error,
            "finished_at": job.finished_at.isoformat() + "Z" if job.finished_at else None,
            "links": {
                "job": f"{base}/jobs/{job.id}",
                "api": f"{base}/api/jobs/{job.id}",
                "results": f"{base}/api/jobs/{job.id}/results",
            },
        },
        sort_keys=True,
        separators=(",", ":"),
    )


def enqueue(session: Session, job: Job, default_url: str | None) -> None:
    """Notices of a job that just ended (call within the transaction that ends it): one per URL."""
    from aigc.core.config import environment

    urls = list(dict.fromkeys(u for u in (job.notify_url, default_url) if u))
    if not urls:
        return
    body = body_of(job, environment().server_url)
    now = utcnow()
    for url in urls:
        session.add(
            Notification(job_id=job.id, url=url, body=body, state="pending", attempts=0, next_at=now, deliveries=[])
        )


@dataclass(frozen=True)
class Due:
    id: int
    url: str
    body: str
    attempts: int
    next_at: datetime


def claim_due(store: Store, limit: int = 20) -> list[Due]:
    """Pending notices whose time has come, each claimed for CLAIM_S (so two senders never post one twice
    at once)."""
    now = utcnow()
    with store.transaction() as session:
        rows = session.execute(
            select(Notification.id, Notification.url, Notification.body, Notification.attempts, Notification.next_at)
            .where(Notification.state == "pending", Notification.next_at <= now)
            .order_by(Notification.next_at)
            .limit(limit)
        ).all()
    claimed = []
    for row in rows:
        with store.transaction() as session:
            taken = session.execute(
                update(Notification)
                .where(Notification.id == row.id, Notification.state == "pending", Notification.next_at == row.next_at)
                .values(next_at=now + timedelta(seconds=CLAIM_S))
            )
            if rowcount(taken) == 1:
                claimed.append(Due(*row))
    return claimed


def record_delivery(
    store: Store, due: Due, *, http_status: int | None, error: str | None, retry_in_s: float | None
) -> str:
    """One delivery's result; the notice's state after (delivered, pending with its next time, gave_up)."""
    now = utcnow()
    ok = http_status is not None and 200 <= http_status < 300
    state = "delivered" if ok else ("pending" if retry_in_s is not None else "gave_up")
    entry = {"attempt": due.attempts + 1, "http_status": http_status, "error": error, "at": now.isoformat() + "Z"}
    with store.transaction() as session:
        row = session.get(Notification, due.id, with_for_update=True)
        if row is None:  # its job was pruned meanwhile
            return "gone"
        row.deliveries = [*(row.deliveries or []), entry]
        row.attempts = due.attempts + 1
        row.state = state
        row.next_at = now + timedelta(seconds=retry_in_s or 0)
    return state


def untried(session: Session, job_id: int) -> int:
    """The job's notices no delivery has been tried for yet."""
    query = select(func.count()).where(
        Notification.job_id == job_id, Notification.state == "pending", Notification.attempts == 0
    )
    return int(session.execute(query).scalar() or 0)


def next_due(session: Session) -> datetime | None:
    return session.execute(
        select(Notification.next_at).where(Notification.state == "pending").order_by(Notification.next_at).limit(1)
    ).scalar()


def notices_of(session: Session, job_id: int) -> Sequence[Notification]:
    return (
        session.execute(select(Notification).where(Notification.job_id == job_id).order_by(Notification.id))
        .scalars()
        .all()
    )


def describe(notice: Notification) -> dict[str, Any]:
    """A notice as `jobs show` and the API show it: its URL with any password or token masked."""
    return {
        "url": masked(notice.url),
        "state": notice.state,
        "attempts": notice.attempts,
        "deliveries": list(notice.deliveries or []),
    }
