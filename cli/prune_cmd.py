"""`aigc prune` (delete old finished jobs and what they made) and `aigc du` (what the store holds)."""

from __future__ import annotations

import typer

from aigc.cli import completion
from aigc.cli.render import err, out, print_json


def prune(
    older_than: str = typer.Option(..., "--older-than", help="Jobs that ended longer ago than this, e.g. 30d, 12h."),
    status: str | None = typer.Option(
        None, "--status", help="Only these statuses, comma-separated: succeeded, failed, cancelled (default: all)."
    ),
    plugin: str | None = typer.Option(
        None, "--plugin", help="Only this plugin's jobs.", autocompletion=completion.plugin_names
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what would be deleted; delete nothing."),
    newest_models: bool = typer.Option(
        False, "--newest-models", help="Also delete the newest model of a plugin if a pruned job made it."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Delete finished jobs older than --older-than with their results, metrics, logs and checkpoints.

    Models those jobs trained go too, except one a queued or running job pins and the newest of each
    plugin (unless --newest-models).
    """
    from dataclasses import asdict

    from aigc.core.durations import parse_duration
    from aigc.core.retention import prune as prune_jobs
    from aigc.core.store import Store

    seconds = parse_duration(older_than, "--older-than")
    statuses = [s.strip() for s in status.split(",") if s.strip()] if status else []
    report = prune_jobs(
        Store.from_env(), seconds, statuses=statuses, plugin=plugin, dry_run=dry_run, newest_models=newest_models
    )
    if json_out:
        print_json(asdict(report))
    else:
        err.print(report.line(), markup=False, highlight=False)


def du(json_out: bool = typer.Option(False, "--json", help="Print JSON for scripts.")) -> None:
    """The store's size per plugin: jobs, results (bytes in the database), model and checkpoint files."""
    from dataclasses import asdict

    from aigc.cli.table import Table, print_table
    from aigc.core.doctor.storage import human_size
    from aigc.core.retention import disk_usage
    from aigc.core.store import Store

    store = Store.from_env()
    usages, database, artifacts = disk_usage(store)
    if json_out:
        print_json({"plugins": [asdict(u) for u in usages], "database_bytes": database, "artifacts_bytes": artifacts})
        return
    table = Table(["plugin", "jobs", "results", "result bytes", "models", "checkpoints"])
    for u in usages:
        table.add_row(
            u.plugin,
            str(u.jobs),
            str(u.results),
            human_size(u.result_bytes),
            human_size(u.model_bytes),
            human_size(u.checkpoint_bytes),
        )
    print_table(table)
    where = f"database file {human_size(database)}, " if database is not None else ""
    out.print(f"{where}artifacts folder {human_size(artifacts)} ({store.artifacts.root})", markup=False)
