"""The broker is not the truth: a lost Redis queue, a broker down at submit, and priorities."""

from __future__ import annotations

import subprocess
import sys

from service_fixtures import flushdb
from worker_fixtures import Cluster, wait_until


def _aigc(c: Cluster, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aigc.cli", *args], env={**c.env, **env}, capture_output=True, text=True, timeout=60
    )


def _ran_once(c: Cluster, job_id: int) -> None:
    job = c.wait_status(job_id, "succeeded", "failed", timeout=60)
    assert job.status == "succeeded" and job.attempts == 1, job.error
    assert [run[0] for run in c.runs(job_id)] == ["start", "end"]


def test_broker_down_at_submit_says_so_and_the_job_is_sent_later(cluster: Cluster) -> None:
    """The chosen behaviour: a clear error (exit 2) naming the job, and the row stays `queued`, unsent,
    until the broker is back and any worker's reaper (or `aigc jobs recover`) sends it."""
    down = _aigc(
        cluster,
        "submit",
        "generate",
        "--plugin",
        "wtoy",
        "-p",
        "n=1",
        "-p",
        f"log={cluster.runlog}",
        AIGC_BROKER_URL="redis://127.0.0.1:1/0",
    )
    assert down.returncode == 2
    assert "cannot reach the broker at redis://127.0.0.1:1/0" in down.stderr
    assert "job 1 stays queued in the store" in down.stderr
    job = cluster.job(1)
    assert job.status == "queued" and job.dispatched_at is None

    cluster.start("--gpus", "none", name="worker")
    _ran_once(cluster, 1)


def test_lost_broker_queue_is_resent_by_recover_and_by_the_reaper(cluster: Cluster) -> None:
    # No worker yet: three jobs wait in Redis, and Redis loses them (a restart without persistence).
    lost = [cluster.submit("generate", {"n": 1}) for _ in range(3)]
    assert cluster.depth() == 3
    flushdb(cluster.redis_db)
    assert cluster.depth() == 0

    recovered = _aigc(cluster, "jobs", "recover")
    assert recovered.returncode == 0, recovered.stderr
    assert "3 sent" in recovered.stdout
    assert cluster.depth() == 3

    worker = cluster.start("--gpus", "none", name="worker")
    for job_id in lost:
        _ran_once(cluster, job_id)

    # The worker is busy; two jobs wait in Redis behind it, and Redis loses them again. The worker's
    # reaper notices the store holds more claimable jobs than the broker and sends them again,
    # keeping their priorities: the high one runs first although it was submitted last.
    busy = cluster.submit("generate", {"n": 12, "sleep": 0.5, "images": False})
    cluster.wait_status(busy, "running")
    low = cluster.submit("generate", {"n": 1}, priority=0)
    high = cluster.submit("generate", {"n": 1}, priority=9)
    assert cluster.depth() == 2
    flushdb(cluster.redis_db)
    wait_until(lambda: cluster.depth() == 2, 30, "the reaper to re-send the lost messages")
    for job_id in (busy, low, high):
        _ran_once(cluster, job_id)
    assert cluster.job(high).started_at < cluster.job(low).started_at
    assert "re-sent [" in cluster.log_of(worker)
