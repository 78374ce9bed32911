"""AIGC_BROKER_URL as a user gets it wrong: a URL no Redis transport takes is refused before anything is
stored, and every error reaching the broker (down, wrong password, no such database) is one line with the
password masked. Real `aigc` subprocesses, the real Redis on 127.0.0.1:6379, real closed ports."""

from __future__ import annotations

import pytest
from conftest import cli, env_for

from aigc.core.store import Store, queries

SECRET = "S3cretPW"
ACCEPTED = (
    "accepted: a Redis URL: redis://host[:port][/db] (a login goes before the host as user:password@), "
    "rediss://... (TLS) or redis+socket:///path/to/redis.sock; or unset"
)

UNUSABLE = [
    ("http://127.0.0.1:1/", "scheme 'http' is not a Redis transport"),
    (f"amqp://guest:{SECRET}@127.0.0.1:5672//", "scheme 'amqp' is not a Redis transport"),
    ("127.0.0.1:6379", "not a URL"),
    ("redis://127.0.0.1:6379/abc", "database 'abc' is not a number"),
    ("redis://127.0.0.1:6379/²", "database '²' is not a number"),
    ("redis://127.0.0.1:99999/0", "port 99999 is not a number from 1 to 65535"),
    ("redis://127.0.0.1:port/0", "port 'port' is not a number from 1 to 65535"),
    ("redis+socket://", "no socket path"),
]


def stored_jobs(settings) -> int:  # type: ignore[no-untyped-def]
    with Store(settings).transaction() as session:
        return len(queries.list_jobs(session, limit=100))


@pytest.mark.parametrize(("url", "reason"), UNUSABLE, ids=[u for u, _ in UNUSABLE])
def test_a_broker_url_no_redis_transport_takes_is_one_line_and_stores_nothing(sqlite_settings, url, reason):
    env = env_for(sqlite_settings, AIGC_BROKER_URL=url)
    done = cli(sqlite_settings, "submit", "generate", "--plugin", "toy", "-p", "n=1", env=env)
    assert done.returncode == 2, done.stderr
    shown = url.replace(SECRET, "***")
    assert done.stderr == f"error: AIGC_BROKER_URL={shown!r} is not valid ({reason}); {ACCEPTED}\n"
    assert SECRET not in done.stderr
    assert stored_jobs(sqlite_settings) == 0


@pytest.mark.parametrize("url", ["redis://", "redis://h:6380", "rediss://u:p@h:6380/3", "redis+socket:///run/r.sock"])
def test_redis_urls_are_accepted(sqlite_settings, url):
    done = cli(sqlite_settings, "config", "--json", env=env_for(sqlite_settings, AIGC_BROKER_URL=url))
    assert done.returncode == 0, done.stderr


def submit_to(settings, url: str):  # type: ignore[no-untyped-def]
    env = env_for(settings, AIGC_BROKER_URL=url)
    return cli(settings, "submit", "generate", "--plugin", "toy", "-p", "n=1", env=env)


def one_line(done) -> str:  # type: ignore[no-untyped-def]
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert SECRET not in done.stderr
    return lines[0]


def test_an_unreachable_broker_is_one_line_with_the_password_masked(sqlite_settings):
    line = one_line(submit_to(sqlite_settings, f"redis://:{SECRET}@127.0.0.1:1/0"))
    assert line == (
        "error: cannot reach the broker at redis://:***@127.0.0.1:1/0 "
        "(Error 111 connecting to 127.0.0.1:1. Connection refused); job 1 stays queued in the store and will "
        "be sent when the broker is back (by any running worker, or now with `aigc jobs recover`)"
    )


def test_a_wrong_password_is_one_line_saying_so(sqlite_settings, redis_db):
    line = one_line(submit_to(sqlite_settings, f"redis://nosuchuser:{SECRET}@127.0.0.1:6379/{redis_db}"))
    assert line == (
        f"error: the broker at redis://nosuchuser:***@127.0.0.1:6379/{redis_db} refused the login "
        "(invalid username-password pair or user is disabled): check the user and password in AIGC_BROKER_URL; "
        "job 1 stays queued in the store and will be sent by any running worker, or with `aigc jobs recover` "
        "once AIGC_BROKER_URL is right"
    )


def test_a_database_number_redis_lacks_is_one_line_saying_so(sqlite_settings):
    line = one_line(submit_to(sqlite_settings, "redis://127.0.0.1:6379/999"))
    assert line.startswith(
        "error: the broker at redis://127.0.0.1:6379/999 has no database 999 (DB index is out of range): "
        "check the database number in AIGC_BROKER_URL; job 1 stays queued in the store"
    )


def test_a_port_where_no_redis_answers_is_one_line(sqlite_settings, postgres_url):
    """PostgreSQL's port answers, but not as Redis does."""
    line = one_line(submit_to(sqlite_settings, "redis://127.0.0.1:5432/0"))
    assert line.startswith("error: cannot reach the broker at redis://127.0.0.1:5432/0 (")


@pytest.mark.parametrize("command", [["jobs", "recover"], ["workers"]])
def test_recover_and_workers_say_the_same_in_one_line(sqlite_settings, redis_db, command):
    url = f"redis://nosuchuser:{SECRET}@127.0.0.1:6379/{redis_db}"
    assert submit_to(sqlite_settings, url).returncode == 2  # a job left queued, unsent, for recover to send
    done = cli(sqlite_settings, *command, env=env_for(sqlite_settings, AIGC_BROKER_URL=url))
    said = " ".join(done.stderr.split())  # `aigc workers` warns through rich, wrapped at the terminal width
    assert f"the broker at redis://nosuchuser:***@127.0.0.1:6379/{redis_db} refused the login" in said
    assert SECRET not in done.stderr
