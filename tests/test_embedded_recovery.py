"""An embedded run whose process dies (kill -9, SIGTERM, a store that cannot record the end) leaves a job
that is recoverable without a broker: its lease lapses, and `aigc jobs list/show/wait/cancel/resume/recover`
see it and act on it. Real `aigc` subprocesses against real stores, with a one-second lease."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from dataclasses import replace

import pytest
from conftest import cli, env_for
from sqlalchemy import text, update

from aigc.core.config import Settings
from aigc.core.jobs import wait_for
from aigc.core.leases import keeper
from aigc.core.runner import run_job
from aigc.core.store import Job, Store, queries
from aigc.core.store.models import utcnow
from aigc.core.testing import outcome_of, submit

LEASE = "1"  # seconds: a dead run's job is recoverable one second after its last renewal
EPOCHS = 40


def short_lease(settings: Settings, **extra: str) -> dict[str, str]:
    return env_for(settings, AIGC_LEASE_SECONDS=LEASE, **extra)


def aigc(settings: Settings, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return cli(settings, *args, env=short_lease(settings, **extra))


def job_of(settings: Settings, job_id: int = 1) -> Job:
    with Store(settings).transaction() as session:
        return queries.get_job(session, job_id)


def wait_until(check, what: str, timeout: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # the job row may not exist yet
            pass
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def embedded_train(settings: Settings, **extra: str) -> subprocess.Popen[str]:
    """`aigc submit train --plugin toy` in the background: one checkpoint per epoch, 0.2 s per epoch."""
    return subprocess.Popen(
        [sys.executable, "-m", "aigc.cli", "submit", "train", "--plugin", "toy", "-p", f"epochs={EPOCHS}"]
        + ["-p", "sleep=0.2"],
        env=short_lease(settings, **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill_after_two_checkpoints(settings: Settings, **extra: str) -> Job:
    """Start an embedded training run, kill -9 it once two epochs are checkpointed, and wait for its lease to lapse."""
    runner = embedded_train(settings, **extra)
    try:
        wait_until(lambda: len(outcome_of(settings, 1).metrics) >= 2, "two checkpoints")
    finally:
        runner.kill()
        runner.communicate(timeout=30)
    wait_until(lambda: job_of(settings).lease_expires_at < utcnow(), "the lease to lapse")
    return job_of(settings)


def test_a_killed_run_is_shown_lapsed_and_wait_returns_and_cancel_ends_it(sqlite_settings):
    killed = kill_after_two_checkpoints(sqlite_settings)
    assert killed.status == "running"

    listed = aigc(sqlite_settings, "jobs", "list")
    assert "running (lease lapsed" in listed.stdout, listed.stdout
    shown = aigc(sqlite_settings, "jobs", "show", "1")
    assert "running (lease lapsed" in shown.stdout and "s ago)" in shown.stdout, shown.stdout
    as_json = json.loads(aigc(sqlite_settings, "jobs", "show", "1", "--json").stdout)
    assert (as_json["status"], as_json["lease_lapsed"]) == ("running", True)
    assert json.loads(aigc(sqlite_settings, "jobs", "list", "--json").stdout)[0]["lease_lapsed"] is True

    waited = aigc(sqlite_settings, "jobs", "wait", "1")  # no broker: nobody will ever pick it up
    assert waited.returncode == 1
    lines = waited.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: job 1 is not running: its lease lapsed "), waited.stderr
    assert "aigc jobs resume 1" in lines[0] and "aigc jobs cancel 1" in lines[0]

    cancelled = aigc(sqlite_settings, "jobs", "cancel", "1")
    assert cancelled.returncode == 0, cancelled.stderr
    assert cancelled.stderr.strip() == "job 1 cancelled (its lease had lapsed: nothing was running it)"
    after = outcome_of(sqlite_settings, 1)
    assert (after.job.status, after.job.error) == ("cancelled", "cancelled; its lease had lapsed")
    assert after.job.finished_at is not None and after.job.lease_owner is None
    assert [step for _, step, _ in after.metrics][:2] == [0, 1]  # what its checkpoints committed is kept
    assert json.loads(aigc(sqlite_settings, "jobs", "show", "1", "--json").stdout)["lease_lapsed"] is False


def test_resume_continues_a_killed_run_from_its_last_checkpoint(settings):
    killed = kill_after_two_checkpoints(settings)
    committed = len(outcome_of(settings, 1).metrics)

    resumed = aigc(settings, "jobs", "resume", "1")
    assert resumed.returncode == 0, resumed.stderr
    assert "job 1 succeeded: toy train" in resumed.stderr and "model 1 registered" in resumed.stderr
    outcome = outcome_of(settings, 1)
    assert outcome.job.attempts == killed.attempts + 1 == 2
    # Each epoch exactly once: the resumed attempt started after the last checkpoint, not from scratch.
    assert [step for _, step, _ in outcome.metrics] == list(range(EPOCHS))
    assert [r.meta["epoch"] for r in outcome.results] == list(range(EPOCHS))
    assert committed >= 2
    from safetensors.torch import load_file

    (model,) = outcome.models
    weight = load_file(settings.artifacts / model.sha256[:2] / f"{model.sha256}.safetensors")["weight"]
    assert weight.tolist() == [float(EPOCHS)] * 4

    again = aigc(settings, "jobs", "resume", "1")
    assert (again.returncode, again.stderr.strip()) == (2, "error: job 1 already ended succeeded; nothing to resume")


def test_resume_refuses_a_job_whose_lease_is_held_and_runs_one_never_started(sqlite_settings):
    runner = embedded_train(sqlite_settings)
    try:
        wait_until(lambda: job_of(sqlite_settings).status == "running", "the run to start")
        held = aigc(sqlite_settings, "jobs", "resume", "1")
        assert held.returncode == 2
        assert held.stderr.startswith("error: job 1 is running (its lease is held by ")
        assert held.stderr.strip().endswith("; follow it with `aigc jobs wait 1`")
    finally:
        runner.kill()
        runner.communicate(timeout=30)

    never_started = submit(sqlite_settings, "toy", "generate", {"n": 3})  # stored, never run (e.g. a lost submit)
    resumed = aigc(sqlite_settings, "jobs", "resume", str(never_started), "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["status"] == "succeeded"

    queued = aigc(sqlite_settings, "jobs", "resume", "1", AIGC_BROKER_URL="redis://127.0.0.1:1/0")
    assert queued.returncode == 2
    assert queued.stderr.startswith("error: with a broker (AIGC_BROKER_URL) workers resume lapsed jobs")


def test_resume_out_of_attempts_fails_the_job_as_the_reaper_does(sqlite_settings):
    kill_after_two_checkpoints(sqlite_settings, AIGC_MAX_ATTEMPTS="1")
    resumed = aigc(sqlite_settings, "jobs", "resume", "1")
    assert resumed.returncode == 1
    said = " ".join(resumed.stderr.split())  # rich wraps long lines at the terminal's width
    assert "job 1 failed: toy train" in said
    assert "error: gave up after 1 attempt: the process running it stopped renewing its lease" in said
    job = job_of(sqlite_settings)
    assert job.status == "failed" and job.attempts == 1


def test_recover_without_a_broker_requeues_lapsed_jobs_for_resume(sqlite_settings):
    kill_after_two_checkpoints(sqlite_settings)
    recovered = aigc(sqlite_settings, "jobs", "recover")
    assert recovered.returncode == 0, recovered.stderr
    assert "requeued (lease lapsed): 1" in recovered.stderr
    assert "no broker: continue each here with `aigc jobs resume ID`" in recovered.stderr
    assert recovered.stdout.strip() == "1 requeued, 0 failed, 0 sent"
    assert job_of(sqlite_settings).status == "queued"
    assert aigc(sqlite_settings, "jobs", "resume", "1").returncode == 0
    assert len(outcome_of(sqlite_settings, 1).metrics) == EPOCHS


def test_sigterm_cancels_an_embedded_run_cleanly(settings):
    runner = embedded_train(settings)
    wait_until(lambda: len(outcome_of(settings, 1).metrics) >= 1, "a checkpoint")
    runner.send_signal(signal.SIGTERM)
    code = runner.wait(timeout=60)
    stderr = runner.stderr.read()
    assert code == 143, stderr
    assert stderr.strip() == "error: terminated", stderr
    job = job_of(settings)
    assert (job.status, job.error) == ("cancelled", "terminated (SIGTERM)")
    assert job.lease_owner is None


def test_a_store_that_cannot_record_the_end_leaves_a_lease_that_lapses(settings):
    """The last write fails (the store refuses it, as a full disk would): the process must not keep the
    job claimed; once the lease lapses, the job is recoverable like any other."""
    fast = replace(settings, lease_seconds=1.0)
    job_id = submit(fast, "toy", "generate", {"n": 2})
    store = Store(fast)
    refuse_the_end(store)
    try:
        with pytest.raises(Exception, match="database or disk is full"):
            run_job(job_id, settings=fast)
        assert not keeper.holds(job_id)  # nothing renews the lease any more
        wait_until(lambda: job_of(fast, job_id).lease_expires_at < utcnow(), "the lease to lapse")
    finally:
        accept_the_end(store)
    with pytest.raises(Exception, match=f"job {job_id} is not running: its lease lapsed"):
        wait_for(store, job_id, give_up_when_lapsed=True)
    resumed = aigc(fast, "jobs", "resume", str(job_id))
    assert resumed.returncode == 0, resumed.stderr
    assert job_of(fast, job_id).status == "succeeded"


def test_the_cli_says_in_one_line_that_the_end_was_not_recorded(sqlite_settings):
    store = Store(sqlite_settings)
    refuse_the_end(store)
    try:
        done = aigc(sqlite_settings, "submit", "generate", "--plugin", "toy", "-p", "n=2")
    finally:
        accept_the_end(store)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "error: job 1 ended succeeded but the store could not record it (database or disk is full); "
        "it stays running until its lease lapses (1 s), then `aigc jobs resume 1` runs it again"
    )
    wait_until(lambda: job_of(sqlite_settings).lease_expires_at < utcnow(), "the lease to lapse")
    assert aigc(sqlite_settings, "jobs", "cancel", "1").returncode == 0
    assert job_of(sqlite_settings).status == "cancelled"


def test_wait_with_a_broker_keeps_waiting_for_a_lapsed_job(sqlite_settings):
    """With a broker, a worker's reaper requeues the job, so a lapsed lease is no reason to stop waiting."""
    fast = replace(sqlite_settings, lease_seconds=1.0)
    job_id = submit(fast, "toy", "generate", {"n": 1})
    store = Store(fast)
    with store.transaction() as session:  # as a worker that died left it
        session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(status="running", attempts=1, lease_owner="gone:1:x", lease_expires_at=utcnow())
        )
    assert wait_for(store, job_id, give_up_when_lapsed=False, timeout_s=0.5).status == "running"


# -- a store that refuses the final write -----------------------------------------------------------------
# A trigger stands in for a full disk: the statement that ends the job fails, every other write succeeds.
SQLITE_REFUSE = """CREATE TRIGGER refuse_the_end BEFORE UPDATE OF status ON jobs
WHEN NEW.status IN ('succeeded', 'failed', 'cancelled') AND OLD.status = 'running'
BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"""
POSTGRES_REFUSE = [
    """CREATE FUNCTION refuse_the_end() RETURNS trigger AS $$
    BEGIN RAISE EXCEPTION 'database or disk is full'; END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER refuse_the_end BEFORE UPDATE OF status ON jobs FOR EACH ROW
    WHEN (NEW.status IN ('succeeded', 'failed', 'cancelled') AND OLD.status = 'running')
    EXECUTE FUNCTION refuse_the_end()""",
]


def refuse_the_end(store: Store) -> None:
    statements = [SQLITE_REFUSE] if store.engine.url.get_backend_name() == "sqlite" else POSTGRES_REFUSE
    with store.engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))


def accept_the_end(store: Store) -> None:
    with store.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER IF EXISTS refuse_the_end" + ("" if _sqlite(store) else " ON jobs")))
        if not _sqlite(store):
            conn.execute(text("DROP FUNCTION IF EXISTS refuse_the_end()"))


def _sqlite(store: Store) -> bool:
    return store.engine.url.get_backend_name() == "sqlite"


def test_an_embedded_retry_runs_here_after_its_backoff(sqlite_settings):
    """Without a broker nothing else would run the retry: the submitting process runs it (2 s backoff)."""
    done = aigc(sqlite_settings, "submit", "generate", "--plugin", "toy", "-p", "fail=true", "--retries", "1")
    assert done.returncode == 1
    assert "job 1 failed" in done.stderr and "toy failure on purpose" in done.stderr
    job = job_of(sqlite_settings)
    assert (job.status, job.attempts, job.failures) == ("failed", 2, 2)
