"""Webhooks: a signed JSON POST on every terminal state, from the store's outbox, retried with backoff
until a receiver that was down is back; each delivery recorded and shown; API URLs allow-listed."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner
from webhook_receiver import Receiver, free_port
from worker_fixtures import wait_until

from aigc.cli.main import app
from aigc.cli.serve import create_app
from aigc.core import webhooks
from aigc.core.errors import UsageError
from aigc.core.jobs import cancel_job
from aigc.core.runner import run_job
from aigc.core.store import Store, notices
from aigc.core.testing import submit

SECRET = "s3cret-for-the-test-only"


def _recipe():
    """The `verify` function of docs/operations.md, run as a receiver would copy it."""
    text = (Path(__file__).parent.parent / "docs" / "operations.md").read_text()
    source = text.split("**Verifying a webhook**")[1].split("```python")[1].split("```")[0]
    namespace: dict = {}
    exec(source, namespace)
    return namespace["verify"]


documented_verify = _recipe()


@pytest.fixture
def quick_backoff(monkeypatch):
    """Backoff of 0.2 s doubling up to 1 s (60 s outages are bench/webhook_outage.py's)."""
    monkeypatch.setenv("AIGC_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("AIGC_WEBHOOK_BACKOFF_SECONDS", "0.2")
    monkeypatch.setenv("AIGC_WEBHOOK_BACKOFF_MAX_SECONDS", "1")
    yield
    webhooks.stop_senders()  # the test's store goes away with it


def _notices(settings, job_id):
    with Store(settings).transaction() as session:
        return [notices.describe(n) for n in notices.notices_of(session, job_id)]


def test_receiver_down_for_a_while_gets_every_notice_once_back(settings, quick_backoff):
    receiver = Receiver(free_port())  # not listening yet: connections are refused
    ok = submit(settings, "toy", "generate", {"n": 2}, notify_url=receiver.url)
    failed = submit(settings, "toy", "generate", {"n": 2, "fail": True}, notify_url=receiver.url)
    queued = submit(settings, "toy", "generate", {"n": 2}, notify_url=receiver.url)
    started = time.monotonic()
    assert run_job(ok, settings=settings) == "succeeded"  # a dead receiver neither fails nor delays the job
    assert run_job(failed, settings=settings) == "failed"
    assert cancel_job(Store(settings), queued) == "cancelled"
    assert time.monotonic() - started < 10
    webhooks.sender_for(Store(settings)).wake()
    wait_until(
        lambda: all(n["attempts"] >= 2 for j in (ok, failed, queued) for n in _notices(settings, j)), 30, "retries"
    )
    first = _notices(settings, ok)[0]
    assert first["state"] == "pending" and first["deliveries"][0]["http_status"] is None
    assert "refused" in first["deliveries"][0]["error"].lower()

    receiver.start()
    try:
        wait_until(lambda: len(receiver.received) >= 3, 30, "the notices, once the receiver is back")
        time.sleep(1.5)  # a duplicate, if any, would come within the backoff cap
    finally:
        receiver.stop()
    bodies = {}
    for headers, body in receiver.received:
        # The documented recipe: HMAC-SHA256 over "<timestamp>.<body>", compared in constant time.
        assert documented_verify(SECRET, headers["x-aigc-timestamp"], body, headers["x-aigc-signature"])
        assert webhooks.verify(SECRET, headers["x-aigc-timestamp"], body, headers["x-aigc-signature"])
        assert not webhooks.verify(
            "another-secret-16chars", headers["x-aigc-timestamp"], body, headers["x-aigc-signature"]
        )
        payload = json.loads(body)
        bodies[payload["id"]] = payload
    assert len(receiver.received) == 3  # every notice once
    assert {j: bodies[j]["status"] for j in bodies} == {ok: "succeeded", failed: "failed", queued: "cancelled"}
    assert bodies[ok]["plugin"] == "toy" and bodies[ok]["kind"] == "generate"
    assert bodies[ok]["links"]["api"] == f"/api/jobs/{ok}" and bodies[failed]["error"]
    done = _notices(settings, ok)[0]
    assert done["state"] == "delivered" and done["deliveries"][-1]["http_status"] == 204
    assert [d["attempt"] for d in done["deliveries"]] == list(range(1, done["attempts"] + 1))


def test_outbox_survives_a_restart_and_gives_up_after_the_last_attempt(sqlite_settings, quick_backoff, monkeypatch):
    monkeypatch.setenv("AIGC_WEBHOOK_ATTEMPTS", "2")
    receiver = Receiver(free_port(), status=500).start()
    try:
        # Recorded by one process; sent by whichever process sends next (here: direct rounds).
        job_id = submit(sqlite_settings, "toy", "generate", {"n": 1}, notify_url=receiver.url)
        run_job(job_id, settings=sqlite_settings)
        store = Store(sqlite_settings)
        wait_until(lambda: _notices(sqlite_settings, job_id)[0]["state"] == "gave_up", 30, "give up")
    finally:
        receiver.stop()
    notice = _notices(sqlite_settings, job_id)[0]
    assert [d["http_status"] for d in notice["deliveries"]] == [500, 500]
    assert webhooks.send_due(store) == 0  # given up: never sent again


def test_default_url_from_the_environment_and_jobs_show(sqlite_settings, quick_backoff, monkeypatch):
    from dataclasses import replace

    receiver = Receiver(free_port()).start()
    try:
        settings = replace(sqlite_settings, webhook_url=receiver.url)
        job_id = submit(settings, "toy", "generate", {"n": 1})
        run_job(job_id, settings=settings)
        wait_until(lambda: _notices(settings, job_id)[0]["state"] == "delivered", 30, "delivery")
    finally:
        receiver.stop()
    monkeypatch.setenv("AIGC_DATABASE_URL", sqlite_settings.database_url)
    shown = CliRunner().invoke(app, ["jobs", "show", str(job_id)])
    rows = [" ".join(line.split()) for line in shown.output.splitlines()]
    assert any(r.startswith(f"webhook http://127.0.0.1:{receiver.port}/hooks/aigc delivered (#1 204 at") for r in rows)
    as_json = json.loads(CliRunner().invoke(app, ["jobs", "show", str(job_id), "--json"]).output)
    assert as_json["webhooks"][0]["deliveries"][0]["http_status"] == 204


def test_api_notify_urls_must_match_the_allow_list(sqlite_settings, quick_backoff, monkeypatch):
    monkeypatch.setenv("AIGC_WEBHOOK_ALLOW", "https://hooks.example.com/aigc/,http://127.0.0.1:9000/")
    body = {"kind": "generate", "plugin": "toy", "params": {"n": 1}}
    with TestClient(create_app(sqlite_settings), base_url="http://127.0.0.1") as client:
        for url in (
            "http://169.254.169.254/latest/meta-data",
            "https://hooks.example.com.evil.org/aigc/x",
            "https://hooks.example.com/other",
            "http://127.0.0.1:9001/",
            "https://user@hooks.example.com/aigc/x",
        ):
            refused = client.post("/api/jobs", json={**body, "notify": url})
            assert refused.status_code == 422 and "is not allowed" in refused.json()["detail"], url
        assert client.get("/api/jobs").json() == []  # nothing stored
        accepted = client.post("/api/jobs", json={**body, "notify": "https://hooks.example.com/aigc/job-done"})
        assert accepted.status_code == 201, accepted.text
    with pytest.raises(UsageError, match="not an http"):
        submit(sqlite_settings, "toy", "generate", {}, notify_url="file:///etc/passwd")


def test_an_embedded_submit_delivers_before_its_process_exits(sqlite_settings):
    import os
    import subprocess
    import sys

    receiver = Receiver(free_port()).start()
    try:
        env = {**os.environ, "AIGC_DATABASE_URL": sqlite_settings.database_url, "AIGC_WEBHOOK_SECRET": SECRET}
        command = [sys.executable, "-m", "aigc.cli", "submit", "generate", "--plugin", "toy", "--notify", receiver.url]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        # Received while the command ran: no other process was there to send it.
        assert len(receiver.received) == 1
        headers, body = receiver.received[0]
        assert json.loads(body)["status"] == "succeeded"
        assert documented_verify(SECRET, headers["x-aigc-timestamp"], body, headers["x-aigc-signature"])
    finally:
        receiver.stop()
