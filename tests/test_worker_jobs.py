"""Jobs on real workers: cancel (queued and running, never the wrong job), failures with their
traceback, retries with backoff, and `aigc workers` showing who runs what."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from worker_fixtures import Cluster, wait_until

from aigc.core.jobs import cancel_job
from aigc.core.store import Store


@pytest.fixture(scope="module")
def two_slots(tmp_path_factory: pytest.TempPathFactory, redis_db: int) -> Iterator[Cluster]:
    """One `aigc worker` with two CPU processes, shared by the tests of this module."""
    c = Cluster(Path(tmp_path_factory.mktemp("two-slots")), redis_db)
    c.start("--gpus", "none", "--concurrency", "2", name="worker")
    c.wait_ready(2)
    yield c
    c.close()


def test_cancel_running_and_queued_jobs_never_touches_the_wrong_one(two_slots: Cluster) -> None:
    c = two_slots
    keep = c.submit("generate", {"n": 24, "sleep": 0.25, "images": False})
    stop = c.submit("generate", {"n": 400, "sleep": 0.25, "images": False})
    c.wait_status(keep, "running")
    c.wait_status(stop, "running")
    queued = c.submit("generate", {"n": 1})  # both processes are busy: it waits in Redis
    assert cancel_job(Store(c.settings), queued) == "cancelled"

    # The store has nothing left to claim; Redis still holds the cancelled job's message.
    status = json.loads(_aigc(c, "workers", "--json").stdout)
    assert sorted(j for w in status["workers"] for j in w["running"]) == [keep, stop]
    assert {"queue": "cpu", "queued": 0, "messages": 1} in status["queues"]

    assert _aigc(c, "jobs", "cancel", str(stop)).returncode == 0
    cancelled = c.wait_status(stop, "cancelled", "succeeded", "failed", timeout=30)
    assert cancelled.status == "cancelled" and cancelled.progress < 0.5
    assert c.wait_status(keep, "succeeded", "failed", "cancelled").status == "succeeded"

    # The queued job's message is still delivered, and dropped: it never runs.
    wait_until(lambda: c.depth() == 0, 30, "the cancelled job's message to be consumed")
    job = c.job(queued)
    assert job.status == "cancelled" and job.attempts == 0 and job.started_at is None
    assert c.runs(queued) == []


def test_raising_job_fails_with_its_traceback(two_slots: Cluster) -> None:
    job_id = two_slots.submit("generate", {"fail_attempts": 1})
    job = two_slots.wait_status(job_id, "failed", "succeeded")
    assert job.status == "failed" and job.attempts == 1
    assert "Traceback (most recent call last)" in job.error
    assert "RuntimeError: wtoy fails on attempt 1 on purpose" in job.error


def test_retries_rerun_a_raising_job_with_backoff(two_slots: Cluster) -> None:
    job_id = two_slots.submit("generate", {"fail_attempts": 2}, retries=2)
    job = two_slots.wait_status(job_id, "succeeded", "failed", timeout=60)
    assert job.status == "succeeded" and job.attempts == 3 and job.failures == 2
    starts = [float(run[3]) for run in two_slots.runs(job_id) if run[0] == "start"]
    assert len(starts) == 3
    # Backoff of 2 s, then 4 s, before the next attempt may start.
    assert starts[1] - starts[0] >= 2 and starts[2] - starts[1] >= 4


def _aigc(c: Cluster, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aigc.cli", *args], env=c.env, capture_output=True, text=True, timeout=60
    )
