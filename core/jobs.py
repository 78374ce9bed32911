"""Submitting, starting, cancelling and following jobs: what the CLI (and any other front end) calls."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from aigc.core import catalog, checks
from aigc.core.chaining import send_ready
from aigc.core.config import environment
from aigc.core.context import LoadedModel
from aigc.core.data_roots import check_paths
from aigc.core.dispatch import uses_broker
from aigc.core.errors import LeaseLapsed, UsageError
from aigc.core.ids import parse_id
from aigc.core.params import validate_params
from aigc.core.plugin import JobKind, ModelParams, Plugin
from aigc.core.registry import get_plugin
from aigc.core.store import Job, JobStatus, Store, lifecycle, queries
from aigc.core.store.dependencies import FROM_PREFIX, parents_of
from aigc.core.webhooks import check_notify_url

MAX_TIMEOUT_S = 365 * 86400


@dataclass(frozen=True)
class Submission:
    kind: JobKind
    plugin: str
    params: dict[str, Any]
    priority: int = 0
    retries: int = 0
    # Sent by a client of `aigc serve`: its path params must lie in AIGC_DATA_ROOTS, and none is taken unset.
    remote: bool = False
    # The name of the API token that sent it, kept on the job: who may cancel or re-run it.
    token_name: str | None = None
    after: tuple[int, ...] = ()  # jobs that must succeed before this one may run
    timeout_s: float | None = None  # None: the plugin's default timeout, if it has one
    notify_url: str | None = None  # sent over the API: must match AIGC_WEBHOOK_ALLOW
    label: str | None = None  # "visible": a visible AI mark besides the metadata label (or AIGC_VISIBLE_LABEL=1)


def parse_job_id(raw: str | int) -> int:
    return parse_id(raw, "job")


def create_job(store: Store, submission: Submission, *, check_here: bool | None = None) -> Job:
    """Validate everything, then store the job `queued`; nothing is written if any check fails.

    `check_here` (default: when no broker is set, so the job runs in this process) also runs the checks
    that need the machine running the job: its files, its device, the plugin's own `check`.
    A job `after` others waits for them; `model=from:ID` reads the model job ID trains (it waits for it).
    """
    plugin = get_plugin(submission.plugin, store.settings.plugin_path)
    if submission.label not in (None, "visible", "metadata"):
        raise UsageError(f"label '{submission.label}' is not known; accepted: visible, metadata")
    if submission.notify_url is not None:
        check_notify_url(submission.notify_url, remote=submission.remote)
    timeout_s = submission.timeout_s if submission.timeout_s is not None else plugin.timeout
    if timeout_s is not None and not 0 < timeout_s <= MAX_TIMEOUT_S:
        raise UsageError(
            f"timeout {timeout_s:g} s is out of range; accepted: above 0, up to {MAX_TIMEOUT_S // 86400} days"
        )
    visible = submission.label == "visible" or (submission.label is None and environment().visible_label)
    params = validate_params(plugin, submission.kind, submission.params)
    check_paths(plugin, submission.kind, params, remote=submission.remote)  # before any check opens a file
    seed = params.seed if params.seed is not None else random.SystemRandom().randrange(2**31)
    values = params.model_dump(mode="json")
    values["seed"] = seed
    after = set(submission.after)
    # A job that names a model folder instead (the diffusion plugin's pipeline=PATH) reads no stored model.
    reads_model = not (isinstance(params, ModelParams) and not params.reads_model())
    with store.transaction() as session:
        model_id = pin_model(session, plugin, values, after) if reads_model else None
        check_parents(session, after)
    runs_here = not uses_broker(store.settings) if check_here is None else check_here
    if runs_here:  # outside any transaction: a check may load a tokenizer, read a file
        check_before_storing(store, plugin, submission.kind, values, model_id)
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
            token_name=submission.token_name,
            after=sorted(after),
            timeout_s=timeout_s,
            notify_url=submission.notify_url,
            label="visible" if visible else None,
        )


def pin_model(session: Session, plugin: type[Plugin], values: dict[str, Any], after: set[int]) -> str | None:
    """Pin `values["model"]` (a later training run does not change the job): the model id it names now,
    or `from:ID` while job ID, a training job of the plugin, has not made its model yet (ID joins `after`).
    Returns the model id pinned, None if the job reads no model or its model is still to come."""
    if "model" not in values:
        return None
    raw = values["model"]
    if isinstance(raw, str) and raw.startswith(FROM_PREFIX):
        parent_id = parse_id(raw.removeprefix(FROM_PREFIX), "job", f"a job id after '{FROM_PREFIX}', as in from:42")
        parent = queries.get_job(session, parent_id)
        if parent.kind != JobKind.train or parent.plugin != plugin.name:
            raise UsageError(
                f"model {raw}: job {parent_id} is a {parent.plugin} {parent.kind} job; "
                f"from:ID names a {plugin.name} train job"
            )
        after.add(parent_id)
        if parent.status != JobStatus.succeeded:
            return None  # resolved when the parent succeeds (aigc.core.store.dependencies)
        made = queries.model_of_job(session, parent_id)
        if made is None:
            raise UsageError(f"model {raw}: job {parent_id} succeeded without making a model")
        raw = str(made.id)
    ref = catalog.resolve_ref(session, plugin, raw)
    values["model"] = ref.id
    return ref.id


def check_parents(session: Session, after: set[int]) -> None:
    """Every job in `after` exists and may still succeed; UnknownJob or UsageError naming it otherwise."""
    for parent_id in sorted(after):
        parent = queries.get_job(session, parent_id)
        if parent.status in (JobStatus.failed, JobStatus.cancelled):
            raise UsageError(f"job {parent_id} already ended {parent.status}; a job after it would never run")


def check_before_storing(
    store: Store, plugin: type[Plugin], kind: JobKind, values: dict[str, Any], model_id: str | None
) -> None:
    """The checks of this machine for a job that will run here. A model still to be trained cannot be
    looked at yet: the plugin's own check then runs before the attempt, as it always does."""
    pinned = plugin.params_model(kind).model_validate(values)  # as the runner will read them
    if isinstance(values.get("model"), str) and values["model"].startswith(FROM_PREFIX):
        checks.check_device(pinned.device)
        return
    checks.check_here(plugin, kind, pinned, lambda: _load(store, plugin, model_id))


def _load(store: Store, plugin: type[Plugin], model_id: str | None) -> LoadedModel:
    if model_id is None:
        raise ValueError(f"a {plugin.name} job without a model param has no model to load")
    with store.transaction() as session:
        return catalog.load(session, store.artifacts, plugin, model_id)


def start(store: Store, jobs: Sequence[Job], *, run_here: Callable[[int], object] | None = None) -> bool:
    """Start stored jobs, the one way every front end does: True if they were queued, False if they ran here.

    With a broker, the jobs that may run now go to their queues through the registered dispatcher (a
    job waiting for a parent, or for a slot of its sweep, goes when that ends); if the broker cannot be
    reached, BrokerUnavailable says so and they stay queued in the store, unsent, until a worker's
    reaper (or `aigc jobs recover`) sends them. Without one, each job id, after its queued parents
    (`in_order`), goes to `run_here` (default: the runner, in this thread), which may also hand it to
    a thread of its own.
    """
    if uses_broker(store.settings):
        send_ready(store, jobs)  # the others go when what they wait for ends
        return True
    run = run_here or _run_to_end(store)
    for job_id in in_order(store, [job.id for job in jobs]):
        run(job_id)
    return False


def _run_to_end(store: Store) -> Callable[[int], object]:
    def run(job_id: int) -> object:
        from aigc.core.runner import run_to_end

        return run_to_end(job_id, settings=store.settings)

    return run


def in_order(store: Store, job_ids: Sequence[int]) -> list[int]:
    """Embedded: the jobs with their queued ancestors (nothing else would run them), parents first.

    Ids order them: a job's parents exist before it does. A parent running elsewhere is waited for by
    the runner (`run_to_end`); one that did not succeed leaves the job `cancelled`, and its run a no-op.
    """
    chosen, frontier = set(job_ids), list(job_ids)
    with store.transaction() as session:
        while frontier:
            found = {p for parents in parents_of(session, frontier).values() for p in parents} - chosen
            frontier = [p for p in sorted(found) if queries.get_job(session, p).status == JobStatus.queued]
            chosen |= set(frontier)
    return sorted(chosen)


def cancel_job(store: Store, job_id: int) -> JobStatus:
    with store.transaction() as session:
        queries.get_job(session, job_id)  # UnknownJob before anything changes
    return lifecycle.request_cancel(store, job_id)


@dataclass(frozen=True)
class Cancellation:
    """What cancelling did to a job: its status before and after. `aigc jobs cancel` says it in one line,
    the same on both paths (the API returns these fields and the remote CLI renders them here)."""

    job_id: int
    was: JobStatus
    status: JobStatus

    @property
    def lease_lapsed(self) -> bool:
        """A running job ends `cancelled` at once only when its lease had lapsed (nothing was running it)."""
        return self.was == JobStatus.running and self.status == JobStatus.cancelled

    @property
    def message(self) -> str:
        if self.was.finished:
            return f"job {self.job_id} already ended {self.was}"
        if self.status == JobStatus.running:
            return f"job {self.job_id} will stop at its next progress point"
        if self.lease_lapsed:
            return f"job {self.job_id} cancelled (its lease had lapsed: nothing was running it)"
        if self.status == JobStatus.cancelled:
            return f"job {self.job_id} cancelled"
        return f"job {self.job_id} already ended {self.status}"  # it ended between the read and the cancel


def cancel(store: Store, job_id: int) -> Cancellation:
    """Cancel the job (`cancel_job`) and say what that did; UnknownJob before anything changes."""
    with store.transaction() as session:
        was = JobStatus(queries.get_job(session, job_id).status)
    return Cancellation(job_id, was, JobStatus(lifecycle.request_cancel(store, job_id)))


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
