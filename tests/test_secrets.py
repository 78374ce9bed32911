"""No command, log line, error, page or API answer shows a password: URLs (and password=/token= values) are
masked by one function, `aigc.core.masking.masked`, wherever text leaves aigc."""

from __future__ import annotations

import io
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace

import pytest
from conftest import cli, env_for, write_module
from fastapi.testclient import TestClient
from service_fixtures import POSTGRES_ADMIN_URL, REDIS_HOST, REDIS_PORT, flushdb

from aigc.core.masking import MaskSecrets, masked

SECRET = "S3cretPW"

MASKED = [
    ("postgresql://u:S3cretPW@db/aigc", "postgresql://u:***@db/aigc"),
    ("redis://:S3cretPW@redis-host:6379/0", "redis://:***@redis-host:6379/0"),
    ("error: cannot use 'mysql://u:S3cretPW@h/db': no driver", "error: cannot use 'mysql://u:***@h/db': no driver"),
    ("postgresql://u:S3c/ret@PW@h/db", "postgresql://u:***@h/db"),  # '/' and '@' typed unencoded
    ("redis://:S3cretPW@a/0,redis://u:S3cretPW@b/1", "redis://:***@a/0,redis://u:***@b/1"),
    ("postgresql://u@h/db?password=S3cretPW: refused", "postgresql://u@h/db?password=***: refused"),
    ("host=h password=S3cretPW dbname=aigc", "host=h password=*** dbname=aigc"),
    ("token='S3cretPW'", "token='***'"),
    ("postgresql://u@h/db and https://github.com/x", "postgresql://u@h/db and https://github.com/x"),
    ("max_tokens=5, 4 tokens=4", "max_tokens=5, 4 tokens=4"),
]


@pytest.mark.parametrize(("text", "shown"), MASKED)
def test_masked_hides_passwords_in_free_text(text, shown):
    assert masked(text) == shown and masked(shown) == shown


def test_log_records_and_their_tracebacks_are_masked():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(MaskSecrets())
    logger = logging.getLogger("aigc.test-secrets")
    logger.addHandler(handler)
    try:
        logger.warning("broker %s said %s (%d tries)", "redis://:S3cretPW@h/0", ValueError("password=S3cretPW"), 3)
        try:
            raise RuntimeError("cannot reach postgresql://u:S3cretPW@h/db")
        except RuntimeError:
            logger.exception("round failed")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert SECRET not in text
    assert "broker redis://:***@h/0 said password=*** (3 tries)" in text
    assert "RuntimeError: cannot reach postgresql://u:***@h/db" in text


DATABASE_URLS = [
    "postgresql+nosuch://u:S3cretPW@127.0.0.1/db",  # a driver that does not exist
    "postgresql://u:S3cretPW@127.0.0.1:1/db",  # nothing listens
    POSTGRES_ADMIN_URL.replace("://postgres@", "://nosuchrole:S3cretPW@"),  # the server refuses the role
    "postgresql://u:S3cretPW@127.0.0.1:notaport/db",  # a URL SQLAlchemy cannot read
    "postgresql://u@127.0.0.1:1/db?password=S3cretPW",
]


@pytest.mark.parametrize("url", DATABASE_URLS)
def test_a_database_url_with_a_password_is_never_shown(sqlite_settings, url):
    env = env_for(sqlite_settings, AIGC_DATABASE_URL=url, COLUMNS="500")
    for command in (
        ["jobs", "list"],
        ["db", "upgrade"],
        ["submit", "generate", "--plugin", "toy", "-p", "n=1"],
        ["workers"],
        ["config", "--json"],
    ):
        done = cli(sqlite_settings, *command, env=env)
        assert SECRET not in done.stdout + done.stderr, command
        if command[0] != "config":
            assert done.returncode == 2 and done.stderr.startswith("error: ") and done.stderr.count("\n") == 1
            assert "***" in done.stderr


BROKER_URLS = ["redis://:S3cretPW@127.0.0.1:1/0", "redis://u:S3cretPW@nosuchhost.invalid:6379/0"]


@pytest.mark.parametrize("url", BROKER_URLS)
def test_a_broker_url_with_a_password_is_never_shown(sqlite_settings, url):
    env = env_for(sqlite_settings, AIGC_BROKER_URL=url, COLUMNS="500")
    outputs = []
    for command in (
        ["submit", "generate", "--plugin", "toy", "-p", "n=1"],
        ["workers"],
        ["jobs", "recover"],
        ["config"],
    ):
        done = cli(sqlite_settings, *command, env=env)
        outputs.append(done.stdout + done.stderr)
    assert all(SECRET not in text for text in outputs)
    assert "cannot reach the broker at redis://" in outputs[0] and ":***@" in outputs[0]


LEAKY_PLUGIN = """
from pydantic import Field, model_validator

from aigc.core.plugin import JobParams, Modality, Plugin

URL = "https://fetcher:S3cretPW@data.example/list"


class Gen(JobParams):
    n: int = Field(1, ge=1, le=10, description="items")
    explode: bool = Field(False, description="fail while checking the params (a plugin bug)")

    @model_validator(mode="after")
    def _check(self):
        if self.explode:
            raise RuntimeError(f"validator could not fetch {URL}")
        return self


class Leaky(Plugin):
    name = "leaky"
    modality = Modality.image
    description = "fails quoting a URL with a password"
    queue = "cpu"
    GenerateParams = Gen

    def generate(self, ctx, params):
        raise RuntimeError(f"cannot fetch {URL}")
"""


@pytest.fixture
def leaky(sqlite_settings, tmp_path):
    folder = tmp_path / "plugins"
    folder.mkdir()
    write_module(folder / "leaky.py", LEAKY_PLUGIN)
    return replace(sqlite_settings, plugin_path=(folder,))


def test_a_job_error_quoting_a_password_is_stored_masked(leaky):
    env = env_for(leaky, AIGC_PLUGIN_PATH=str(leaky.plugin_path[0]), COLUMNS="500")
    done = cli(leaky, "submit", "generate", "--plugin", "leaky", env=env)
    assert done.returncode == 1 and SECRET not in done.stdout + done.stderr
    shown = cli(leaky, "jobs", "show", "1", "--json", env=env)
    assert "RuntimeError: cannot fetch https://fetcher:***@data.example/list" in shown.stdout
    assert SECRET not in shown.stdout + cli(leaky, "jobs", "show", "1", env=env).stdout

    with TestClient(create_app_for(leaky), base_url="http://127.0.0.1") as client:
        for path in ("/api/jobs/1", "/jobs/1", "/api/jobs"):
            response = client.get(path)
            assert response.status_code == 200 and SECRET not in response.text, path


def test_the_debug_traceback_is_masked(leaky):
    env = env_for(leaky, AIGC_PLUGIN_PATH=str(leaky.plugin_path[0]), AIGC_DEBUG="1")
    done = cli(leaky, "submit", "generate", "--plugin", "leaky", "-p", "explode=true", env=env)
    assert done.returncode == 1
    assert "Traceback (most recent call last)" in done.stderr
    assert "RuntimeError: validator could not fetch https://fetcher:***@data.example/list" in done.stderr
    assert SECRET not in done.stdout + done.stderr
    env.pop("AIGC_DEBUG")
    without = cli(leaky, "submit", "generate", "--plugin", "leaky", "-p", "explode=true", env=env)
    assert SECRET not in without.stderr and "fetcher:***@" in without.stderr  # the one-line form too


def test_server_pages_and_answers_show_no_broker_password(sqlite_settings):
    settings = replace(sqlite_settings, broker_url="redis://:S3cretPW@127.0.0.1:1/0")
    with TestClient(create_app_for(settings), base_url="http://127.0.0.1") as client:
        submitted = client.post("/api/jobs", json={"kind": "generate", "plugin": "toy", "params": {"n": 1}})
        workers_page, workers_api = client.get("/workers"), client.get("/api/workers")
    assert "cannot reach the broker at redis://:***@127.0.0.1:1/0" in workers_api.text
    for response in (submitted, workers_page, workers_api):
        assert SECRET not in response.text


def test_the_worker_log_shows_no_password(empty_postgres_url, redis_db, tmp_path):
    # PostgreSQL here trusts local connections, so the password is sent and ignored; Redis has none set.
    flushdb(redis_db)
    database = empty_postgres_url.replace("://postgres@", f"://postgres:{SECRET}@")
    env = dict(
        os.environ,
        AIGC_DATABASE_URL=database,
        AIGC_BROKER_URL=f"redis://:{SECRET}@{REDIS_HOST}:{REDIS_PORT}/{redis_db}",
        AIGC_ARTIFACTS=str(tmp_path / "artifacts"),
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "aigc.cli", "worker", "--gpus", "none", "--name", "secrets"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = worker.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "ready on" in line:
                break
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        rest, _ = worker.communicate(timeout=60)
    text = "".join(lines) + rest
    assert any("ready on" in line for line in lines), text
    assert "redis://:***@" in text or "redis://:**@" in text
    assert SECRET not in text


def create_app_for(settings):
    from aigc.cli.serve import create_app

    return create_app(settings)
