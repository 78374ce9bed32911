"""The newest jobs in brief, for shell completion of job ids.

A TAB must answer in a fraction of a second, and importing SQLAlchemy alone takes longer than that
on a slow machine; so a SQLite store is read with the standard library's sqlite3, read-only (a
missing file is not created). Any other database goes through the store's own query.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from aigc.core.config import Settings


@dataclass(frozen=True)
class JobBrief:
    id: int
    status: str
    plugin: str
    kind: str


def recent_jobs(settings: Settings, limit: int) -> list[JobBrief]:
    """The newest `limit` jobs, newest first."""
    path = sqlite_file(settings.database_url)
    if path is None:
        from aigc.core.store import Store, queries

        with Store(settings).transaction() as session:
            return [JobBrief(j.id, j.status, j.plugin, j.kind) for j in queries.list_jobs(session, limit=limit)]
    if not path.exists():
        return []
    with closing(sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True, timeout=1)) as conn:
        rows = conn.execute("SELECT id, status, plugin, kind FROM jobs ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
    return [JobBrief(*row) for row in rows]


def sqlite_file(url: str) -> Path | None:
    """The file of a plain `sqlite:///path` URL; None for anything else (other databases, options, memory)."""
    for prefix in ("sqlite:///", "sqlite+pysqlite:///"):
        if url.startswith(prefix) and "?" not in url:
            name = url.removeprefix(prefix)
            return Path(name) if name and name != ":memory:" else None
    return None
