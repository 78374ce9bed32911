"""The store as `aigc doctor` sees it: reachable, at which schema revision, writable, how big.

Looks without changing anything: a SQLite file that does not exist yet is not created, and an old
schema is reported, not migrated. A SQLite file is read with the standard library's sqlite3,
read-only (no SQLAlchemy import, no write lock: a running job never makes the doctor wait); any
other database through SQLAlchemy.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from aigc.core.errors import StoreUnavailable, first_line
from aigc.core.store.recent import sqlite_file
from aigc.core.store.schema import SCHEMA_REVISION


@dataclass(frozen=True)
class StoreHealth:
    where: str  # the URL, password hidden
    backend: str  # sqlite | postgresql | ...
    exists: bool  # False: a SQLite file not created yet (the first job creates it)
    revision: str | None = None  # the schema revision the database is at
    writable: bool | None = None
    size_bytes: int | None = None
    jobs: int | None = None
    path: Path | None = None  # the SQLite file

    @property
    def expected_revision(self) -> str:
        return SCHEMA_REVISION


def inspect_store(url: str) -> StoreHealth:
    """StoreUnavailable (one line) when the database cannot be reached or read."""
    path = sqlite_file(url)
    if path is None:
        return _through_sqlalchemy(url)
    if not path.exists():
        return StoreHealth(url, "sqlite", exists=False, path=path)
    try:
        with closing(sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True, timeout=5)) as conn:
            tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            revision = _scalar(conn, "SELECT version_num FROM alembic_version") if "alembic_version" in tables else None
            jobs = int(_scalar(conn, "SELECT count(*) FROM jobs") or 0) if "jobs" in tables else None
    except sqlite3.Error as exc:
        raise StoreUnavailable(f"cannot read database {url}: {first_line(exc)}") from None
    size = sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
    # SQLite in WAL mode writes the file and creates -wal and -shm files beside it.
    writable = os.access(path, os.W_OK) and os.access(path.parent, os.W_OK | os.X_OK)
    return StoreHealth(url, "sqlite", True, revision, writable, size, jobs, path)


def _scalar(conn: sqlite3.Connection, query: str) -> str | None:
    row = conn.execute(query).fetchone()
    return None if row is None or row[0] is None else str(row[0])


def _through_sqlalchemy(url: str) -> StoreHealth:
    from sqlalchemy import func, select, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, DBAPIError

    from aigc.core.store.engine import _create, current_revision
    from aigc.core.store.models import Job

    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreUnavailable(f"invalid database URL '{url}': {first_line(exc)}") from None
    where, backend = parsed.render_as_string(hide_password=True), parsed.get_backend_name()
    engine = _create(url)
    try:
        revision = current_revision(engine)
        with engine.connect() as conn:
            jobs = conn.execute(select(func.count()).select_from(Job)).scalar_one() if revision else None
            size = writable = None
            if backend == "postgresql":
                size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
                read_only = "SELECT pg_is_in_recovery() OR current_setting('transaction_read_only') = 'on'"
                may_insert = (
                    revision is None or conn.execute(text("SELECT has_table_privilege('jobs', 'INSERT')")).scalar()
                )
                writable = bool(may_insert) and not conn.execute(text(read_only)).scalar()
    except DBAPIError as exc:
        raise StoreUnavailable(f"cannot read database {where}: {first_line(exc)}") from None
    finally:
        engine.dispose()
    return StoreHealth(where, backend, True, revision, writable, size, jobs)
