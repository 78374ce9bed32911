"""The user commands through an `aigc serve` (AIGC_SERVER_URL set): the same output, exit codes and errors
as the direct path, the rendering shared with it; `--wait` and `jobs wait` follow the server's pushed events."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from aigc.cli.job_source import RemoteSource, job_from_api

if TYPE_CHECKING:
    from aigc.core.client import Client
    from aigc.core.store import Job


def follow(
    client: Client,
    job_id: int,
    label: str = "",
    enabled: bool = True,
    give_up_when_lapsed: bool = False,
    stream_text: bool = False,
) -> tuple[Job, bool]:
    """The job's progress bar, fed by the server's events, until it ends; the job as it ended, and whether
    text it streamed went to stdout as it came (`stream_text`: as an embedded run shows it).

    `give_up_when_lapsed` (a server without a broker: nothing will requeue the job) raises LeaseLapsed
    once the job's lease has lapsed, as the direct `aigc jobs wait` does.
    """
    from aigc.cli.progress import JobProgress

    def update(state: dict[str, Any]) -> None:
        bar.update(state["progress"], state["progress_info"], state["status"])
        lapsed_s = job_from_api(state).lease_lapsed_s()
        if give_up_when_lapsed and lapsed_s is not None:
            from aigc.core.errors import LeaseLapsed

            raise LeaseLapsed(
                f"job {job_id} is not running: its lease lapsed {lapsed_s:.0f} s ago (the process running it "
                f"stopped); end it with `aigc jobs cancel {job_id}`"
            )

    with JobProgress(job_id, label, enabled=enabled) as bar:
        final = client.wait(job_id, on_progress=update, on_text=bar.stream if stream_text else None)
    return job_from_api(final), bar.streamed


def submit(
    client: Client,
    kind: str,
    plugin: str,
    raw: dict[str, Any],
    wait: bool | None,
    priority: int,
    retries: int,
    json_out: bool,
    out_dir: Path | None,
    preview: bool,
    options: dict[str, Any] | None = None,
) -> None:
    """`aigc submit` through the server: queued to its workers when it has a broker, else run in it."""
    from aigc.cli.render import out
    from aigc.cli.submit_cmd import queued, report, waits_for_out
    from aigc.core.errors import UsageError

    cluster = client.workers()
    if not cluster["broker"] and wait is False:
        raise UsageError(
            f"--no-wait needs a broker: the server at {client.url} has none (AIGC_BROKER_URL), it runs each job itself"
        )
    wait = waits_for_out(out_dir, wait)
    job = job_from_api(client.submit(kind, plugin, priority=priority, retries=retries, **(options or {}), **raw))
    source = RemoteSource(client)
    if not cluster["broker"]:  # the server runs it now: follow it as an embedded run is shown, text and all
        final, streamed = follow(client, job.id, f"{plugin} {kind}", enabled=not json_out, stream_text=not json_out)
        if streamed:
            out.print()
        report(source, final, json_out, texts_shown=streamed, out_dir=out_dir, preview=preview)
        return
    if queued(job, any(job.queue in w["queues"] for w in cluster["workers"]), wait, json_out):
        report(source, follow(client, job.id)[0], json_out, out_dir=out_dir, preview=preview)
