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
    from rich.text import Text

    from aigc.cli.table import Table, print_table

    table = Table(["name", "modality", "package", "status"], note="description")
    for e in entries.values():
        status = Text("ok", style="green") if e.ok else Text("broken", style="red")
        table.add_row(
            e.name,
            str(e.plugin.modality) if e.plugin else "-",
            e.package,
            status,
            note=(e.plugin.description if e.plugin else "") if e.ok else f"error: {e.error}",
        )
    print_table(table)
    if not entries:
        err.print("no plugins found (entry-point group aigc.plugins, AIGC_PLUGIN_PATH)")


@app.command("show")
def show_plugin(
    name: str = typer.Argument(
        ..., help="Plugin name, as listed by `aigc plugins`.", autocompletion=completion.plugin_names
    ),
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
    from rich.text import Text

    from aigc.cli.table import Table, print_table

    title = Text(f"{plugin.name}", style="bold") + Text(
        f" ({plugin.modality}, queue {plugin.queue}): {plugin.description}"
    )
    out.print(title, soft_wrap=False)  # wrapped to the width, like every table below it
    for kind in JobKind:
        out.print()
        out.print(f"aigc submit {kind} --plugin {plugin.name} -p key=value", markup=False)
        table = Table(["param", "type", "default", "limits"], note="help")
        model = plugin.params_model(kind)
        for p in describe(model):
            field = model.model_fields.get(p.name)
            required = field is not None and field.is_required()
            default = "required" if required else "-" if p.default is None else repr(p.default)
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
