"""`aigc submit {train,generate,evaluate}`: validate, store, then run in-process or queue."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import typer

from aigc.cli import completion
from aigc.cli.results_cmd import check_destination

if TYPE_CHECKING:
    from aigc.cli.job_source import JobSource
    from aigc.core.context import Interruption
    from aigc.core.store import Job, Store

app = typer.Typer(help="Submit a job to a plugin.", no_args_is_help=True)


def _submit(
    kind: str,
    plugin: str,
    param: list[str],
    model: str | None,
    prompt: str | None,
    wait: bool | None,
    priority: int,
    retries: int,
    json_out: bool,
    out_dir: Path | None = None,
    preview: bool = True,
    after: str | None = None,
    timeout: str | None = None,
    notify: str | None = None,
    label: str | None = None,
) -> None:
    from aigc.core.dispatch import uses_broker
    from aigc.core.errors import UsageError
    from aigc.core.jobs import Submission, create_job, start
    from aigc.core.params import parse_assignments
    from aigc.core.plugin import JobKind
    from aigc.core.store import Store

    raw = parse_assignments(param)
    for key, value in (("model", model), ("prompt", prompt)):
        if value is not None:
            if key in raw:
                raise UsageError(f"'{key}' is given both as --{key} and as -p {key}=...; give it once")
            raw[key] = value
    from aigc.core.durations import parse_duration

    parents = parse_job_ids(after) if after else ()
    timeout_s = parse_duration(timeout, "--timeout") if timeout is not None else None
    from aigc.cli.job_source import remote_client

    client = remote_client()
    if client is not None:
        from aigc.cli import remote

        options = {"after": list(parents), "timeout_s": timeout_s, "notify": notify, "label": label}
        remote.submit(client, kind, plugin, raw, wait, priority, retries, json_out, out_dir, preview, options)
        return
    store = Store.from_env()
    if not uses_broker(store.settings) and wait is False:
        raise UsageError("--no-wait needs a broker (set AIGC_BROKER_URL); without one the job runs in this process")
    wait = waits_for_out(out_dir, wait)
    submission = Submission(
        JobKind(kind),
        plugin,
        raw,
        priority=priority,
        retries=retries,
        after=parents,
        timeout_s=timeout_s,
        notify_url=notify,
        label=label,
    )
    job = create_job(store, submission)

    here = ShownRun(store, f"{plugin} {kind}", shown=not json_out)
    if start(store, [job], run_here=here.run):
        from aigc.core.cluster import serves

        if not queued(job, serves(store, job.queue), wait, json_out):
            return
        from aigc.cli.job_source import StoreSource
        from aigc.cli.jobs_cmd import follow

        report(StoreSource(store), follow(store, job.id), json_out, out_dir=out_dir, preview=preview)
    else:
        here.report(job.id, json_out, out_dir=out_dir, preview=preview)


def parse_job_ids(text: str) -> tuple[int, ...]:
    """`--after 12,13` as job ids; one line naming a malformed one."""
    from aigc.core.jobs import parse_job_id

    return tuple(parse_job_id(part) for part in text.split(","))


def waits_for_out(out_dir: Path | None, wait: bool | None) -> bool | None:
    """`--out` writes the files when the job ends, so it waits (refused with --no-wait); its folder is
    checked before any job is stored."""
    from aigc.core.errors import UsageError

    if out_dir is None:
        return wait
    if wait is False:
        raise UsageError("--out writes the results when the job ends: drop --no-wait, or use `aigc results ID --out`")
    check_destination(out_dir)
    return True


def queued(job: Job, served: bool, wait: bool | None, json_out: bool) -> bool:
    """What `submit` says of a job it queued (a warning when no live worker serves its queue, and without
    --wait its id); True when the caller goes on to follow it."""
    from aigc.cli import render
    from aigc.cli.serialize import job_dict
    from aigc.core.cluster import start_worker_hint

    if not served:  # the job still waits in its queue for a worker to come
        render.err.print(f"warning: no live worker serves queue '{job.queue}'; {start_worker_hint(job.queue)}")
    if wait:
        return True
    if json_out:
        render.print_json(job_dict(job))
    else:
        render.out.print(job.id)
        render.err.print(f"job {job.id} queued on '{job.queue}'; follow it with: aigc jobs wait {job.id}")
    return False


def report(
    source: JobSource,
    final: Job,
    json_out: bool,
    texts_shown: bool = False,
    out_dir: Path | None = None,
    preview: bool = False,
) -> None:
    """The job's end as `submit` and `jobs wait` print it, its results written to `out_dir` and previewed
    here if asked; exit code 1 unless it succeeded. `source`: the store, or the server in remote mode."""
    from aigc.cli import render
    from aigc.cli.job_view import summarize
    from aigc.cli.serialize import job_dict

    if json_out:
        render.print_json(job_dict(final))
    else:
        summarize(source, final, texts_shown=texts_shown, files_hint=out_dir is None)
    _deliver(source, final, out_dir, preview and not json_out)
    if final.status != "succeeded":
        raise typer.Exit(1)


def _deliver(source: JobSource, job: Job, out_dir: Path | None, preview: bool) -> None:
    """Write the job's results into `out_dir` (as `aigc results --out` does) and preview its images here."""
    from aigc.cli import preview as previews
    from aigc.cli.render import err

    mode = previews.terminal_mode() if preview else None
    if out_dir is None and mode is None:
        return
    if out_dir is not None and any(source.facts(job, texts=False).counts.values()):
        source.write(job, out_dir)
    shown = previews.show(source.rows(job), mode) if mode else None
    if shown is not None:
        where = f"all in {out_dir}" if out_dir is not None else f"files: aigc results {job.id} --out DIR"
        err.print(f"{shown}; {where}")


class ShownRun:
    """A job run in this process, its progress bar and streamed text on the terminal, Ctrl-C or SIGTERM
    cancelling it. `aigc submit` (no broker) and `aigc jobs resume` run jobs through it."""

    def __init__(self, store: Store, label: str, shown: bool) -> None:
        from aigc.core.context import Interruption

        self.store, self.label, self.shown = store, label, shown
        self.interrupted = Interruption()
        self.streamed = False

    def run(self, job_id: int) -> None:
        from aigc.cli.progress import JobProgress
        from aigc.core.runner import run_to_end

        with JobProgress(job_id, self.label, enabled=self.shown) as bar, signals_cancel(self.interrupted):
            try:
                run_to_end(
                    job_id,
                    settings=self.store.settings,
                    on_progress=lambda p: bar.update(p.fraction, dict(p.info)),
                    on_stream=bar.stream if self.shown else None,
                    interrupted=self.interrupted,
                )
            except KeyboardInterrupt:  # a second signal: the runner has recorded the job cancelled
                raise self._stopped() from None
            finally:
                self.streamed = bar.streamed

    def report(self, job_id: int, json_out: bool, out_dir: Path | None = None, preview: bool = False) -> None:
        """After `run`: the job's end, or the signal that stopped it (the job is then `cancelled`)."""
        from aigc.cli import render
        from aigc.core.store import queries

        if self.interrupted.is_set():
            raise self._stopped()
        if self.streamed:
            render.out.print()
        from aigc.core.webhooks import first_tries

        first_tries(self.store, job_id)  # this process's sender posts them: give it a moment before exiting
        with self.store.transaction() as session:
            final = queries.get_job(session, job_id)
        from aigc.cli.job_source import StoreSource

        report(StoreSource(self.store), final, json_out, texts_shown=self.streamed, out_dir=out_dir, preview=preview)

    def _stopped(self) -> Exception:
        from aigc.core.errors import Interrupted

        if self.interrupted.reason == TERMINATED:
            return Interrupted("terminated", 128 + signal.SIGTERM)
        return Interrupted("interrupted", 128 + signal.SIGINT)


TERMINATED = "terminated (SIGTERM)"


@contextmanager
def signals_cancel(interrupted: Interruption) -> Iterator[None]:
    """The first Ctrl-C or SIGTERM sets `interrupted` (the job stops at its next progress point and ends
    `cancelled`); a second one aborts at once (the job is still recorded `cancelled`)."""

    def handle(signum: int, frame: FrameType | None) -> None:
        if interrupted.is_set():
            raise KeyboardInterrupt
        interrupted.interrupt(TERMINATED if signum == signal.SIGTERM else "interrupted (Ctrl-C)")

    previous = {signum: signal.signal(signum, handle) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _register(kind: str) -> None:
    def command(
        plugin: str = typer.Option(
            ..., "--plugin", help="Plugin name (see `aigc plugins`).", autocompletion=completion.plugin_names
        ),
        param: list[str] = typer.Option(
            [], "--param", "-p", help="A job param as key=value; repeat for more.", autocompletion=completion.param_keys
        ),
        model: str | None = typer.Option(
            None, "--model", help="Model id to use (see `aigc models`), or from:JOB for the model train job JOB makes."
        ),
        prompt: str | None = typer.Option(None, "--prompt", help="Shorthand for -p prompt=TEXT."),
        wait: bool | None = typer.Option(
            None, "--wait/--no-wait", help="Follow the job to its end (default: wait when embedded, not when queued)."
        ),
        priority: int = typer.Option(0, "--priority", min=0, max=9, help="0-9, higher runs first (queued jobs)."),
        retries: int = typer.Option(0, "--retries", min=0, max=10, help="Re-runs, with backoff, if the job raises."),
        json_out: bool = typer.Option(False, "--json", help="Print the final job as JSON."),
        out_dir: Path | None = typer.Option(
            None, "--out", help="Folder to write the results into when the job ends (as `aigc results --out`)."
        ),
        no_preview: bool = typer.Option(False, "--no-preview", help="Do not show the images in the terminal."),
        after: str | None = typer.Option(
            None, "--after", help="Run only once these jobs succeeded (ID[,ID...]); cancelled if one does not."
        ),
        timeout: str | None = typer.Option(
            None, "--timeout", help="End the job failed once it runs this long, e.g. 90s, 30m, 2h (default: none)."
        ),
        notify: str | None = typer.Option(None, "--notify", help="POST a JSON notice to this URL when the job ends."),
        label: str | None = typer.Option(
            None, "--label", help="'visible': also mark results visibly (an AI corner mark, a text prefix)."
        ),
    ) -> None:
        _submit(
            kind,
            plugin,
            param,
            model,
            prompt,
            wait,
            priority,
            retries,
            json_out,
            out_dir,
            not no_preview,
            after,
            timeout,
            notify,
            label,
        )

    command.__doc__ = f"Submit a {kind} job."
    app.command(str(kind))(command)


# The three job kinds of aigc.core.plugin.JobKind, spelled out so `aigc --help` stays light.
for _kind in ("train", "generate", "evaluate"):
    _register(_kind)
