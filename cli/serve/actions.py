"""What a request may change: submit, cancel, re-run. The pages and the API both call these."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from aigc.core.jobs import Submission, cancel_job, create_job
from aigc.core.plugin import JobKind
from aigc.core.store import Job, JobStatus, queries

if TYPE_CHECKING:
    from aigc.cli.serve.app import Server


def submit(server: Server, submission: Submission) -> Job:
    """Validate and store the job (the CLI's create_job), then start it: broker, or a thread here.

    Every job a client sends is `remote`: its path params must lie in AIGC_DATA_ROOTS (core.data_roots).
    """
    job = create_job(server.store, replace(submission, remote=True))
    server.launcher.start(job)
    return job


def cancel(server: Server, job_id: int) -> tuple[JobStatus, str]:
    with server.store.transaction() as session:
        before = queries.get_job(session, job_id).state
    if before.finished:
        return before, f"job {job_id} already ended {before}"
    status = cancel_job(server.store, job_id)
    if status == JobStatus.running:
        return status, f"job {job_id} will stop at its next progress point"
    if status == JobStatus.cancelled:
        return status, f"job {job_id} cancelled"
    return status, f"job {job_id} already ended {status}"


def rerun(server: Server, job_id: int) -> Job:
    """The same plugin, kind and params, seed and model included: the same output again, or a retry."""
    with server.store.transaction() as session:
        old = queries.get_job(session, job_id)
    return submit(
        server, Submission(JobKind(old.kind), old.plugin, dict(old.params), priority=old.priority, retries=old.retries)
    )
