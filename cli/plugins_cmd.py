"""`aigc plugins`: list discovered plugins; `aigc plugins show NAME`: how to call one."""

from __future__ import annotations

import typer

from aigc.cli.render import err, out, print_json
from aigc.core.config import Settings

app = typer.Typer(help="List plugins and show their params.", no_args_is_help=False)


@app.callback(invoke_without_command=True)
def list_plugins(
    ctx: typer.Context,
    json_out: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """List every plugin (name, modality, source package, status); broken ones with their error."""
    if ctx.invoked_subcommand is not None:
        return
    from aigc.core.registry import discover

    entries = discover(Settings.from_env().plugin_path)
    if json_out:
        print_json(
            [
                {
                    "name": e.name,
                    "modality": str(e.plugin.modality) if e.plugin else None,
                    "description": e.plugin.description if e.plugin else None,
                    "package": e.package,
                    "source": e.source,
                    "status": e.status,
                    "error": e.error,
                }
                for e in entries.values()
            ]
        )
        return
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for column in ("name", "modality", "package", "status", "description"):
        table.add_column(column)
    for e in entries.values():
        status = "[green]ok[/]" if e.ok else f"[red]broken[/]: {e.error}"
        table.add_row(e.name, str(e.plugin.modality) if e.plugin else "-", e.package, status, e.plugin.description if e.plugin else "")
    out.print(table)
    if not entries:
        err.print("no plugins found (entry-point group aigc.plugins, AIGC_PLUGIN_PATH)")


@app.command("show")
def show_plugin(
    name: str = typer.Argument(..., help="Plugin name, as listed by `aigc plugins`."),
    json_out: bool = typer.Option(False, "--json", help="Print each job's params as JSON schema."),
) -> None:
    """Each job's params: type, default, limits and help."""
    from aigc.core.params import describe
    from aigc.core.plugin import JobKind
    from aigc.core.registry import get_plugin

    plugin = get_plugin(name, Settings.from_env().plugin_path)
    if json_out:
        print_json(
            {
                "name": plugin.name,
                "modality": str(plugin.modality),
                "description": plugin.description,
                "queue": plugin.queue,
                "contract": plugin.contract,
                "bundled_model": plugin.bundled_model,
                "params": {str(k): plugin.params_model(k).model_json_schema() for k in JobKind},
            }
        )
        return
    from rich.table import Table

    out.print(f"[bold]{plugin.name}[/] ({plugin.modality}, queue {plugin.queue}): {plugin.description}")
    for kind in JobKind:
        table = Table(title=f"aigc submit {kind} --plugin {plugin.name} -p key=value", title_justify="left", box=None)
        for column in ("param", "type", "default", "limits", "help"):
            table.add_column(column)
        for p in describe(plugin.params_model(kind)):
            table.add_row(p.name, p.type, "-" if p.default is None else repr(p.default), p.limits, p.help)
        out.print(table)
