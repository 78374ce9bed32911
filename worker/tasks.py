"""The one Celery task: run a job, named by its id, through the core runner.

Every delivery is safe to run: a job that is finished, held by a live attempt elsewhere, or not yet
due is left alone by the claim in the store, so duplicates from Redis' visibility timeout, from a
requeue after a lost pool child, or from the reaper cost a refused claim and nothing else.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from celery import shared_task

from aigc.core import gpu_faults
from aigc.worker.app import TASK_NAME

if TYPE_CHECKING:
    from celery import Celery, Task

    from aigc.core.store import Store

log = logging.getLogger("aigc.worker")


# A shared task joins whichever app the worker runs, so importing this module builds no app.
@shared_task(name=TASK_NAME, bind=True)
def run_job_task(self: Task, job_id: int) -> str:
    from aigc.core.config import Settings
    from aigc.core.runner import run_job
    from aigc.core.store import JobStatus, Store
    from aigc.core.store.lifecycle import LeaseOwner

    settings = Settings.from_env()
    store = Store(settings)
    # The node name becomes the job's `worker` column: `aigc workers` joins on it.
    status = run_job(job_id, settings=settings, owner=LeaseOwner.new(self.request.hostname or "worker"))
    if status == JobStatus.running:
        # Still running after our turn: another live attempt holds the lease (or took it over from us).
        log.info("job %s: delivery dropped, held by another attempt", job_id)
        return "dropped: held by another attempt"
    if status == JobStatus.queued:
        _send_when_due(self.app, store, job_id)
    if gpu_faults.poisoned():
        _exit_poisoned(job_id)
    return f"job {status}"


def _exit_poisoned(job_id: int) -> None:
    """Leave at once after a CUDA error: the job's failure is recorded (and a retry it has left sent), and
    this process's CUDA context is unusable. The supervisor (`aigc worker`) starts a fresh process."""
    log.error("job %s: CUDA error; this worker process exits so that a fresh one takes its place", job_id)
    logging.shutdown()
    os._exit(gpu_faults.POISONED_EXIT)


def _send_when_due(app: Celery, store: Store, job_id: int) -> None:
    """A job back in the queue with a backoff (a retry) gets a message timed for when it is due."""
    from aigc.core.store import queries
    from aigc.core.store.models import utcnow
    from aigc.worker.dispatch import CeleryDispatcher

    with store.transaction() as session:
        job = queries.get_job(session, job_id)
    if job.status == "queued" and job.not_before is not None:
        wait_s = (job.not_before - utcnow()).total_seconds()
        if wait_s > 0:
            CeleryDispatcher(store.settings, app).send(store, [job], countdown=wait_s + 0.05)
