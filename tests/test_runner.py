"""run_job end to end with the toy plugins: outputs, failures, cancellation, crash and resume, checkpoints."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import update

from aigc.core.errors import ArtifactCorrupt
from aigc.core.images import read_png_text
from aigc.core.jobs import cancel_job
from aigc.core.provenance import unlabelled
from aigc.core.runner import run_job
from aigc.core.store import Job, Store, queries
from aigc.core.store.models import utcnow
from aigc.core.testing import outcome_of, submit


def test_generate_writes_results_in_one_go(settings):
    job_id = submit(settings, "toy", "generate", {"n": 5, "seed": 7})
    assert run_job(job_id, settings=settings) == "succeeded"
    outcome = outcome_of(settings, job_id)
    assert [r.index for r in outcome.items] == [0, 1, 2, 3, 4]
    assert read_png_text(outcome.items[0].data) == {"index": "0", "seed": "7"}
    assert outcome.job.attempts == 1 and outcome.job.progress == 1.0
    assert outcome.job.started_at <= outcome.job.finished_at


def test_same_seed_gives_identical_results(sqlite_settings):
    first = submit(sqlite_settings, "toy", "generate", {"seed": 3})
    second = submit(sqlite_settings, "toy", "generate", {"seed": 3})
    run_job(first, settings=sqlite_settings), run_job(second, settings=sqlite_settings)
    # Byte-identical but for the provenance label, which names each job (tests/test_provenance.py).
    assert [unlabelled(r.data) for r in outcome_of(sqlite_settings, first).items] == [
        unlabelled(r.data) for r in outcome_of(sqlite_settings, second).items
    ]


def test_plugin_that_raises_ends_failed_with_traceback_and_no_results(settings):
    job_id = submit(settings, "toy", "generate", {"n": 3, "fail": True})
    assert run_job(job_id, settings=settings) == "failed"
    outcome = outcome_of(settings, job_id)
    assert "RuntimeError: toy failure on purpose" in outcome.job.error
    assert "Traceback" in outcome.job.error and "toy.py" in outcome.job.error
    assert outcome.results == []


def test_cancel_running_job_stops_it_at_next_progress_point(settings):
    job_id = submit(settings, "toy", "generate", {"n": 200, "sleep": 0.05})
    fast = replace(settings)
    runner = threading.Thread(target=run_job, args=(job_id,), kwargs={"settings": fast})
    runner.start()
    deadline = time.monotonic() + 20
    while outcome_of(settings, job_id).job.status != "running" and time.monotonic() < deadline:
        time.sleep(0.05)
    cancel_job(Store(settings), job_id)
    runner.join(timeout=20)
    outcome = outcome_of(settings, job_id)
    assert outcome.job.status == "cancelled"
    assert outcome.results == []


def test_train_registers_model_and_evaluate_reads_it(settings):
    train = submit(settings, "toy", "train", {"epochs": 3})
    assert run_job(train, settings=settings) == "succeeded"
    trained = outcome_of(settings, train)
    assert trained.metrics == [("loss", 0, 1.0), ("loss", 1, 0.5), ("loss", 2, 1 / 3)]
    (model,) = trained.models
    evaluate = submit(settings, "toy", "evaluate", {})  # no model given: the newest trained one
    assert run_job(evaluate, settings=settings) == "succeeded"
    summary = outcome_of(settings, evaluate).summary
    assert summary == {"weight_sum": 12.0, "model": str(model.id)}


def test_crashed_attempt_resumes_from_its_last_checkpoint_without_duplicates(settings, tmp_path):
    job_id = submit(settings, "toy", "train", {"epochs": 4, "crash_at": 2})
    script = f"from aigc.core.runner import run_job; run_job({job_id})"
    from conftest import env_for

    died = subprocess.run([sys.executable, "-c", script], env=env_for(settings), timeout=60)
    assert died.returncode == 17  # os._exit inside epoch 2 of attempt 1
    crashed = outcome_of(settings, job_id)
    assert crashed.job.status == "running" and len(crashed.metrics) == 2
    with Store(settings).transaction() as session:  # its lease lapses as a dead worker's would
        session.execute(update(Job).where(Job.id == job_id).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    assert run_job(job_id, settings=settings) == "succeeded"
    outcome = outcome_of(settings, job_id)
    assert outcome.job.attempts == 2
    assert [step for _, step, _ in outcome.metrics] == [0, 1, 2, 3]
    assert [r.meta["epoch"] for r in outcome.results] == [0, 1, 2, 3]
    assert len(outcome.models) == 1


def test_superseded_checkpoints_are_pruned(sqlite_settings):
    job_id = submit(sqlite_settings, "toy", "train", {"epochs": 4})
    run_job(job_id, settings=sqlite_settings)
    outcome = outcome_of(sqlite_settings, job_id)
    files = sorted(p.name for p in sqlite_settings.artifacts.rglob("*.safetensors"))
    expected = sorted([f"{outcome.job.checkpoint_sha256}.safetensors", f"{outcome.models[0].sha256}.safetensors"])
    assert files == expected  # the last checkpoint and the model; the three earlier checkpoints are gone


def test_corrupt_checkpoint_is_refused(sqlite_settings):
    job_id = submit(sqlite_settings, "toy", "train", {"epochs": 2, "crash_at": 1})
    from conftest import env_for

    subprocess.run(
        [sys.executable, "-c", f"from aigc.core.runner import run_job; run_job({job_id})"],
        env=env_for(sqlite_settings),
        timeout=60,
    )
    store = Store(sqlite_settings)
    with store.transaction() as session:
        job = queries.get_job(session, job_id)
        session.execute(update(Job).where(Job.id == job_id).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    path = store.artifacts.path_for(job.checkpoint_sha256, "safetensors")
    path.write_bytes(path.read_bytes()[:-1] + b"\x00")
    assert run_job(job_id, settings=sqlite_settings) == "failed"
    assert "is corrupt: sha256" in outcome_of(sqlite_settings, job_id).job.error
    with pytest.raises(ArtifactCorrupt):
        store.artifacts.verified_path(job.checkpoint_sha256, "safetensors")


def test_delivery_of_a_finished_job_is_a_no_op(sqlite_settings):
    job_id = submit(sqlite_settings, "toy", "generate", {"n": 1})
    run_job(job_id, settings=sqlite_settings)
    assert run_job(job_id, settings=sqlite_settings) == "succeeded"
    assert outcome_of(sqlite_settings, job_id).job.attempts == 1
