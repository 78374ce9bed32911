"""Fixtures shared by the suite: an isolated aigc home, the toy plugins, the committed test data, and real
SQLite/PostgreSQL stores."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
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


@pytest.fixture(autouse=True, scope="session")
def _isolated_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    home = tmp_path_factory.mktemp("aigc-home")
    saved = dict(os.environ)
    for key in (
        "AIGC_DATABASE_URL",
        "AIGC_ARTIFACTS",
        "AIGC_BROKER_URL",
        "AIGC_SERVER_URL",
        "AIGC_TOKEN",
        "AIGC_API_TOKEN",
    ):
        os.environ.pop(key, None)
    os.environ["AIGC_HOME"] = str(home)
    os.environ["AIGC_PLUGIN_PATH"] = str(TOY_PLUGINS)
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["AIGC_MNIST_MIRROR"] = "http://127.0.0.1:9/"  # a test that forgets `data=` must never reach the internet
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """An MNIST folder of 2,000 labelled digits (IDX, gzip) that the classifier, GAN and diffusion defaults
    never trained on (the VAE's did: its test digits are `vae_test_digits`)."""
    return TEST_DATA / "mnist"


@pytest.fixture(scope="session")
def vae_test_digits() -> Path:
    """The bundled VAE's test split: the first 1,000 shared digits (an images IDX file, gzip)."""
    return TEST_DATA / "mnist-first-1000-idx3-ubyte.gz"


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
    return replace(base, database_url=request.getfixturevalue("empty_postgres_url"))


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    return replace(
        Settings.from_env(),
        database_url=f"sqlite:///{tmp_path / 'aigc.db'}",
        artifacts=tmp_path / "artifacts",
        broker_url=None,
    )


def env_for(settings: Settings, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(AIGC_DATABASE_URL=settings.database_url, AIGC_ARTIFACTS=str(settings.artifacts))
    env.update(extra)
    return env


def cli(
    settings: Settings, *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
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


# Fixtures shared by several modules are registered once, here: a module that imported a session one
# would get its own session-long copy (each holding a Redis DB of the five that test runs share).
from server_fixtures import served  # noqa: E402, F401
from service_fixtures import empty_postgres_url, postgres_url, redis_db  # noqa: E402, F401
from worker_fixtures import cluster  # noqa: E402, F401
