"""Engines per database URL: SQLite tuned for several writers, schema checked once per process."""

from __future__ import annotations

import fcntl
import threading
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, ProgrammingError

from aigc.core.errors import StoreUnavailable, first_line
from aigc.core.store.schema import SCHEMA_REVISION  # the newest migration's revision id

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def engine_for(url: str) -> Engine:
    """One engine per URL per process, with the schema verified (and, for SQLite, migrated) once."""
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _create(url)
            _ensure_schema(engine, url)
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
    except ArgumentError as exc:
        raise StoreUnavailable(f"invalid database URL '{url}': {exc}") from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
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
        raise StoreUnavailable(f"cannot use database URL '{url}': {exc}") from None


def _connect_args(backend: str) -> dict[str, object]:
    return {"connect_timeout": 5} if backend == "postgresql" else {}


def _tune_sqlite(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
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


def _ensure_schema(engine: Engine, url: str) -> None:
    safe = engine.url.render_as_string(hide_password=True)
    try:
        revision = current_revision(engine)
    except (OperationalError, ProgrammingError) as exc:
        raise StoreUnavailable(f"cannot reach database {safe}: {first_line(exc)}") from None
    if revision == SCHEMA_REVISION:
        return
    if engine.url.get_backend_name() == "sqlite":
        upgrade(engine)  # the embedded store migrates itself on first use
        return
    raise StoreUnavailable(
        f"database {safe} is at schema revision {revision or 'none'}, this aigc needs {SCHEMA_REVISION}: "
        "run `aigc db upgrade`"
    )


def upgrade(engine: Engine) -> str:
    """Apply every pending migration; serialised across processes for SQLite by a lock file."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    lock_path = _lock_file(engine)
    lock = open(lock_path, "w") if lock_path else None
    try:
        if lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
        with engine.begin() as conn:
            if engine.url.get_backend_name() == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(74657301)"))  # one migrator at a time
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
    finally:
        if lock:
            lock.close()
    return current_revision(engine) or "none"


def _lock_file(engine: Engine) -> Path | None:
    database = engine.url.database
    if engine.url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    return Path(database + ".migrate.lock")


def migrate(url: str) -> tuple[str | None, str]:
    """`aigc db upgrade`: bring the database at `url` to the newest schema; returns (before, after)."""
    engine = _create(url)
    safe = engine.url.render_as_string(hide_password=True)
    try:
        before = current_revision(engine)
        after = upgrade(engine)
    except (OperationalError, ProgrammingError) as exc:
        raise StoreUnavailable(f"cannot reach database {safe}: {first_line(exc)}") from None
    finally:
        engine.dispose()
    return before, after
