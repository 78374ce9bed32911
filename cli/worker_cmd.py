"""`aigc worker` (run a node's workers), `aigc workers` (who is alive, what runs), `aigc jobs recover`."""

from __future__ import annotations

from typing import Optional

import typer

from aigc.cli.render import age, err, out, print_json


def worker(
    queues: Optional[str] = typer.Option(
        None, "--queues", "-Q", help="Queues to serve, in order of preference (default: gpu,cpu with GPUs, else cpu)."
    ),
    gpus: str = typer.Option("auto", "--gpus", help="all, none, auto (all found, else none), or indices such as 0,1."),
    concurrency: int = typer.Option(
        1, "--concurrency", "-c", min=1, max=64, help="Worker processes per GPU, or CPU processes with --gpus none."
    ),
    loglevel: str = typer.Option("INFO", "--loglevel", "-l", help="Celery log level."),
    name: Optional[str] = typer.Option(
        None, "--name", help="Node part of the worker names (gpu0@NAME); default: the host name. Unique per node."
    ),
) -> None:
    """Run this node's workers: one process per GPU (pinned, one job at a time), restarted if one dies."""
    from aigc.core.config import Settings
    from aigc.core.errors import UsageError
    from aigc.core.store import Store
    from aigc.worker import gpus as gpu_info
    from aigc.worker.app import QUEUES
    from aigc.worker.supervisor import Supervisor, plan

    settings = Settings.from_env()
    if not settings.broker_url:
        raise UsageError("aigc worker needs a broker: set AIGC_BROKER_URL, e.g. redis://127.0.0.1:6379/0")
    Store(settings)  # fails here, in one line, if the database is unreachable or not migrated
    chosen = gpu_info.select(gpus)
    served = [q.strip() for q in (queues or ("gpu,cpu" if chosen else "cpu")).split(",") if q.strip()]
    unknown = [q for q in served if q not in QUEUES]
    if unknown or not served:
        raise UsageError(f"--queues: unknown queue {', '.join(unknown) or '(none)'}; accepted: {', '.join(QUEUES)}")
    if not chosen and "gpu" not in served:
        err.print("no GPU: serving the cpu queue only (add --queues gpu,cpu to run GPU jobs on this CPU)")
    slots = plan(chosen, concurrency, hostname=name)
    raise typer.Exit(Supervisor(slots, served, loglevel.upper()).run())


def workers(json_out: bool = typer.Option(False, "--json", help="Print JSON for scripts.")) -> None:
    """Live workers (device, queues, heartbeat, the jobs each runs) and queue depths."""
    from aigc.core.store import Store
    from aigc.worker.presence import cluster_status

    status = cluster_status(Store.from_env())
    if json_out:
        print_json(
            {
                "workers": [vars(w) for w in status.workers],
                "queues": [vars(q) for q in status.queues],
                "broker_error": status.broker_error,
            }
        )
        return
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for column in ("worker", "device", "queues", "pid", "running", "heartbeat", "up since"):
        table.add_column(column)
    for w in status.workers:
        running = ", ".join(f"job {j}" for j in w.running) or "idle"
        table.add_row(w.name, w.device, ",".join(w.queues), str(w.pid), running, age(w.heartbeat_at), age(w.started_at))
    if status.workers:
        out.print(table)
    else:
        err.print("no live workers")
    depth = Table(box=None, pad_edge=False)
    for column in ("queue", "queued jobs", "broker messages"):
        depth.add_column(column)
    for q in status.queues:
        depth.add_row(q.queue, str(q.queued), "?" if q.messages is None else str(q.messages))
    out.print(depth)
    if status.broker_error:
        err.print(f"warning: {status.broker_error}")


def recover() -> None:
    """Requeue jobs whose worker died, and send every queued job to the broker again (after a Redis loss).

    Safe to run at any time: a job sent twice still runs once.
    """
    from aigc.core.config import Settings
    from aigc.core.errors import UsageError
    from aigc.core.store import Store
    from aigc.worker.reaper import recover as recover_jobs

    settings = Settings.from_env()
    if not settings.broker_url:
        raise UsageError("aigc jobs recover needs a broker: set AIGC_BROKER_URL")
    recovery = recover_jobs(Store(settings))
    for label, ids in (("requeued (worker died)", recovery.requeued), ("failed (out of attempts)", recovery.failed), ("sent", recovery.resent)):
        if ids:
            err.print(f"{label}: {', '.join(str(i) for i in ids)}")
    out.print(f"{len(recovery.requeued)} requeued, {len(recovery.failed)} failed, {len(recovery.resent)} sent")
