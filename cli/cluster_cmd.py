"""`aigc workers`: who is alive, on which device, what each runs, and the queue depths."""

from __future__ import annotations

import typer

from aigc.cli.render import age, err, print_json


def workers(json_out: bool = typer.Option(False, "--json", help="Print JSON for scripts.")) -> None:
    """Live workers (device, queues, heartbeat, the jobs each runs) and queue depths."""
    from aigc.core.cluster import cluster_status
    from aigc.core.store import Store

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
    from aigc.cli.table import Table, print_table

    table = Table(["worker", "device", "queues", "pid", "heartbeat", "up since"], note="running")
    for w in status.workers:
        running = ", ".join(f"job {j}" for j in w.running) or "idle"
        table.add_row(
            w.name, w.device, ",".join(w.queues), str(w.pid), age(w.heartbeat_at), age(w.started_at), note=running
        )
    if status.workers:
        print_table(table)
    else:
        err.print("no live workers")
    depth = Table(["queue", "queued jobs", "broker messages"])
    for q in status.queues:
        depth.add_row(q.queue, str(q.queued), "?" if q.messages is None else str(q.messages))
    print_table(depth)
    if not status.broker:
        err.print("no broker configured (AIGC_BROKER_URL): jobs run in the process that submits them")
    if status.broker_error:
        err.print(f"warning: {status.broker_error}")
