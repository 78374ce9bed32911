"""The real services the tests talk to: PostgreSQL (scratch databases) and Redis (private DB numbers).

A test that needs one that does not answer is skipped with the way to start it, or fails under CI=true.
"""

from __future__ import annotations

import fcntl
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

POSTGRES_ADMIN_URL = os.environ.get("AIGC_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
IN_CI = os.environ.get("CI", "").lower() == "true"
START_SERVICES = "start it with `bash scripts/services.sh`, or run the suite with `bash scripts/test.sh`"


def need(ok: bool, what: str, how: str) -> None:
    """A test that needs a missing service or tool fails in CI, and elsewhere is skipped saying how to enable it."""
    if ok:
        return
    if IN_CI:
        pytest.fail(f"{what} is required in CI but missing; {how}")
    pytest.skip(f"{what} is missing; {how}")


@contextmanager
def scratch_database(prefix: str = "aigc_test") -> Iterator[str]:
    """An empty database of our own on the real PostgreSQL (no schema yet), dropped afterwards."""
    from sqlalchemy import create_engine, text

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # any failure means no server to test against
        admin.dispose()
        need(False, f"PostgreSQL at {POSTGRES_ADMIN_URL} ({type(exc).__name__})", START_SERVICES)
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A scratch database migrated with `aigc db upgrade`'s code, shared by the session's PostgreSQL tests."""
    from aigc.core.store.engine import dispose_all, migrate

    with scratch_database() as url:
        migrate(url)
        yield url
        dispose_all()


def empty_database(url: str) -> None:
    """Every table of the store at `url` emptied, ids restarting at 1: a test starts from a fresh store."""
    from sqlalchemy import text

    from aigc.core.store.engine import engine_for
    from aigc.core.store.models import Base

    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine_for(url).begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
def empty_postgres_url(postgres_url: str) -> str:
    empty_database(postgres_url)
    return postgres_url


@pytest.fixture(scope="session")
def redis_db() -> Iterator[int]:
    """A Redis DB number (11-15) no other test run on this machine holds, emptied before each use."""
    try:
        socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=2).close()
    except OSError:
        need(False, f"Redis at {REDIS_HOST}:{REDIS_PORT}", START_SERVICES)
    for db in range(11, 16):
        lock = open(f"/tmp/aigc-test-redis-db{db}.lock", "w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            continue
        try:
            yield db
        finally:
            lock.close()
        return
    pytest.fail("Redis DBs 11-15 are all held by other test runs")


def flushdb(db: int) -> None:
    import redis

    redis.Redis(REDIS_HOST, REDIS_PORT, db=db).flushdb()
