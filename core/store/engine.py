"""Engines per database URL: SQLite tuned for several writers, schema checked once per process.

A SQLite file that is not an aigc store (empty, damaged, another program's) is refused with one line
naming it and what to do; aigc starts a new store only where no file exists.
"""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, DBAPIError, OperationalError, ProgrammingError

from aigc.core.errors import StoreUnavailable, first_line
from aigc.core.masking import masked
from aigc.core.store.schema import SCHEMA_REVISION  # the newest migration's revision id

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def engine_for(url: str) -> Engine:
    """One engine per URL per process, with the schema verified (and, for SQLite, migrated) once."""
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _create(url)
            try:
                _to_head(engine, migrate=engine.url.get_backend_name() == "sqlite")
            except BaseException:
                engine.dispose()
                raise
            _engines[url] = engine
        return engine


def dispose_all() -> None:
    """Forget every engine (a forked child must not share its parent's connections)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose(close=False)
        _engines.clear()


def _create(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:  # ValueError: a port that is no number
        raise StoreUnavailable(masked(f"invalid database URL '{url}': {first_line(exc)}")) from None
    if parsed.get_backend_name() == "sqlite":
        path = sqlite_file(parsed)
        if path is not None:
            _check_file(path)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _tune_sqlite)
        # pysqlite's own BEGIN handling defers the write lock; issuing BEGIN IMMEDIATE ourselves
        # makes concurrent writers queue on the busy timeout instead of failing mid-transaction.
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    try:
        return create_engine(parsed, pool_pre_ping=True, connect_args=_connect_args(parsed.get_backend_name()))
    except Exception as exc:  # a driver missing or a malformed URL
        raise StoreUnavailable(masked(f"cannot use database URL '{url}': {first_line(exc)}")) from None


def sqlite_file(url: URL) -> Path | None:
    """The file of a SQLite URL; None for an in-memory database or another backend."""
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def _check_file(path: Path) -> None:
    """Refuse what cannot be a store file (/dev/null, a folder) before SQLite opens it; make its folder."""
    try:
        if path.exists() and not path.is_file():
            raise StoreUnavailable(
                f"database {path} is not a regular file; point AIGC_DATABASE_URL at one (sqlite:///PATH), "
                "or unset it for the default store"
            )
        above = next((p for p in path.parents if p.exists()), None)
        if above is not None and not above.is_dir():
            raise StoreUnavailable(f"cannot use database {path}: {above} is not a folder")
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreUnavailable(f"cannot use database {path}: {exc.strerror or exc}") from None


def _refuse_empty(path: Path) -> None:
    """An existing file of 0 bytes is not a store aigc made (a new one is never left empty): never start over on it.

    A store that aigc creates gets its header on the first connection (WAL mode is written there),
    under the migration lock, so no other aigc process sees it empty.
    """
    wal = Path(f"{path}-wal")
    if path.is_file() and path.stat().st_size == 0 and not (wal.is_file() and wal.stat().st_size > 0):
        raise StoreUnavailable(
            f"database {path} is an empty file, not an aigc store; delete it to start a new store there, "
            "or point AIGC_DATABASE_URL at another file"
        )


def unusable(url: URL, exc: DBAPIError, server_says: str = "database error on") -> StoreUnavailable:
    """A database error that means the store cannot be used, as one line naming it and what to do.

    For a database server, the line starts with `server_says` and the URL (password hidden).
    """
    reason = first_line(exc)
    path = sqlite_file(url)
    if path is None:
        return StoreUnavailable(masked(f"{server_says} {url.render_as_string(hide_password=True)}: {reason}"))
    if "file is not a database" in reason:
        return StoreUnavailable(
            f"database {path} is not an aigc store ({reason}); move it away or point AIGC_DATABASE_URL at another file"
        )
    if "malformed" in reason:
        return StoreUnavailable(
            f"database {path} is damaged ({reason}); restore it from a backup, or move it away to start a new store"
        )
    return StoreUnavailable(f"cannot use database {path}: {reason}")


def is_unusable(exc: DBAPIError) -> bool:
    """Whether a database error is about the database itself (unreachable, damaged), not about one statement.

    SQLite reports a damaged file as a plain DatabaseError; its subclasses IntegrityError, DataError
    and the like are about what a statement did, and are left to the caller.
    """
    return isinstance(exc, OperationalError) or type(exc) is DatabaseError


def _connect_args(backend: str) -> dict[str, object]:
    return {"connect_timeout": 5} if backend == "postgresql" else {}


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # autocommit at the driver; SQLAlchemy's "begin" hook opens transactions
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _to_head(engine: Engine, *, migrate: bool) -> tuple[str | None, str]:
    """Check the store is aigc's and at the newest schema, migrating it if `migrate`: (before, after).

    A SQLite file is checked under the migration lock: an existing file that is empty, damaged or
    another program's database is refused, never started over.
    """
    path = sqlite_file(engine.url)
    try:
        with _migration_lock(path):
            if path is not None:
                _refuse_empty(path)
            before = current_revision(engine)
            if before == SCHEMA_REVISION:
                return before, before
            if not migrate:
                raise StoreUnavailable(
                    f"database {masked(engine.url.render_as_string(hide_password=True))} is at schema revision "
                    f"{before or 'none'}, this aigc needs {SCHEMA_REVISION}: run `aigc db upgrade`"
                )
            if before is None and path is not None and _has_tables(engine):
                raise StoreUnavailable(
                    f"database {path} is not an aigc store (it holds other tables); "
                    "point AIGC_DATABASE_URL at another file"
                )
            return before, _upgrade(engine)
    except DBAPIError as exc:
        # ProgrammingError too: reading the revision of a PostgreSQL database we may not read
        if not (is_unusable(exc) or isinstance(exc, ProgrammingError)):
            raise
        raise unusable(engine.url, exc, "cannot reach database") from None
    except OSError as exc:  # the lock file next to a SQLite store
        raise StoreUnavailable(f"cannot use database {path}: {exc.strerror or exc}") from None


def _has_tables(engine: Engine) -> bool:
    with engine.connect() as conn:
        return bool(inspect(conn).get_table_names())


@contextmanager
def _migration_lock(path: Path | None) -> Iterator[None]:
    """Serialise checking and migrating a SQLite store across processes (PostgreSQL locks in the migration)."""
    if path is None:
        yield
        return
    with open(f"{path}.migrate.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _upgrade(engine: Engine) -> str:
    """Apply every pending migration (SQLite: under the caller's migration lock)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with engine.begin() as conn:
        if engine.url.get_backend_name() == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(74657301)"))  # one migrator at a time
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    return current_revision(engine) or "none"


def migrate(url: str) -> tuple[str | None, str]:
    """`aigc db upgrade`: bring the database at `url` to the newest schema; returns (before, after)."""
    engine = _create(url)
    try:
        return _to_head(engine, migrate=True)
    finally:
        engine.dispose()
