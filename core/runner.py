"""`run_job(job_id)`: the one place a job runs, called in-process (embedded) or by a Celery worker."""

from __future__ import annotations

import functools
import json
import logging
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from aigc.core import catalog, gpu_faults, joblog, timeouts, webhooks
from aigc.core.chaining import send_ready_after
from aigc.core.checks import check_here
from aigc.core.config import Settings
from aigc.core.context import (
    ContextBackend,
    Interruption,
    JobContext,
    LoadedModel,
    PendingModel,
    PendingResult,
    Progress,
)
from aigc.core.errors import AigcError, JobCancelled, JobTimedOut, LeaseLost, OutcomeNotRecorded, first_line
from aigc.core.leases import keeper
from aigc.core.plugin import JobKind, Plugin
from aigc.core.provenance import Stamp, default_producer, label_results
from aigc.core.registry import get_plugin
from aigc.core.store import JobStatus, Store, joblogs, lifecycle, queries
from aigc.core.store.lifecycle import Claim, LeaseOwner, Outcome
from aigc.core.store.models import utcnow
from aigc.core.warm_models import free_models


def run_job(
    job_id: int,
    *,
    settings: Settings | None = None,
    owner: LeaseOwner | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    on_stream: Callable[[str], None] | None = None,
    interrupted: Interruption | None = None,
) -> JobStatus:
    """Claim the job, run one attempt of it, and record how it ended. Returns the job's status after.

    A job that is finished, not yet due, or held by a live attempt elsewhere is left alone.
    `interrupted` (set by an embedded caller's signal handler) cancels the job at its next progress
    point; a KeyboardInterrupt that gets through ends the job `cancelled` too, and is re-raised.
    OutcomeNotRecorded if the store refuses the final write: the lease is no longer renewed, so the
    job becomes recoverable once it lapses.
    """
    settings = settings or Settings.from_env()
    store = Store(settings)
    claim = lifecycle.claim_job(store, job_id, owner or LeaseOwner.new(), settings.lease_seconds)
    if claim is None:
        return _status(store, job_id)
    try:
        outcome = _attempt(store, claim, settings, on_progress, on_stream, interrupted)
    except KeyboardInterrupt:
        reason = interrupted.reason if interrupted is not None else "interrupted (Ctrl-C)"
        lifecycle.finish_job(store, claim, Outcome(JobStatus.cancelled, error=reason))
        raise
    if outcome is None:
        return _status(store, job_id)
    try:
        status = lifecycle.finish_job(store, claim, outcome)
    except (AigcError, SQLAlchemyError) as exc:
        then = "a worker's reaper requeues it" if settings.broker_url else f"`aigc jobs resume {job_id}` runs it again"
        raise OutcomeNotRecorded(
            f"job {job_id} ended {outcome.status} but the store could not record it ({first_line(exc)}); "
            f"it stays running until its lease lapses ({settings.lease_seconds:g} s), then {then}"
        ) from exc
    if status is None:
        return _status(store, job_id)
    if status.finished and (settings.webhook_url or (claim.job and claim.job.notify_url)):
        webhooks.sender_for(store).wake()  # the notice is in the store: sent from a thread of its own
    if status != JobStatus.queued:
        send_ready_after(store, job_id)  # its dependents, the next jobs of its sweep
    return status


def run_to_end(
    job_id: int,
    *,
    settings: Settings,
    on_progress: Callable[[Progress], None] | None = None,
    on_stream: Callable[[str], None] | None = None,
    interrupted: Interruption | None = None,
) -> JobStatus:
    """Run a job in this process until it ends, as an embedded run does: an attempt that failed with a
    retry left runs again here once its backoff is over (without a broker nothing else would run it).
    `interrupted` during a backoff cancels the job."""
    while True:
        status = run_job(
            job_id, settings=settings, on_progress=on_progress, on_stream=on_stream, interrupted=interrupted
        )
        due_in = _retry_due_in(Store(settings), job_id) if status == JobStatus.queued else None
        if due_in is None and status == JobStatus.queued and _parent_running(Store(settings), job_id):
            due_in = 0.2  # its parent runs in another process: look again soon
        if due_in is None or gpu_faults.poisoned():  # nothing more runs in a process a CUDA error broke
            return status
        # In steps of a second: a cancel from elsewhere (`aigc jobs cancel`) ends the wait soon.
        if interrupted is None:
            time.sleep(min(due_in, 1.0))
        elif interrupted.wait(min(due_in, 1.0)):
            return lifecycle.request_cancel(Store(settings), job_id)


def _parent_running(store: Store, job_id: int) -> bool:
    """Whether a parent of the job runs now (its lease live): the job can run once it succeeds."""
    from aigc.core.store.dependencies import parents_of

    with store.transaction() as session:
        parents = parents_of(session, [job_id]).get(job_id, [])
        return any(
            (p := queries.get_job(session, parent_id)).status == JobStatus.running and not p.lease_lapsed
            for parent_id in parents
        )


def _retry_due_in(store: Store, job_id: int) -> float | None:
    """Seconds until a queued job's retry may be claimed; None if it is not waiting for a retry."""
    with store.transaction() as session:
        job = queries.get_job(session, job_id)
    waiting = job.status == JobStatus.queued and not job.cancel_requested and job.attempts < job.max_attempts
    if not waiting or job.not_before is None:
        return None
    return max(0.0, (job.not_before - utcnow()).total_seconds())


def _attempt(
    store: Store,
    claim: Claim,
    settings: Settings,
    on_progress: Callable[[Progress], None] | None,
    on_stream: Callable[[str], None] | None,
    interrupted: Interruption | None,
) -> Outcome | None:
    """Run the plugin for a claimed attempt; the outcome to record, or None if the lease was lost."""
    backend = StoreBackend(store, claim, settings)
    ctx: JobContext | None = None
    stack = ExitStack()
    out_of_memory = False
    try:
        job = claim.job
        assert job is not None, "claim_job reads the job in the claiming statement"
        first_index = 0
        if job.checkpoint_sha256 is not None:  # a resumed attempt continues the result numbering
            with store.transaction() as session:
                first_index = queries.next_result_index(session, claim.job_id)
        plugin_cls = get_plugin(job.plugin, settings.plugin_path)
        backend.plugin = plugin_cls
        backend.stamp = Stamp(
            default_producer(), claim.job_id, job.plugin, job.kind, None, job.seed, job.label == "visible"
        )
        params = plugin_cls.params_model(job.kind).model_validate(job.params)
        deadline = stack.enter_context(timeouts.watch(store, claim, job.timeout_s))
        backend.log = stack.enter_context(joblog.Capture(logging.getLogger(f"aigc.job.{claim.job_id}")))
        ctx = JobContext(
            job_id=claim.job_id,
            kind=JobKind(job.kind),
            plugin=job.plugin,
            attempt=claim.attempt,
            seed=job.seed,
            device=params.device,
            backend=backend,
            first_result_index=first_index,
            on_progress=on_progress,
            on_stream=on_stream,
            interrupted=interrupted,
            deadline=deadline,
            timeout_s=job.timeout_s,
        )
        load_model = functools.partial(ctx.load_model, getattr(params, "model", None))
        with keeper.hold(store, claim, settings.lease_seconds):
            check_here(plugin_cls, ctx.kind, params, load_model)  # this machine's files and device
            getattr(plugin_cls(), job.kind)(ctx, params)
        return Outcome(
            JobStatus.succeeded,
            device=ctx.resolved_device,
            summary=ctx.summary,
            results=backend.labelled(ctx.pending_results),
            metrics=ctx.pending_metrics,
            models=ctx.pending_models,
        )
    except JobCancelled as exc:
        return Outcome(JobStatus.cancelled, error=str(exc), device=_device(ctx))
    except JobTimedOut as exc:
        return Outcome(JobStatus.failed, error=str(exc), device=_device(ctx), final=True)
    except LeaseLost:
        return None  # another attempt owns the job now; it records the outcome
    except Exception as exc:
        fault = gpu_faults.classify(exc)
        if fault == gpu_faults.OOM:
            out_of_memory = True
        elif fault == gpu_faults.POISONED:
            gpu_faults.mark_poisoned()
        if fault is not None:
            error = gpu_faults.describe(fault, exc, _device(ctx))
        else:
            error = str(exc) if isinstance(exc, AigcError) else traceback.format_exc()
        return Outcome(JobStatus.failed, error=error, device=_device(ctx))
    finally:
        stack.close()
        backend.flush_log()
        backend.cleanup()
        if out_of_memory:  # the failed job's tensors are garbage now: give the next job the memory
            free_models()


def _device(ctx: JobContext | None) -> str | None:
    return ctx.resolved_device if ctx else None


def _status(store: Store, job_id: int) -> JobStatus:
    with store.transaction() as session:
        return JobStatus(queries.get_job(session, job_id).status)


class StoreBackend(ContextBackend):
    """The JobContext's link to the store and the artifact root, for one attempt."""

    def __init__(self, store: Store, claim: Claim, settings: Settings) -> None:
        self.store, self.claim, self.settings = store, claim, settings
        self.plugin: type[Plugin] | None = None
        self.stamp: Stamp | None = None
        self.log: joblog.JobLogHandler | None = None
        self.model_sha256: str | None = None  # of the model the job loaded: its results' labels name it
        self._scratch: Path | None = None

    def labelled(self, results: list[PendingResult]) -> list[PendingResult]:
        """Results with their provenance labels, as they are stored: every plugin's, without its help."""
        assert self.stamp is not None
        return label_results(results, replace(self.stamp, model_sha256=self.model_sha256))

    def flush_log(self) -> None:
        """Write the lines logged since the last flush (at progress points, checkpoints and the end)."""
        if self.log is not None and self.log.pending:
            try:
                joblogs.append(self.store, self.claim.job_id, self.log.take())
            except (AigcError, SQLAlchemyError) as exc:  # a log line is never worth a job
                logging.getLogger("aigc.runner").warning(
                    "job %s: log lines lost: %s", self.claim.job_id, first_line(exc)
                )

    def write_progress(self, ctx: JobContext, report: Progress) -> None:
        self.flush_log()
        info = {k: v for k, v in report.info.items() if isinstance(v, (int, float, str))}
        info.update(done=report.done, total=report.total)
        extra = {"device": ctx.resolved_device} if ctx.resolved_device else {}
        lifecycle.renew_lease(
            self.store, self.claim, self.settings.lease_seconds, progress=report.fraction, progress_info=info, **extra
        )

    def poll(self, ctx: JobContext) -> str | None:
        return lifecycle.poll(self.store, self.claim)

    def save_checkpoint(self, ctx: JobContext, state: Mapping[str, Any]) -> None:
        from aigc.core.tensorstate import flatten

        self.flush_log()
        tensors, skeleton = flatten(dict(state))
        sha = self.store.artifacts.put_tensors(tensors, {"aigc_state": skeleton})
        with ctx._lock:
            results, ctx.pending_results = ctx.pending_results, []
            metrics, ctx.pending_metrics = ctx.pending_metrics, []
        previous = lifecycle.commit_checkpoint(self.store, self.claim, sha, self.labelled(results), metrics)
        if previous is False:
            raise LeaseLost(f"job {self.claim.job_id} attempt {self.claim.attempt} lost its lease")
        if previous and previous != sha:
            self._prune(previous)

    def _prune(self, sha: str) -> None:
        """Delete a superseded checkpoint file unless another job still points at the same bytes."""
        with self.store.transaction() as session:
            still_used = queries.checkpoint_in_use(session, sha)
        if not still_used:
            self.store.artifacts.path_for(sha, "safetensors").unlink(missing_ok=True)

    def load_checkpoint(self, ctx: JobContext) -> dict[str, Any] | None:
        from aigc.core.artifacts import load_tensors
        from aigc.core.tensorstate import unflatten

        with self.store.transaction() as session:
            sha = queries.get_job(session, self.claim.job_id).checkpoint_sha256
        if sha is None:
            return None
        tensors, metadata = load_tensors(self.store.artifacts.verified_path(sha, "safetensors"))
        return unflatten(tensors, metadata["aigc_state"])

    def store_model(
        self,
        ctx: JobContext,
        state: Mapping[str, Any] | Path,
        name: str,
        config: Mapping[str, Any],
        metrics: Mapping[str, float] | None,
    ) -> PendingModel:
        if isinstance(state, Path):
            sha, fmt = self.store.artifacts.put_folder(state), "hf"
        else:
            # One metadata key: safetensors writes several in a random order, and the file's sha256 is its id.
            metadata = {"config": json.dumps(dict(config), sort_keys=True)}
            sha, fmt = self.store.artifacts.put_tensors(dict(state), metadata), "safetensors"
        return PendingModel(name, sha, fmt, dict(config), dict(metrics or {}))

    def load_model(self, ctx: JobContext, model: str | None) -> LoadedModel:
        assert self.plugin is not None
        with self.store.transaction() as session:
            ref = catalog.resolve_ref(session, self.plugin, model)
            loaded = catalog.load(session, self.store.artifacts, self.plugin, ref.id)
        self.model_sha256 = loaded.sha256
        return loaded

    def scratch_dir(self, ctx: JobContext) -> Path:
        if self._scratch is None:
            self._scratch = Path(tempfile.mkdtemp(prefix=f"aigc-job{self.claim.job_id}-"))
        return self._scratch

    def cleanup(self) -> None:
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
