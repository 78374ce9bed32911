"""`aigc worker`: run this node's Celery workers. The one command module that imports `aigc.worker`."""

from __future__ import annotations

import typer

from aigc.cli.render import err


def worker(
    queues: str | None = typer.Option(
        None, "--queues", "-Q", help="Queues to serve, in order of preference (default: gpu,cpu with GPUs, else cpu)."
    ),
    gpus: str = typer.Option("auto", "--gpus", help="all, none, auto (all found, else none), or indices such as 0,1."),
    concurrency: int = typer.Option(
        1, "--concurrency", "-c", min=1, max=64, help="Worker processes per GPU, or CPU processes with --gpus none."
    ),
    loglevel: str = typer.Option("INFO", "--loglevel", "-l", help="Celery log level."),
    name: str | None = typer.Option(
        None, "--name", help="Node part of the worker names (gpu0@NAME); default: the host name. Unique per node."
    ),
) -> None:
    """Run this node's workers: one process per GPU (pinned, one job at a time), restarted if one dies."""
    from aigc.core.config import Settings
    from aigc.core.dispatch import dispatcher_for
    from aigc.core.errors import UsageError
    from aigc.core.store import Store
    from aigc.worker import gpus as gpu_info
    from aigc.worker.app import QUEUES
    from aigc.worker.supervisor import Supervisor, plan

    settings = Settings.from_env()
    dispatcher_for(settings, "aigc worker")  # fails here, in one line, without a broker
    Store(settings)  # and here if the database is unreachable or not migrated
    chosen = gpu_info.select(gpus)
    served = [q.strip() for q in (queues or ("gpu,cpu" if chosen else "cpu")).split(",") if q.strip()]
    unknown = [q for q in served if q not in QUEUES]
    if unknown or not served:
        raise UsageError(f"--queues: unknown queue {', '.join(unknown) or '(none)'}; accepted: {', '.join(QUEUES)}")
    if not chosen and "gpu" not in served:
        err.print("no GPU: serving the cpu queue only (add --queues gpu,cpu to run GPU jobs on this CPU)")
    slots = plan(chosen, concurrency, hostname=name)
    raise typer.Exit(Supervisor(slots, served, loglevel.upper()).run())
