"""`aigc sweep {train,generate,evaluate}`: many jobs over a grid or a random draw of params, chained jobs on
each trained model; `aigc sweeps list|show|cancel` to follow and compare them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperCommand

from aigc.cli import completion
from aigc.cli.render import age, err, out, print_json, value_text

if TYPE_CHECKING:
    from typer._click import Context

    from aigc.core.sweep_results import SweepTable

app = typer.Typer(help="Run many jobs over a grid or a random draw of params.", no_args_is_help=True)
sweeps_app = typer.Typer(help="List, show and cancel sweeps.", no_args_is_help=True)

THEN_HELP = (
    "Chain a job on each trained model: --then evaluate, --then generate -p n=64 "
    "(the -p options right after it are that job's); repeat for more."
)


def split_then(args: list[str]) -> tuple[list[str], list[list[str]]]:
    """Take `--then KIND [-p key=value ...]` out of a command line: (the rest, [[KIND, key=value, ...]])."""
    own: list[str] = []
    chained: list[list[str]] = []
    current: list[str] | None = None
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--then" or arg.startswith("--then="):
            kind = arg.partition("=")[2] if "=" in arg else (args[i + 1] if i + 1 < len(args) else "")
            i += 1 if "=" in arg else 2
            current = [kind]
            chained.append(current)
            continue
        if current is not None and arg in ("-p", "--param") and i + 1 < len(args):
            current.append(args[i + 1])
            i += 2
            continue
        if current is not None and (arg.startswith("--param=") or (arg.startswith("-p") and len(arg) > 2)):
            current.append(arg.removeprefix("--param=").removeprefix("-p"))
            i += 1
            continue
        current = None
        own.append(arg)
        i += 1
    return own, chained


class ThenCommand(TyperCommand):
    """A sweep command: its `--then` options, each with the -p options after it, are parsed here."""

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        own, chained = split_then(args)
        ctx.meta["aigc.then"] = chained
        return super().parse_args(ctx, own)


def _chained(ctx: typer.Context) -> tuple[Any, ...]:
    from aigc.core.errors import UsageError
    from aigc.core.params import parse_assignments
    from aigc.core.plugin import JobKind
    from aigc.core.sweeps import Chained

    found = []
    for kind, *pairs in ctx.meta.get("aigc.then", []):
        if kind not in set(JobKind):
            raise UsageError(f"--then takes a job kind ({', '.join(JobKind)}), got '{kind}'")
        found.append(Chained(JobKind(kind), parse_assignments(pairs)))
    return tuple(found)


def _sweep(ctx: typer.Context, kind: str, options: dict[str, Any]) -> None:
    from aigc.core.dispatch import uses_broker
    from aigc.core.errors import UsageError
    from aigc.core.plugin import JobKind
    from aigc.core.store import Store
    from aigc.core.sweep_spec import parse_axes
    from aigc.core.sweeps import SweepRequest, create_sweep

    axes = parse_axes(options["param"])
    if options["model"] is not None:
        if "model" in axes:
            raise UsageError("'model' is given both as --model and as -p model=...; give it once")
        axes["model"] = [options["model"]]
    store = Store.from_env()
    if not uses_broker(store.settings) and options["wait"] is False:
        raise UsageError("--no-wait needs a broker (set AIGC_BROKER_URL); without one the sweep runs in this process")
    request = SweepRequest(
        kind=JobKind(kind),
        plugin=options["plugin"],
        axes=axes,
        random=options["random"],
        random_seed=options["random_seed"],
        seeds=options["seeds"],
        max_parallel=options["max_parallel"],
        then=_chained(ctx),
        priority=options["priority"],
        retries=options["retries"],
    )
    sweep_id, jobs = create_sweep(store, request)
    if uses_broker(store.settings):
        _queued(store, sweep_id, jobs, options)
    else:
        _run_here(store, sweep_id, jobs, options)


def _queued(store: Any, sweep_id: int, jobs: list[Any], options: dict[str, Any]) -> None:
    from aigc.core.sweeps import start_sweep

    start_sweep(store, jobs)
    if not options["wait"]:
        if options["json_out"]:
            print_json({"sweep": sweep_id, "jobs": [job.id for job in jobs]})
        else:
            out.print(sweep_id)
            err.print(f"sweep {sweep_id}: {len(jobs)} jobs queued; follow it with: aigc sweeps show {sweep_id}")
        return
    from aigc.core.jobs import wait_for

    with err.status(f"sweep {sweep_id}: waiting for {len(jobs)} jobs"):
        for job in jobs:
            wait_for(store, job.id)
    _report(store, sweep_id, options)


def _run_here(store: Any, sweep_id: int, jobs: list[Any], options: dict[str, Any]) -> None:
    from aigc.cli.submit_cmd import ShownRun
    from aigc.core.store import queries
    from aigc.core.sweeps import cancel_sweep, start_sweep

    err.print(f"sweep {sweep_id}: {len(jobs)} jobs, run here one after the other")
    # A bar per job on a terminal; a line per job in a log, where a bar would leave a blank line.
    here = ShownRun(store, f"sweep {sweep_id}", shown=not options["json_out"] and err.is_terminal)
    done: list[int] = []

    def run(job_id: int) -> None:
        if here.interrupted.is_set():
            return
        here.run(job_id)
        done.append(job_id)
        with store.transaction() as session:
            job = queries.get_job(session, job_id)
        err.print(f"job {job.id} {job.status}: {job.plugin} {job.kind} ({len(done)} of {len(jobs)})", highlight=False)

    start_sweep(store, jobs, run_here=run)
    if here.interrupted.is_set():
        cancel_sweep(store, sweep_id)
        raise here._stopped()
    _report(store, sweep_id, options)


def _report(store: Any, sweep_id: int, options: dict[str, Any]) -> None:
    from aigc.core.sweep_results import sweep_table

    table = sweep_table(store, sweep_id, options.get("by"), options.get("highest", False))
    show_table(table, options["json_out"])
    if set(table.counts) - {"succeeded"}:
        raise typer.Exit(1)


def _register(kind: str) -> None:
    def command(
        ctx: typer.Context,
        plugin: str = typer.Option(
            ..., "--plugin", help="Plugin name (see `aigc plugins`).", autocompletion=completion.plugin_names
        ),
        param: list[str] = typer.Option(
            [],
            "--param",
            "-p",
            help="key=a,b,c; or, with --random, a range: log:1e-4..1e-2, int:32..256, 0.1..0.5. Repeat for more.",
            autocompletion=completion.param_keys,
        ),
        model: str | None = typer.Option(None, "--model", help="Model id every job reads (see `aigc models`)."),
        random_n: int | None = typer.Option(
            None, "--random", min=1, help="Draw N points from the values and ranges instead of the grid."
        ),
        random_seed: int | None = typer.Option(None, "--random-seed", help="Seed of the draw (default: a new one)."),
        seeds: int | None = typer.Option(None, "--seeds", min=1, max=1000, help="Run each point with seeds 0..K-1."),
        max_parallel: int | None = typer.Option(
            None, "--max-parallel", min=1, help="At most K jobs of the sweep run at once (queued jobs)."
        ),
        then: list[str] = typer.Option([], "--then", help=THEN_HELP),
        priority: int = typer.Option(0, "--priority", min=0, max=9, help="0-9, higher runs first (queued jobs)."),
        retries: int = typer.Option(0, "--retries", min=0, max=10, help="Re-runs, with backoff, if a job raises."),
        wait: bool | None = typer.Option(
            None, "--wait/--no-wait", help="Wait for every job and show the table (default: wait when embedded)."
        ),
        by: str | None = typer.Option(None, "--by", help="Sort the final table by this metric (lowest first)."),
        highest: bool = typer.Option(False, "--highest", help="With --by: the highest value is best."),
        json_out: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
    ) -> None:
        options = dict(
            plugin=plugin,
            param=param,
            model=model,
            random=random_n,
            random_seed=random_seed,
            seeds=seeds,
            max_parallel=max_parallel,
            priority=priority,
            retries=retries,
            wait=wait,
            by=by,
            highest=highest,
            json_out=json_out,
        )
        _sweep(ctx, kind, options)

    command.__doc__ = f"Sweep {kind} jobs over params: a grid, or --random N points."
    app.command(str(kind), cls=ThenCommand)(command)


for _kind in ("train", "generate", "evaluate"):
    _register(_kind)


def parse_sweep_id(raw: str) -> int:
    from aigc.core.ids import parse_id

    return parse_id(raw, "sweep")


@sweeps_app.command("list")
def list_sweeps(
    limit: int = typer.Option(20, "--limit", min=1, max=10000, help="Newest N sweeps."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """The newest sweeps, newest first, with how many of their jobs are in each state."""
    from aigc.cli.serialize import sweep_dict
    from aigc.core.store import Store
    from aigc.core.store import sweeps as sweep_rows

    store = Store.from_env()
    with store.transaction() as session:
        rows = list(sweep_rows.list_sweeps(session, limit))
        counts = sweep_rows.status_counts(session, [s.id for s in rows])
    if json_out:
        print_json([sweep_dict(s, counts.get(s.id, {})) for s in rows])
        return
    from aigc.cli.table import Table, print_table

    table = Table(["id", "plugin", "kind", "mode", "points", "jobs", "created"], note="swept")
    for s in rows:
        jobs = ", ".join(f"{n} {status}" for status, n in sorted(counts.get(s.id, {}).items()))
        swept = " ".join(f"{k}={s.spec['axes'].get(k, '')}" for k in s.spec.get("swept", []) if k in s.spec["axes"])
        table.add_row(
            str(s.id), s.plugin, s.kind, s.spec.get("mode", "grid"), str(s.spec.get("points", "")), jobs or "-",
            age(s.created_at), note=swept,
        )  # fmt: skip
    print_table(table)


@sweeps_app.command("show")
def show(
    sweep_id: str = typer.Argument(..., help="Sweep id (see `aigc sweeps list`)."),
    by: str | None = typer.Option(None, "--by", help="Sort by this metric, lowest first; the best is marked *."),
    highest: bool = typer.Option(False, "--highest", help="With --by: the highest value is best."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Each point of a sweep: its params and final metrics (from its chained evaluate job, else its own
    summary), sorted by --by with the best marked."""
    from aigc.core.store import Store
    from aigc.core.sweep_results import sweep_table

    show_table(sweep_table(Store.from_env(), parse_sweep_id(sweep_id), by, highest), json_out)


def show_table(table: SweepTable, json_out: bool) -> None:
    sweep = table.sweep
    if json_out:
        from aigc.cli.serialize import sweep_table_dict

        print_json(sweep_table_dict(table))
        return
    from aigc.cli.job_view import job_status_cell
    from aigc.cli.table import Table, print_table

    swept = list(sweep.spec.get("swept", []))
    keys = ([table.by] if table.by in table.metric_keys else []) + [k for k in table.metric_keys if k != table.by]
    t = Table(["", "job", "status", *swept, *keys])
    for p in table.points:
        t.add_row(
            "*" if p.best else "",
            str(p.job.id),
            job_status_cell(p.job),
            *(value_text(p.params.get(k)) for k in swept),
            *(value_text(p.metrics.get(k)) for k in keys),
        )
    counts = ", ".join(f"{n} {status}" for status, n in sorted(table.counts.items()))
    err.print(f"sweep {sweep.id}: {sweep.plugin} {sweep.kind}, {len(table.points)} points ({counts})")
    print_table(t)
    best = next((p for p in table.points if p.best), None)
    if best is not None:
        err.print(f"best by {table.by}: job {best.job.id} (metrics of {best.source})")


@sweeps_app.command("cancel")
def cancel(sweep_id: str = typer.Argument(..., help="Sweep id.")) -> None:
    """Cancel every job of a sweep that has not ended: queued ones never run, running ones stop soon."""
    from aigc.core.store import Store
    from aigc.core.sweeps import cancel_sweep

    sid = parse_sweep_id(sweep_id)
    done = cancel_sweep(Store.from_env(), sid)
    err.print(
        f"sweep {sid}: {done['cancelled']} jobs cancelled, {done['stopping']} stopping at their next progress point"
    )
