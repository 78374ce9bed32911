"""Token rows: create, list, revoke, look up by digest, mark used; and the counts a token's limits need."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from aigc.core.errors import UsageError
from aigc.core.store.database import rowcount
from aigc.core.store.models import Job, JobStatus, Token, utcnow


def add(
    session: Session,
    *,
    name: str,
    digest: str,
    admin: bool,
    max_queued: int | None,
    max_request_bytes: int | None,
    max_n: int | None,
) -> Token:
    if session.execute(select(Token.id).where(Token.name == name)).first() is not None:
        raise UsageError(f"a token named '{name}' exists; revoke it first (`aigc tokens revoke {name}`)")
    row = Token(
        name=name,
        digest=digest,
        admin=admin,
        max_queued=max_queued,
        max_request_bytes=max_request_bytes,
        max_n=max_n,
        created_at=utcnow(),
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError:  # created by someone else at the same moment
        raise UsageError(f"a token named '{name}' exists; revoke it first (`aigc tokens revoke {name}`)") from None
    return row


def all_tokens(session: Session) -> Sequence[Token]:
    return session.execute(select(Token).order_by(Token.name)).scalars().all()


def revoke(session: Session, name: str) -> bool:
    """Delete the token `name`; False if there is none."""
    return rowcount(session.execute(delete(Token).where(Token.name == name))) == 1


def by_digest(session: Session, digest: str) -> Token | None:
    return session.execute(select(Token).where(Token.digest == digest)).scalar_one_or_none()


def by_name(session: Session, name: str) -> Token | None:
    return session.execute(select(Token).where(Token.name == name)).scalar_one_or_none()


def any_token(session: Session) -> bool:
    return session.execute(select(Token.id).limit(1)).first() is not None


def mark_used(session: Session, name: str, when: datetime) -> None:
    session.execute(update(Token).where(Token.name == name).values(last_used_at=when))


def unfinished_jobs(session: Session, name: str) -> int:
    """The jobs of token `name` that are queued or running: what its `max_queued` limits."""
    query = select(func.count()).where(Job.token_name == name, Job.status.in_([JobStatus.queued, JobStatus.running]))
    return int(session.execute(query).scalar_one())
