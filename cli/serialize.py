"""Rows of the store as plain dicts, for `--json` output."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aigc.core.store import Job, Result

if TYPE_CHECKING:
    from aigc.core.store.models import Sweep
    from aigc.core.sweep_results import SweepTable


def job_dict(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "kind": job.kind,
        "plugin": job.plugin,
        "status": job.status,
        "lease_lapsed": job.lease_lapsed,  # running, but nothing renews its lease: the process running it died
        "progress": job.progress,
        "progress_info": job.progress_info,
        "params": job.params,
        "seed": job.seed,
        "model_id": job.model_id,
        "queue": job.queue,
        "priority": job.priority,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "worker": job.worker,
        "device": job.device,
        "error": job.error,
        "summary": job.summary,
        "sweep_id": job.sweep_id,
        "timeout_s": job.timeout_s,
        "label": job.label or "metadata",
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "duration_s": job.duration_s,
        "lease_expires_at": job.lease_expires_at,  # a running attempt's lease; past it, the job is recoverable
        "token": job.token_name,  # the API token that submitted it; null from the command line
    }


def result_dict(result: Result) -> dict[str, Any]:
    return {
        "index": result.index,
        "kind": result.kind,
        "role": result.role,
        "mime": result.mime,
        "bytes": len(result.data) if result.data is not None else None,
        "text": result.text,
        "seed": result.seed,
        "meta": result.meta,
    }


def sweep_dict(sweep: Sweep, counts: dict[str, int]) -> dict[str, Any]:
    """A sweep and how many of its jobs are in each status."""
    return {
        "id": sweep.id,
        "plugin": sweep.plugin,
        "kind": sweep.kind,
        "max_parallel": sweep.max_parallel,
        "spec": sweep.spec,
        "jobs": counts,
        "created_at": sweep.created_at,
    }


def sweep_table_dict(table: SweepTable) -> dict[str, Any]:
    """`aigc sweeps show --json`: the sweep, then each point's params and metrics in the table's order."""
    return {
        **sweep_dict(table.sweep, table.counts),
        "by": table.by,
        "points": [
            {
                "job": p.job.id,
                "status": p.job.status,
                "params": p.params,
                "metrics": p.metrics,
                "metrics_from": p.source,
                "chained": [{"job": c.id, "kind": c.kind, "status": c.status} for c in p.chained],
                "best": p.best,
            }
            for p in table.points
        ],
    }
