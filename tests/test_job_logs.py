"""A job's log (ctx.logger lines and Python warnings) is kept in the store, bounded, and shown by
`aigc jobs logs`, the job page and the API."""

from __future__ import annotations

from datetime import datetime

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from aigc.cli.main import app
from aigc.cli.serve import create_app
from aigc.core.runner import run_job
from aigc.core.store import Store, joblogs
from aigc.core.testing import submit


def test_plugin_log_lines_and_warnings_are_kept_per_job(settings):
    chatty = submit(settings, "toy", "generate", {"n": 3, "chatty": True})
    quiet = submit(settings, "toy", "generate", {"n": 3})
    assert run_job(chatty, settings=settings) == "succeeded"
    assert run_job(quiet, settings=settings) == "succeeded"
    lines = joblogs.lines_after(Store(settings), chatty)
    texts = [(line.level, line.text) for line in lines]
    assert ("INFO", "image 1 of 3") in texts and ("INFO", "image 3 of 3") in texts
    assert any(level == "WARNING" and "UserWarning: toy warning 0" in text for level, text in texts)
    assert [line.line for line in lines] == list(range(1, len(lines) + 1))
    assert joblogs.lines_after(Store(settings), quiet) == []


def test_only_the_newest_lines_are_kept(sqlite_settings):
    store = Store(sqlite_settings)
    job_id = submit(sqlite_settings, "toy", "generate", {"n": 1})
    now = datetime(2026, 1, 1)
    joblogs.append(store, job_id, [(now, "INFO", f"line {i}") for i in range(1, 6001)])
    joblogs.append(store, job_id, [(now, "INFO", f"line {i}") for i in range(6001, 12001)])
    kept = joblogs.lines_after(store, job_id)
    assert len(kept) == joblogs.KEEP == 10_000
    assert kept[0].text == "line 2001" and kept[0].line == 2001 and kept[-1].text == "line 12000"
    assert [line.text for line in joblogs.tail(store, job_id, 2)] == ["line 11999", "line 12000"]


def test_jobs_logs_command_page_and_api(sqlite_settings, monkeypatch):
    job_id = submit(sqlite_settings, "toy", "generate", {"n": 2, "chatty": True})
    run_job(job_id, settings=sqlite_settings)
    monkeypatch.setenv("AIGC_DATABASE_URL", sqlite_settings.database_url)
    shown = CliRunner().invoke(app, ["jobs", "logs", str(job_id)])
    assert shown.exit_code == 0 and "INFO    image 2 of 2" in shown.output
    followed = CliRunner().invoke(app, ["jobs", "logs", str(job_id), "--follow", "--tail", "1"])
    assert followed.exit_code == 0  # a finished job: --follow ends once its lines are out
    assert "toy warning 1" in followed.output and "image" not in followed.output
    with TestClient(create_app(sqlite_settings), base_url="http://127.0.0.1") as client:
        lines = client.get(f"/api/jobs/{job_id}/logs").json()
        assert [x["text"] for x in lines if x["level"] == "INFO"] == ["image 1 of 2", "image 2 of 2"]
        assert client.get(f"/api/jobs/{job_id}/logs", params={"after": lines[-1]["line"]}).json() == []
        assert client.get("/api/jobs/99999/logs").status_code == 404
        page = client.get(f"/jobs/{job_id}").text
        assert 'id="log"' in page and "image 2 of 2" in page
