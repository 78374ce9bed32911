"""No lost jobs when workers die: kill -9 of a whole worker, of a prefork pool child, a poison job,
and a job that outlives Redis' visibility timeout (never two runs at once)."""

from __future__ import annotations

import os
import re
import signal
import time

from worker_fixtures import LEASE_S, Cluster, children_of, wait_until

EPOCHS = 8


def _assert_resumed_once(c: Cluster, job_id: int) -> None:
    """Succeeded on the second attempt, resumed from a checkpoint, and no duplicated outputs."""
    job = c.wait_status(job_id, "succeeded", "failed", timeout=90)
    assert job.status == "succeeded", job.error
    assert job.attempts == 2
    assert 0 < job.summary["resumed_from"] < EPOCHS
    results, metrics = c.outputs(job_id)
    assert sorted(r.meta["epoch"] for r in results) == list(range(EPOCHS))
    assert [r.index for r in results] == list(range(EPOCHS))
    assert sorted(step for key, step, _ in metrics if key == "loss") == list(range(EPOCHS))
    starts = [run for run in c.runs(job_id) if run[0] == "start"]
    assert [run[2] for run in starts] == ["1", "2"] and starts[1][4] == str(job.summary["resumed_from"])


def _wait_checkpointed(c: Cluster, job_id: int, epochs_done: int) -> None:
    def checkpointed() -> bool:
        job = c.job(job_id)
        return job.checkpoint_sha256 is not None and job.progress >= epochs_done / EPOCHS

    wait_until(checkpointed, 90, f"job {job_id} to checkpoint epoch {epochs_done}")


def test_kill_9_of_whole_worker_requeues_within_a_lease_and_resumes(cluster: Cluster) -> None:
    first = cluster.start("--gpus", "none", name="first")
    job_id = cluster.submit("train", {"epochs": EPOCHS, "sleep": 0.4})
    _wait_checkpointed(cluster, job_id, 2)
    cluster.kill(first)  # the supervisor and its Celery process: a node lost
    killed_at = time.monotonic()
    assert cluster.job(job_id).status == "running"  # the store still believes it; only the lease can tell

    cluster.start("--gpus", "none", name="second")
    wait_until(lambda: cluster.job(job_id).attempts == 2, 60, "the second attempt")
    requeued_after = time.monotonic() - killed_at
    # Lapse (one lease) + at most one reaper period; the new worker's start-up is on top of that.
    assert requeued_after < LEASE_S + LEASE_S / 3 + 15, requeued_after
    _assert_resumed_once(cluster, job_id)


def test_kill_9_of_prefork_pool_child_only(cluster: Cluster) -> None:
    """Celery requeues the lost child's message at once; the store drops that delivery while the dead
    attempt's lease lasts, then the reaper (in the surviving parent) requeues the job."""
    parent = cluster.start(
        "--pool",
        "prefork",
        "--concurrency",
        "1",
        "--queues",
        "cpu",
        "--hostname",
        "pf@%h",
        "--without-gossip",
        "--without-mingle",
        "--loglevel",
        "INFO",
        name="prefork",
        celery=True,
    )
    job_id = cluster.submit("train", {"epochs": EPOCHS, "sleep": 0.4})
    _wait_checkpointed(cluster, job_id, 2)
    (child,) = children_of(parent.pid)
    os.kill(child, signal.SIGKILL)
    _assert_resumed_once(cluster, job_id)
    assert parent.poll() is None  # the parent survived and forked a new child
    log = cluster.log_of(parent)
    assert "WorkerLostError" in log or "delivery dropped" in log


def test_poison_job_is_capped_and_the_supervisor_restarts_its_worker(cluster: Cluster) -> None:
    worker = cluster.start("--gpus", "none", name="poison")
    job_id = cluster.submit("generate", {"crash": True}, max_attempts=2)
    job = cluster.wait_status(job_id, "failed", timeout=90)
    assert job.attempts == 2
    assert "gave up after 2 attempts" in (job.error or "")
    assert len([r for r in cluster.runs(job_id) if r[0] == "start"]) == 2
    assert worker.poll() is None
    assert cluster.log_of(worker).count("exited (killed by SIGKILL); restarting") >= 1


def test_job_longer_than_visibility_timeout_never_runs_twice_at_once(cluster: Cluster) -> None:
    worker = cluster.start(
        "--gpus", "none", "--concurrency", "2", name="vt", AIGC_VISIBILITY_TIMEOUT="2", AIGC_RESEND_SECONDS="3600"
    )
    cluster.wait_ready(2)
    job_id = cluster.submit("generate", {"n": 12, "sleep": 0.5, "images": False})
    job = cluster.wait_status(job_id, "succeeded", "failed", timeout=90)
    assert job.status == "succeeded" and job.attempts == 1
    assert [run[0] for run in cluster.runs(job_id)] == ["start", "end"]
    # Redis delivered the same message again while it ran (every 2 s): the idle process dropped it.
    log = cluster.log_of(worker)
    ran = set(re.findall(r"run_job\[([0-9a-f-]+)\] succeeded in [0-9.]+s: 'job succeeded'", log))
    dropped = set(re.findall(r"run_job\[([0-9a-f-]+)\] succeeded in [0-9.]+s: 'dropped: held by another attempt'", log))
    assert len(ran) == 1 and ran <= dropped, log[-3000:]


def test_sigterm_hands_the_running_job_back_after_the_soft_shutdown_window(cluster: Cluster) -> None:
    """`docker stop` / Ctrl-C: the job gets the window, then goes back to the queue without spending
    an attempt, and another worker runs it right away (no lease to wait for)."""
    first = cluster.start("--gpus", "none", name="first", AIGC_SOFT_SHUTDOWN_SECONDS="1")
    job_id = cluster.submit("generate", {"n": 30, "sleep": 0.2, "images": False})
    cluster.wait_status(job_id, "running")
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=30) == 0
    job = cluster.job(job_id)
    assert job.status == "queued" and job.attempts == 0 and job.progress < 1
    assert "handed back to the queue" in cluster.log_of(first)

    cluster.start("--gpus", "none", name="second")
    job = cluster.wait_status(job_id, "succeeded", "failed", timeout=60)
    assert job.status == "succeeded" and job.attempts == 1
    assert [run[0] for run in cluster.runs(job_id)] == ["start", "start", "end"]
