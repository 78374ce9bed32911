"""Retention: `aigc prune` deletes old finished jobs with what they made, keeps pinned and newest models,
reports rows and bytes; `aigc du`; the automatic policy runs under a lock in the store."""

from __future__ import annotations

import json
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import update
from typer.testing import CliRunner

from aigc.cli.main import app
from aigc.cli.serve import create_app
from aigc.core import retention
from aigc.core.runner import run_job
from aigc.core.store import Job, Store, queries
from aigc.core.store.models import utcnow
from aigc.core.store.pruning import take_lock
from aigc.core.testing import outcome_of, submit


def _age(settings, job_id, days):
    with Store(settings).transaction() as session:
        session.execute(update(Job).where(Job.id == job_id).values(finished_at=utcnow() - timedelta(days=days)))


def _ran(settings, kind, params, days=0, **options):
    job_id = submit(settings, "toy", kind, params, **options)
    run_job(job_id, settings=settings)
    if days:
        _age(settings, job_id, days)
    return job_id


def test_prune_deletes_old_finished_jobs_with_what_they_made(settings):
    store = Store(settings)
    old_train = _ran(settings, "train", {"epochs": 2}, days=40)
    old_model = outcome_of(settings, old_train).models[0]
    pinned_train = _ran(settings, "train", {"epochs": 3}, days=40)
    pinned_model = outcome_of(settings, pinned_train).models[0]
    newest_train = _ran(settings, "train", {"epochs": 4}, days=40)
    newest_model = outcome_of(settings, newest_train).models[0]
    old_gen = _ran(settings, "generate", {"n": 5, "chatty": True}, days=40)
    old_failed = _ran(settings, "generate", {"n": 3, "fail": True}, days=40)
    assert outcome_of(settings, old_failed).job.status == "failed"
    recent = _ran(settings, "generate", {"n": 2})
    waiting = submit(settings, "toy", "evaluate", {"model": str(pinned_model.id)})  # queued: pins its model
    old_ckpt = outcome_of(settings, old_train).job.checkpoint_sha256
    assert store.artifacts.path_for(old_ckpt, "safetensors").exists()

    dry = retention.prune(store, 30 * 86400, dry_run=True)
    assert dry.jobs == 5 and dry.results == 2 + 3 + 4 + 5 + 0 and dry.models == [old_model.id]
    assert sorted(dry.kept_models) == sorted([pinned_model.id, newest_model.id])
    with store.transaction() as session:
        assert len(queries.list_jobs(session, limit=100)) == 7  # a dry run deletes nothing

    only_failed = retention.prune(store, 30 * 86400, statuses=["failed"])
    assert only_failed.jobs == 1 and only_failed.results == 0
    report = retention.prune(store, 30 * 86400)
    assert (report.jobs, report.results, report.metrics) == (4, 14, 2 + 3 + 4)
    assert report.log_lines >= 5 and report.models == [old_model.id] and report.checkpoints == 3
    assert report.bytes_in_store > 0 and report.bytes_on_disk > 0
    assert not store.artifacts.path_for(old_ckpt, "safetensors").exists()
    assert not store.artifacts.path_for(old_model.sha256, "safetensors").exists()
    with store.transaction() as session:
        left = {j.id for j in queries.list_jobs(session, limit=100)}
        models = {m.id: m for m in queries.models_of(session, "toy")}
    assert left == {recent, waiting}
    assert set(models) == {pinned_model.id, newest_model.id} and models[pinned_model.id].source_job_id is None
    assert store.artifacts.path_for(pinned_model.sha256, "safetensors").exists()
    # What remains still reads: the job list and every remaining job's page.
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        assert client.get("/jobs").status_code == 200
        assert all(client.get(f"/jobs/{j}").status_code == 200 for j in left)
        assert client.get(f"/jobs/{old_gen}").status_code == 404
    assert run_job(waiting, settings=settings) == "succeeded"  # its pinned model is still there

    newest_too = retention.prune(store, 0.001, newest_models=True)
    assert newest_too.jobs == 2 and newest_too.models == []  # the pinned model's job was already gone


def test_prune_and_du_commands(sqlite_settings, monkeypatch):
    monkeypatch.setenv("AIGC_DATABASE_URL", sqlite_settings.database_url)
    monkeypatch.setenv("AIGC_ARTIFACTS", str(sqlite_settings.artifacts))
    _ran(sqlite_settings, "generate", {"n": 4}, days=10)
    _ran(sqlite_settings, "train", {"epochs": 2})
    runner = CliRunner()
    du = json.loads(runner.invoke(app, ["du", "--json"]).output)
    (toy,) = du["plugins"]
    assert toy["jobs"] == 2 and toy["results"] == 6 and toy["model_bytes"] > 0 and du["database_bytes"] > 0
    dry = runner.invoke(app, ["prune", "--older-than", "7d", "--dry-run"])
    assert dry.exit_code == 0 and "would delete 1 jobs, 4 results" in dry.output
    done = json.loads(runner.invoke(app, ["prune", "--older-than", "7d", "--json"]).output)
    assert done["jobs"] == 1 and not done["dry_run"]
    bad = runner.invoke(app, ["prune", "--older-than", "7d", "--status", "running"], standalone_mode=False)
    assert "status 'running' cannot be pruned; accepted: succeeded, failed, cancelled" in str(bad.exception)


def test_policy_runs_in_one_process_at_a_time(sqlite_settings, monkeypatch):
    store = Store(sqlite_settings)
    assert take_lock(store, "a-lock", "worker-a", 60)
    assert not take_lock(store, "a-lock", "worker-b", 60)  # held
    assert take_lock(store, "a-lock", "worker-a", 60)  # its holder renews
    assert take_lock(store, "other", "worker-b", 60)
    assert take_lock(store, "short", "worker-a", -1) and take_lock(store, "short", "worker-b", 60)  # lapsed

    _ran(sqlite_settings, "generate", {"n": 1}, days=3)
    assert retention.apply_policy(store, "worker-c") is None  # AIGC_RETENTION_DAYS unset: nothing
    monkeypatch.setenv("AIGC_RETENTION_DAYS", "2")
    assert retention.apply_policy(store, "worker-c").jobs == 1
    later = _ran(sqlite_settings, "generate", {"n": 1}, days=3)
    assert retention.apply_policy(store, "worker-d") is None  # worker-c holds the policy for the hour
    with store.transaction() as session:
        assert [j.id for j in queries.list_jobs(session)] == [later]
