"""Submitting, starting, cancelling and following jobs: what the CLI (and any other front end) calls."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aigc.core import catalog, checks
from aigc.core.context import LoadedModel
from aigc.core.data_roots import check_paths
from aigc.core.dispatch import dispatcher_for, uses_broker
from aigc.core.errors import LeaseLapsed, UsageError
from aigc.core.ids import parse_id
from aigc.core.params import validate_params
from aigc.core.plugin import JobKind, ModelParams, Plugin
from aigc.core.registry import get_plugin
from aigc.core.store import Job, JobStatus, Store, lifecycle, queries


@dataclass(frozen=True)
class Submission:
    kind: JobKind
    plugin: str
    params: dict[str, Any]
    priority: int = 0
    retries: int = 0
    # Sent by a client of `aigc serve`: its path params must lie in AIGC_DATA_ROOTS, and none is taken unset.
    remote: bool = False


def parse_job_id(raw: str | int) -> int:
    return parse_id(raw, "job")


def create_job(store: Store, submission: Submission, *, check_here: bool | None = None) -> Job:
    """Validate everything, then store the job `queued`; nothing is written if any check fails.

    `check_here` (default: when no broker is set, so the job runs in this process) also runs the checks
    that need the machine running the job: its files, its device, the plugin's own `check`.
    """
    plugin = get_plugin(submission.plugin, store.settings.plugin_path)
    params = validate_params(plugin, submission.kind, submission.params)
    check_paths(plugin, submission.kind, params, remote=submission.remote)  # before any check opens a file
    seed = params.seed if params.seed is not None else random.SystemRandom().randrange(2**31)
    values = params.model_dump(mode="json")
    values["seed"] = seed
    model_id = None
    if "model" in values and not (isinstance(params, ModelParams) and not params.reads_model()):
        with store.transaction() as session:
            ref = catalog.resolve_ref(session, plugin, values["model"])
        model_id = values["model"] = ref.id  # pinned: a later training run does not change this job
    runs_here = not uses_broker(store.settings) if check_here is None else check_here
    if runs_here:  # outside any transaction: a check may load a tokenizer, read a file
        pinned = plugin.params_model(submission.kind).model_validate(values)  # as the runner will read them
        checks.check_here(plugin, submission.kind, pinned, lambda: _load(store, plugin, model_id))
    with store.transaction() as session:
        return lifecycle.create_job(
            session,
            kind=submission.kind,
            plugin=plugin.name,
            params=values,
            seed=seed,
            model_id=model_id,
            queue=plugin.queue,
            priority=submission.priority,
            max_attempts=store.settings.max_attempts,
            retries=submission.retries,
        )


def _load(store: Store, plugin: type[Plugin], model_id: str | None) -> LoadedModel:
    if model_id is None:
        raise ValueError(f"a {plugin.name} job without a model param has no model to load")
    with store.transaction() as session:
        return catalog.load(session, store.artifacts, plugin, model_id)


def start(store: Store, jobs: Sequence[Job], *, run_here: Callable[[int], object] | None = None) -> bool:
    """Start stored jobs, the one way every front end does: True if they were queued, False if they ran here.

    With a broker, the jobs go to their queues through the registered dispatcher; if it cannot be
    reached, BrokerUnavailable says so and they stay queued in the store, unsent, until a worker's
    reaper (or `aigc jobs recover`) sends them. Without one, each job id goes to `run_here` (default:
    the runner, in this thread), which may also hand it to a thread of its own.
    """
    if uses_broker(store.settings):
        dispatcher_for(store.settings).send(store, jobs)
        return True
    for job in jobs:
        if run_here is not None:
            run_here(job.id)
        else:
            from aigc.core.runner import run_to_end

            run_to_end(job.id, settings=store.settings)
    return False


def cancel_job(store: Store, job_id: int) -> JobStatus:
    with store.transaction() as session:
        queries.get_job(session, job_id)  # UnknownJob before anything changes
    return lifecycle.request_cancel(store, job_id)


def resumable(store: Store, job_id: int) -> Job:
    """Ready a job that nothing runs to run in this process (`aigc jobs resume`); returns it as it stands.

    A running job whose lease lapsed goes back to `queued`, or ends `failed` if it is out of attempts,
    exactly as a worker's reaper does; a queued job is left as it is. UsageError for a finished job, one
    whose lease is held, or when a broker is configured (its workers' reapers requeue lapsed jobs).
    """
    if uses_broker(store.settings):
        raise UsageError(
            "with a broker (AIGC_BROKER_URL) workers resume lapsed jobs: their reaper requeues them; "
            "`aigc jobs recover` does it now"
        )
    with store.transaction() as session:
        job = queries.get_job(session, job_id)
    if job.state.finished:
        raise UsageError(f"job {job_id} already ended {job.status}; nothing to resume")
    if job.status == JobStatus.running:
        if not job.lease_lapsed:
            raise UsageError(
                f"job {job_id} is running (its lease is held by {job.worker}); follow it with `aigc jobs wait {job_id}`"
            )
        lifecycle.reap_lapsed(store, [job_id])
        with store.transaction() as session:
            job = queries.get_job(session, job_id)
    return job


def wait_for(
    store: Store,
    job_id: int,
    *,
    on_update: Callable[[Job], None] | None = None,
    interval_s: float = 0.25,
    timeout_s: float | None = None,
    give_up_when_lapsed: bool = False,
) -> Job:
    """Poll the store until the job is finished; returns the final row.

    `give_up_when_lapsed` (no broker: no reaper will requeue the job) raises LeaseLapsed once the job's
    lease has lapsed, instead of waiting for ever.
    """
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        with store.transaction() as session:
            job = queries.get_job(session, job_id)
        if on_update is not None:
            on_update(job)
        if job.state.finished or (deadline is not None and time.monotonic() > deadline):
            return job
        lapsed_s = job.lease_lapsed_s()
        if give_up_when_lapsed and lapsed_s is not None:
            raise LeaseLapsed(
                f"job {job_id} is not running: its lease lapsed {lapsed_s:.0f} s ago (the process running it "
                f"stopped); continue it here with `aigc jobs resume {job_id}`, or end it with `aigc jobs cancel {job_id}`"
            )
        time.sleep(interval_s)
