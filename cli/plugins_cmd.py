"""`aigc plugins`: list discovered plugins; `aigc plugins show NAME`: how to call one;
`aigc plugins new NAME`: write a new plugin package."""

from __future__ import annotations

from pathlib import Path

import typer

from aigc.cli import completion
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
    from aigc.cli.job_source import remote_client
    from aigc.cli.plugin_view import plugin_dicts

    client = remote_client()
    rows = client.plugins() if client is not None else plugin_dicts(Settings.from_env().plugin_path)
    if json_out:
        print_json(rows)
        return
    from rich.text import Text

    from aigc.cli.table import Table, print_table

    table = Table(["name", "modality", "package", "status"], note="description")
    for r in rows:
        ok = r["status"] == "ok"
        status = Text("ok", style="green") if ok else Text("broken", style="red")
        table.add_row(
            r["name"],
            r["modality"] or "-",
            r["package"],
            status,
            note=(r["description"] or "") if ok else f"error: {r['error']}",
        )
    print_table(table)
    if not rows:
        err.print("no plugins found (entry-point group aigc.plugins, AIGC_PLUGIN_PATH)")


@app.command("show")
def show_plugin(
    name: str = typer.Argument(
        ..., help="Plugin name, as listed by `aigc plugins`.", autocompletion=completion.plugin_names
    ),
    json_out: bool = typer.Option(False, "--json", help="Print each job's params as JSON schema."),
) -> None:
    """Each job's params: type, default, limits and help."""
    from aigc.cli.job_source import remote_client
    from aigc.cli.plugin_view import plugin_detail

    client = remote_client()
    detail = client.plugin(name) if client is not None else plugin_detail(name, Settings.from_env().plugin_path)
    if json_out:
        print_json(detail)
        return
    from rich.text import Text

    from aigc.cli.table import Table, print_table
    from aigc.core.params import describe_schema

    title = Text(f"{detail['name']}", style="bold") + Text(
        f" ({detail['modality']}, queue {detail['queue']}): {detail['description']}"
    )
    out.print(title, soft_wrap=False)  # wrapped to the width, like every table below it
    for kind, schema in detail["params"].items():
        out.print()
        out.print(f"aigc submit {kind} --plugin {detail['name']} -p key=value", markup=False)
        table = Table(["param", "type", "default", "limits"], note="help")
        required = set(schema.get("required", ()))
        for p in describe_schema(schema):
            default = "required" if p.name in required else "-" if p.default is None else repr(p.default)
            table.add_row(p.name, p.type, default, p.limits, note=p.help)
        print_table(table)


@app.command("new")
def new_plugin(
    name: str = typer.Argument(..., help="Plugin name: a Python identifier such as my_plugin."),
    directory: Path = typer.Option(Path("."), "--dir", help="Folder to create the package folder aigc-NAME in."),
    modality: str = typer.Option("image", "--modality", help="image or text: what the plugin's template generates."),
) -> None:
    """Write an installable plugin package: pyproject with the entry point, plugin, tiny model, README, tests."""
    from aigc.cli.scaffold import create
    from aigc.core.registry import discover

    taken = set(discover(Settings.from_env().plugin_path))
    target = create(name, directory, modality.lower(), taken)
    out.print(f"created {target}: plugin '{name}' ({modality.lower()})")
    err.print(f"next: pip install -e {target} && aigc plugins && pytest {target}")
