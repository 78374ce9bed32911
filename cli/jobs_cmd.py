"""`aigc jobs list|show|logs|cancel|wait|resume|recover`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from aigc.cli import completion
from aigc.cli.job_source import RemoteSource, job_from_api, remote_client
from aigc.cli.render import age, err, out, print_json
from aigc.core.status import JobStatus

if TYPE_CHECKING:
    from rich.text import Text

    from aigc.cli.job_source import JobSource
    from aigc.core.client import Client
    from aigc.core.store import Job, Store

app = typer.Typer(help="List, inspect, cancel, follow and resume jobs.", no_args_is_help=True)

STATUSES = ", ".join(JobStatus)


@app.command("list")
def list_jobs(
    status: str | None = typer.Option(
        None, "--status", help=f"One of: {STATUSES}.", autocompletion=completion.statuses
    ),
    plugin: str | None = typer.Option(
        None, "--plugin", help="Only this plugin's jobs.", autocompletion=completion.plugin_names
    ),
    limit: int = typer.Option(20, "--limit", min=1, max=10000, help="Newest N jobs."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """The newest jobs, newest first."""
    from aigc.cli.job_view import job_status_cell
    from aigc.cli.serialize import job_dict
    from aigc.core.errors import UsageError
    from aigc.core.store import Store, queries

    if status is not None and status not in set(JobStatus):
        raise UsageError(f"unknown status '{status}'; accepted: {STATUSES}")
    client = remote_client()
    if client is not None:
        jobs = [job_from_api(j) for j in client.jobs(status=status, plugin=plugin, limit=limit)]
    else:
        store = Store.from_env()
        with store.transaction() as session:
            jobs = list(queries.list_jobs(session, status=status, plugin=plugin, limit=limit))
    if json_out:
        print_json([job_dict(j) for j in jobs])
        return
    from aigc.cli.table import Table, print_table

    # The submitting token's name, once any listed job came through `aigc serve` with one.
    tokens = any(j.token_name for j in jobs)
    columns = ["id", "status", "plugin", "kind", "progress", "attempts", "worker", "token", "created"]
    table = Table(columns if tokens else [c for c in columns if c != "token"])
    for j in jobs:
        cells: list[str | Text] = [
            str(j.id),
            job_status_cell(j),
            j.plugin,
            j.kind,
            f"{j.progress:.0%}",
            str(j.attempts),
            j.worker or "-",
            *([j.token_name or "-"] if tokens else []),
            age(j.created_at),
        ]
        table.add_row(*cells)
    print_table(table)


def _load(raw_id: str) -> tuple[Store, Job]:
    from aigc.core.jobs import parse_job_id
    from aigc.core.store import Store, queries

    job_id = parse_job_id(raw_id)
    store = Store.from_env()
    with store.transaction() as session:
        return store, queries.get_job(session, job_id)


def _source(raw_id: str) -> tuple[JobSource, Job, Client | None]:
    """Where the job lives (the server in remote mode, else the store) and the job as it stands."""
    from aigc.cli.job_source import StoreSource
    from aigc.core.jobs import parse_job_id

    client = remote_client()
    if client is not None:
        return RemoteSource(client), job_from_api(client.job(parse_job_id(raw_id))), client
    store, job = _load(raw_id)
    return StoreSource(store), job, None


@app.command("show")
def show(
    job_id: str = typer.Argument(..., help="Job id.", autocompletion=completion.job_ids),
    json_out: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """A job's params, status, timings, attempts, summary, metrics and error."""
    from aigc.cli.job_view import show as render_job
    from aigc.cli.serialize import job_dict

    source, job, _ = _source(job_id)
    if json_out:
        print_json({**job_dict(job), "webhooks": source.facts(job, texts=False).notices})
    else:
        render_job(source, job)


@app.command("logs")
def logs(
    job_id: str = typer.Argument(..., help="Job id.", autocompletion=completion.job_ids),
    follow_log: bool = typer.Option(False, "--follow", "-f", help="Keep printing new lines until the job ends."),
    tail: int = typer.Option(0, "--tail", min=0, help="Only the last N lines (default: all kept, up to 10,000)."),
) -> None:
    """What the job's plugin logged (ctx.logger) and the warnings it raised, kept in the store."""
    import time

    from aigc.core.store import joblogs, queries

    store, job = _load(job_id)
    lines = joblogs.tail(store, job.id, tail) if tail else joblogs.lines_after(store, job.id)
    last = 0
    while True:
        for line in lines:
            out.print(f"{line.at:%Y-%m-%d %H:%M:%S} {line.level:<7} {line.text}", markup=False, highlight=False)
            last = line.line
        if not follow_log:
            return
        with store.transaction() as session:
            finished = queries.get_job(session, job.id).state.finished
        lines = joblogs.lines_after(store, job.id, last)
        if finished and not lines:
            return
        if not lines:
            time.sleep(0.5)


@app.command("cancel")
def cancel(job_id: str = typer.Argument(..., help="Job id.", autocompletion=completion.job_ids)) -> None:
    """Cancel a job: a queued one never runs, a running one stops at its next progress point.

    A running job whose lease lapsed (the process running it died) ends `cancelled` at once.
    """
    from aigc.core.jobs import Cancellation, parse_job_id
    from aigc.core.jobs import cancel as cancel_job
    from aigc.core.store import Store

    client = remote_client()
    if client is not None:  # the server's fields, said here in the direct path's words
        done = client.cancel(parse_job_id(job_id))
        err.print(Cancellation(done["id"], JobStatus(done["was"]), JobStatus(done["status"])).message)
        return
    err.print(cancel_job(Store.from_env(), parse_job_id(job_id)).message)


@app.command("wait")
def wait(
    job_id: str = typer.Argument(..., help="Job id.", autocompletion=completion.job_ids),
    json_out: bool = typer.Option(False, "--json", help="Print the final job as JSON."),
) -> None:
    """Follow a job with a progress bar until it ends; exit 1 unless it succeeded.

    Without a broker, a job whose lease lapsed (the process running it died) ends the wait at once
    (exit 1): nothing would ever pick it up; `aigc jobs resume ID` does.
    """
    from aigc.cli.job_source import StoreSource
    from aigc.cli.submit_cmd import report
    from aigc.core.dispatch import uses_broker

    source, job, client = _source(job_id)
    if client is not None:
        from aigc.cli import remote

        lapsed_ends = not client.workers()["broker"]
        final, _ = remote.follow(client, job.id, enabled=not json_out, give_up_when_lapsed=lapsed_ends)
        report(source, final, json_out)  # no streamed text: the direct path reads the job from the store
        return
    store, job = _load(job_id)
    final = follow(store, job.id, enabled=not json_out, give_up_when_lapsed=not uses_broker(store.settings))
    report(StoreSource(store), final, json_out)


def follow(store: Store, job_id: int, enabled: bool = True, give_up_when_lapsed: bool = False) -> Job:
    from aigc.cli.progress import JobProgress
    from aigc.core.jobs import wait_for

    with JobProgress(job_id, "", enabled=enabled) as bar:
        return wait_for(
            store,
            job_id,
            on_update=lambda j: bar.update(j.progress, j.progress_info, j.status),
            give_up_when_lapsed=give_up_when_lapsed,
        )


@app.command("resume")
def resume(
    job_id: str = typer.Argument(..., help="Job id."),
    json_out: bool = typer.Option(False, "--json", help="Print the final job as JSON."),
) -> None:
    """Continue a job whose process died (lease lapsed) here, from its last checkpoint.

    Also runs a job stored but never started. Same progress bar, Ctrl-C and exit codes as `aigc submit`.
    Without a broker only: with one, workers resume lapsed jobs themselves.
    """
    from aigc.cli.submit_cmd import ShownRun
    from aigc.core.jobs import resumable

    store, job = _load(job_id)
    job = resumable(store, job.id)
    here = ShownRun(store, f"{job.plugin} {job.kind}", shown=not json_out)
    if job.status == "queued":
        here.run(job.id)
    here.report(job.id, json_out)  # out of attempts: `failed` as the reaper leaves it, exit 1


@app.command("recover")
def recover() -> None:
    """Requeue jobs whose process died, and send every queued job to the broker again (after a Redis loss).

    Without a broker, the requeued jobs wait for `aigc jobs resume ID`.
    Safe to run at any time: a job sent twice still runs once.
    """
    from aigc.core.dispatch import uses_broker
    from aigc.core.recovery import recover as recover_jobs
    from aigc.core.store import Store

    store = Store.from_env()
    recovery = recover_jobs(store)
    for label, ids in (
        ("requeued (lease lapsed)", recovery.requeued),
        ("failed (out of attempts)", recovery.failed),
        ("sent", recovery.resent),
    ):
        if ids:
            err.print(f"{label}: {', '.join(str(i) for i in ids)}")
    if recovery.requeued and not uses_broker(store.settings):
        err.print("no broker: continue each here with `aigc jobs resume ID`")
    out.print(f"{len(recovery.requeued)} requeued, {len(recovery.failed)} failed, {len(recovery.resent)} sent")
