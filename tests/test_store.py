"""The job lifecycle in the store, on SQLite and on the real PostgreSQL: every transition is a compare-and-set."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from aigc.core.context import PendingResult
from aigc.core.errors import UnknownJob
from aigc.core.jobs import Submission, cancel_job, create_job
from aigc.core.plugin import JobKind
from aigc.core.store import Job, JobStatus, Metric, Result, Store, lifecycle, queries
from aigc.core.store.lifecycle import LeaseOwner, Outcome
from aigc.core.store.models import utcnow


def new_job(store: Store, **params) -> Job:
    return create_job(store, Submission(JobKind.generate, "toy", params))


def result(index: int) -> PendingResult:
    return PendingResult(index, "text", "item", "text/plain", None, f"r{index}", 1, {})


def test_create_job_validates_and_pins_seed(settings):
    store = Store(settings)
    job = new_job(store, n=3)
    assert job.status == JobStatus.queued
    assert job.params["n"] == 3 and job.params["seed"] == job.seed
    assert job.queue == "cpu"


def test_a_job_is_claimed_by_exactly_one_attempt(settings):
    store = Store(settings)
    job = new_job(store)
    first = lifecycle.claim_job(store, job.id, LeaseOwner.parse("a:1:x"), 30)
    assert first is not None and first.attempt == 1
    assert lifecycle.claim_job(store, job.id, LeaseOwner.parse("b:2:y"), 30) is None  # held by a live lease


def test_lapsed_lease_lets_a_new_attempt_take_over_and_fences_the_old_one(settings):
    store = Store(settings)
    job = new_job(store)
    old = lifecycle.claim_job(store, job.id, LeaseOwner.parse("a:1:x"), 30)
    with store.transaction() as session:
        session.execute(update(Job).where(Job.id == job.id).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    new = lifecycle.claim_job(store, job.id, LeaseOwner.parse("b:2:y"), 30)
    assert new is not None and new.attempt == 2
    assert lifecycle.poll(store, old) == "lost"
    assert not lifecycle.renew_lease(store, old, 30)
    assert not lifecycle.finish_job(store, old, Outcome(JobStatus.succeeded, results=[result(0)]))
    assert lifecycle.finish_job(store, new, Outcome(JobStatus.succeeded, results=[result(0)]))
    with store.transaction() as session:
        assert [r.text for r in queries.results_of(session, job.id)] == ["r0"]
        assert queries.get_job(session, job.id).attempts == 2


def test_finished_job_is_never_claimed_again(settings):
    store = Store(settings)
    job = new_job(store)
    claim = lifecycle.claim_job(store, job.id, LeaseOwner.parse("a:1:x"), 30)
    lifecycle.finish_job(store, claim, Outcome(JobStatus.succeeded))
    assert lifecycle.claim_job(store, job.id, LeaseOwner.parse("a:1:z"), 30) is None


def test_cancel_queued_job_means_it_never_runs(settings):
    store = Store(settings)
    job = new_job(store)
    assert cancel_job(store, job.id) == JobStatus.cancelled
    assert lifecycle.claim_job(store, job.id, LeaseOwner.parse("a:1:x"), 30) is None


def test_cancel_running_job_is_seen_at_its_next_poll(settings):
    store = Store(settings)
    job, other = new_job(store), new_job(store)
    claim = lifecycle.claim_job(store, job.id, LeaseOwner.parse("a:1:x"), 30)
    other_claim = lifecycle.claim_job(store, other.id, LeaseOwner.parse("a:1:y"), 30)
    assert cancel_job(store, job.id) == JobStatus.running
    assert lifecycle.poll(store, claim) == "cancel"
    assert lifecycle.poll(store, other_claim) is None  # never the wrong job


def test_unknown_job_is_reported(settings):
    with pytest.raises(UnknownJob, match="no job with id 404"):
        cancel_job(Store(settings), 404)


def test_checkpoint_commits_outputs_so_far_and_finish_adds_the_rest(settings):
    store = Store(settings)
    job = new_job(store)
    claim = lifecycle.claim_job(store, job.id, LeaseOwner.parse("a:1:x"), 30)
    assert lifecycle.commit_checkpoint(store, claim, "ab" * 32, [result(0)], [("loss", 0, 1.0)]) is None
    assert lifecycle.commit_checkpoint(store, claim, "ef" * 32, [], []) == "ab" * 32  # the one it replaced
    lifecycle.finish_job(store, claim, Outcome(JobStatus.succeeded, results=[result(1)], metrics=[("loss", 1, 0.5)]))
    with store.transaction() as session:
        assert [r.index for r in queries.results_of(session, job.id)] == [0, 1]
        assert [(m.step, m.value) for m in queries.metrics_of(session, job.id)] == [(0, 1.0), (1, 0.5)]
        assert queries.get_job(session, job.id).checkpoint_sha256 == "ef" * 32


def test_failed_outcome_writes_no_results(settings):
    store = Store(settings)
    job = new_job(store)
    claim = lifecycle.claim_job(store, job.id, LeaseOwner.parse("a:1:x"), 30)
    lifecycle.finish_job(store, claim, Outcome(JobStatus.failed, error="boom", results=[result(0)]))
    with store.transaction() as session:
        assert session.execute(select(Result).where(Result.job_id == job.id)).first() is None
        assert queries.get_job(session, job.id).error == "boom"


def test_retries_requeue_with_backoff_then_fail(settings):
    store = Store(settings)
    job = create_job(store, Submission(JobKind.generate, "toy", {}, retries=1))
    claim = lifecycle.claim_job(store, job.id, LeaseOwner.parse("a:1:x"), 30)
    lifecycle.finish_job(store, claim, Outcome(JobStatus.failed, error="first"))
    with store.transaction() as session:
        row = queries.get_job(session, job.id)
        assert row.status == JobStatus.queued and row.not_before > utcnow()
    assert lifecycle.claim_job(store, job.id, LeaseOwner.parse("a:1:y"), 30) is None  # backing off
    with store.transaction() as session:
        session.execute(update(Job).where(Job.id == job.id).values(not_before=utcnow()))
    claim = lifecycle.claim_job(store, job.id, LeaseOwner.parse("a:1:y"), 30)
    lifecycle.finish_job(store, claim, Outcome(JobStatus.failed, error="second"))
    with store.transaction() as session:
        row = queries.get_job(session, job.id)
        assert (row.status, row.attempts, row.failures, row.error) == ("failed", 2, 2, "second")


def test_reaper_requeues_lapsed_and_fails_jobs_out_of_attempts(settings):
    store = Store(settings)
    alive, dead, spent = new_job(store), new_job(store), new_job(store)
    for job in (alive, dead, spent):
        lifecycle.claim_job(store, job.id, LeaseOwner.parse("a:1:x"), 30)
    past = utcnow() - timedelta(seconds=5)
    with store.transaction() as session:
        session.execute(update(Job).where(Job.id.in_([dead.id, spent.id])).values(lease_expires_at=past))
        session.execute(update(Job).where(Job.id == spent.id).values(attempts=3))
    requeued, failed = lifecycle.reap_lapsed(store)
    assert (requeued, failed) == ([dead.id], [spent.id])
    with store.transaction() as session:
        assert queries.get_job(session, alive.id).status == "running"
        assert "gave up after 3 attempts" in queries.get_job(session, spent.id).error


def test_replayed_metric_steps_replace_the_stored_suffix(settings):
    store = Store(settings)
    job = new_job(store)
    claim = lifecycle.claim_job(store, job.id, LeaseOwner.parse("a:1:x"), 30)
    lifecycle.commit_checkpoint(store, claim, "cd" * 32, [], [("loss", 0, 1.0), ("loss", 1, 0.9)])
    lifecycle.commit_checkpoint(store, claim, "cd" * 32, [], [("loss", 1, 0.8), ("loss", 2, 0.7)])
    with store.transaction() as session:
        rows = session.execute(select(Metric.step, Metric.value).where(Metric.job_id == job.id).order_by(Metric.step))
        assert rows.all() == [(0, 1.0), (1, 0.8), (2, 0.7)]
