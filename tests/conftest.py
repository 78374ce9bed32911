"""Fixtures shared by the suite: an isolated aigc home, the toy plugins, the committed test data, and real
SQLite/PostgreSQL stores."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from aigc.core.config import Settings

TESTS = Path(__file__).parent
TOY_PLUGINS = TESTS / "toy_plugins"
# Small subsets of public data sets, committed so that a fresh clone tests its models (tests/data/README.md).
TEST_DATA = TESTS / "data"
POSTGRES_ADMIN_URL = os.environ.get("AIGC_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"


def need(condition: bool, what: str) -> None:
    """A test that needs a missing service or file fails in CI and is skipped elsewhere."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{what} is required in CI but missing")
    pytest.skip(f"{what} is missing")


@pytest.fixture(autouse=True, scope="session")
def _isolated_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    home = tmp_path_factory.mktemp("aigc-home")
    saved = dict(os.environ)
    for key in ("AIGC_DATABASE_URL", "AIGC_ARTIFACTS", "AIGC_BROKER_URL"):
        os.environ.pop(key, None)
    os.environ["AIGC_HOME"] = str(home)
    os.environ["AIGC_PLUGIN_PATH"] = str(TOY_PLUGINS)
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["AIGC_MNIST_MIRROR"] = "http://127.0.0.1:9/"  # a test that forgets `data=` must never reach the internet
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A scratch database on the real PostgreSQL, migrated with `aigc db upgrade`'s code, dropped after."""
    from sqlalchemy import create_engine, text

    name = f"aigc_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any failure means no server to test against
        need(False, f"PostgreSQL at {POSTGRES_ADMIN_URL} ({exc.__class__.__name__})")
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    from aigc.core.store.engine import migrate

    migrate(url)
    yield url
    from aigc.core.store.engine import dispose_all

    dispose_all()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """An MNIST folder of 2,000 labelled digits (IDX, gzip) that no bundled model trained on."""
    return TEST_DATA / "mnist"


@pytest.fixture(scope="session")
def shakespeare() -> Path:
    """A UTF-8 text file: the first 99,843 characters of Tiny Shakespeare."""
    return TEST_DATA / "tinyshakespeare.txt"


@pytest.fixture(scope="session")
def compose_schema() -> dict[str, Any]:
    """The Compose Specification's JSON schema."""
    return json.loads((TEST_DATA / "compose-spec.json").read_text())


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings for an empty store: a fresh SQLite file, or the scratch PostgreSQL database emptied."""
    base = replace(Settings.from_env(), artifacts=tmp_path / "artifacts", broker_url=None)
    if request.param == "sqlite":
        return replace(base, database_url=f"sqlite:///{tmp_path / 'aigc.db'}")
    url = request.getfixturevalue("postgres_url")
    _empty(url)
    return replace(base, database_url=url)


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    return replace(
        Settings.from_env(),
        database_url=f"sqlite:///{tmp_path / 'aigc.db'}",
        artifacts=tmp_path / "artifacts",
        broker_url=None,
    )


def _empty(url: str) -> None:
    from sqlalchemy import text

    from aigc.core.store.engine import engine_for
    from aigc.core.store.models import Base

    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine_for(url).begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


def env_for(settings: Settings, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(AIGC_DATABASE_URL=settings.database_url, AIGC_ARTIFACTS=str(settings.artifacts))
    env.update(extra)
    return env


def cli(settings: Settings, *args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the real `aigc` command in a subprocess against `settings`' store."""
    return subprocess.run(
        [sys.executable, "-m", "aigc.cli", *args],
        env=env or env_for(settings),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def write_module(path: Path, source: str) -> None:
    """Write a Python module that this process or an earlier subprocess may already have imported.

    Python reuses a cached .pyc while the source's size and mtime (in whole seconds) match what it
    recorded, so a rewrite of the same length within the same second would run the old code. Deleting the
    module's cached bytecode holds whoever imported it first and whatever PYTHONDONTWRITEBYTECODE says;
    new module names would not do for a test that upgrades one package in place.
    """
    path.write_text(source)
    for cached in (path.parent / "__pycache__").glob(f"{path.stem}.*.pyc"):
        cached.unlink()
    importlib.invalidate_caches()  # this process's finders may have listed the folder before the write


# Session fixtures shared by several modules are defined once, here: a module that imported them
# would get its own session-long copy (each holding a Redis DB of the five that test runs share).
from worker_fixtures import pg_url, redis_db  # noqa: E402, F401
