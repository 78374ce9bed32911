"""Job timeouts: the runner ends a job `failed` at its first progress point past the limit; a job that
reaches none is ended by recycling its worker process (a real `aigc worker`), which the supervisor restarts."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner
from worker_fixtures import Cluster

from aigc.cli.main import app, main
from aigc.core.durations import format_duration, parse_duration
from aigc.core.errors import UsageError
from aigc.core.registry import get_plugin
from aigc.core.runner import run_job
from aigc.core.testing import outcome_of, submit


def test_job_past_its_timeout_fails_at_the_next_progress_point_and_is_not_retried(settings):
    job_id = submit(settings, "toy", "generate", {"n": 100, "sleep": 0.05}, timeout_s=0.5, retries=2)
    assert run_job(job_id, settings=settings) == "failed"
    outcome = outcome_of(settings, job_id)
    assert outcome.job.error == "timed out after 0.5s"
    assert outcome.job.attempts == 1 and outcome.job.failures == 1
    assert outcome.results == []  # a failed attempt keeps only what a checkpoint committed
    assert 0.5 <= outcome.job.duration_s < 5  # ended soon after the limit, not after 100 x 0.05 s


def test_plugin_default_timeout_applies_unless_the_job_sets_one(sqlite_settings, monkeypatch):
    monkeypatch.setattr(get_plugin("toy", sqlite_settings.plugin_path), "timeout", 7200.0)
    assert outcome_of(sqlite_settings, submit(sqlite_settings, "toy", "generate", {})).job.timeout_s == 7200.0
    own = submit(sqlite_settings, "toy", "generate", {}, timeout_s=60)
    assert outcome_of(sqlite_settings, own).job.timeout_s == 60


@pytest.mark.parametrize(("text", "seconds", "shown"), [("2h", 7200, "2h"), ("90s", 90, "90s"), ("1.5", 1.5, "1.5s")])
def test_durations(text, seconds, shown):
    assert parse_duration(text, "--timeout") == seconds and format_duration(seconds) == shown


def test_bad_timeout_is_one_line_and_stores_nothing(sqlite_settings, monkeypatch, capsys):
    monkeypatch.setenv("AIGC_DATABASE_URL", sqlite_settings.database_url)
    with pytest.raises(SystemExit) as exit_info:
        main(["submit", "generate", "--plugin", "toy", "--timeout", "2x"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == (
        "error: --timeout '2x' is not a duration; accepted: a number with a unit s, m, h, d or w, such as 90s, "
        "30m, 2h, 30d (no unit: seconds), above 0\n"
    )
    with pytest.raises(UsageError, match="timeout .* is out of range"):
        submit(sqlite_settings, "toy", "generate", {}, timeout_s=10**9)
    listed = CliRunner().invoke(app, ["jobs", "list", "--json"])
    assert listed.output.strip() == "[]"


def test_worker_recycles_a_process_whose_job_reaches_no_progress_point(tmp_path, redis_db):
    cluster = Cluster(tmp_path, redis_db, AIGC_TIMEOUT_GRACE_SECONDS="1")
    try:
        worker = cluster.start("--gpus", "none", name="recycled")
        cluster.wait_ready()
        # One progress point at the start, then 60 s asleep: only the worker can end it.
        stuck = cluster.submit("generate", {"n": 1, "sleep": 60, "images": False}, timeout_s=2)
        job = cluster.wait_status(stuck, "failed", "succeeded", timeout=60)
        assert job.error == "timed out after 2s (it reached no progress point; its worker process was recycled)"
        assert job.attempts == 1 and job.lease_owner is None
        # The supervisor starts the process again, and it runs the next job.
        after = cluster.submit("generate", {"n": 2})
        assert cluster.wait_status(after, "succeeded", "failed", timeout=90).status == "succeeded"
        assert "exited (exit code 75); restarting" in cluster.log_of(worker)
        assert len([r for r in cluster.runs(stuck) if r[0] == "start"]) == 1  # never run again
    finally:
        cluster.close()
