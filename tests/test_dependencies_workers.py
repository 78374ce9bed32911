"""Dependencies with real worker processes: a dependent never runs before its parent, also when the
worker running the parent is killed with SIGKILL, and a ready dependent whose message was lost is sent
by the reaper."""

from __future__ import annotations

from dataclasses import replace

from worker_fixtures import Cluster, wait_until

from aigc.core.dispatch import dispatcher_for
from aigc.core.runner import run_job
from aigc.core.store import Store

EPOCHS = 8


def test_dependent_waits_for_its_parent_across_a_kill_9(cluster: Cluster) -> None:
    first = cluster.start("--gpus", "none", "--concurrency", "2", name="first")
    parent = cluster.submit("train", {"epochs": EPOCHS, "sleep": 0.4})
    child = cluster.submit("generate", {"n": 1}, after=(parent,))
    grandchild = cluster.submit("generate", {"n": 1}, after=(child,))
    assert cluster.job(child).dispatched_at is None  # not sent while its parent runs
    # A message that arrives early anyway (a duplicate, a hand-made send) is refused at claim.
    dispatcher_for(cluster.settings).send(Store(cluster.settings), [cluster.job(child), cluster.job(grandchild)])
    wait_until(
        lambda: (j := cluster.job(parent)).checkpoint_sha256 is not None and j.progress >= 2 / EPOCHS,
        90,
        "a checkpoint",
    )
    cluster.kill(first)
    assert cluster.job(child).status == "queued" and not cluster.runs(child)

    cluster.start("--gpus", "none", name="second")
    done = cluster.wait_status(grandchild, "succeeded", "failed", "cancelled", timeout=120)
    assert done.status == "succeeded", done.error
    assert cluster.job(parent).attempts == 2 and cluster.job(parent).status == "succeeded"
    parent_end = float(next(run for run in cluster.runs(parent) if run[0] == "end")[-2])
    (child_start,) = [float(run[-2]) for run in cluster.runs(child) if run[0] == "start"]
    (grand_start,) = [float(run[-2]) for run in cluster.runs(grandchild) if run[0] == "start"]
    assert parent_end <= child_start <= grand_start


def test_failed_parent_on_a_worker_cancels_its_dependents(cluster: Cluster) -> None:
    cluster.start("--gpus", "none", name="w")
    parent = cluster.submit("generate", {"n": 1, "fail_attempts": 5})
    child = cluster.submit("generate", {"n": 1}, after=(parent,))
    job = cluster.wait_status(child, "cancelled", "succeeded", timeout=60)
    assert job.error == f"cancelled: job {parent}, which it waits for, failed"
    assert not cluster.runs(child)


def test_reaper_sends_a_ready_dependent_whose_message_was_lost(cluster: Cluster) -> None:
    parent = cluster.submit("generate", {"n": 1}, send=False)
    child = cluster.submit("generate", {"n": 1}, after=(parent,), send=False)
    # The parent ends where nothing sends its dependents (as if the process died right after the end).
    assert run_job(parent, settings=replace(cluster.settings, broker_url=None)) == "succeeded"
    assert cluster.job(child).dispatched_at is None
    cluster.start("--gpus", "none", name="w")
    job = cluster.wait_status(child, "succeeded", "failed", timeout=60)
    assert job.status == "succeeded"
