"""`aigc models`: trained and bundled checkpoints; `aigc models export`: copy one out."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from aigc.cli import completion
from aigc.cli.render import age, err, print_json, value_text
from aigc.core.config import Settings

if TYPE_CHECKING:
    from aigc.cli.model_view import ModelView
    from aigc.core.client import Client

app = typer.Typer(help="List and export models (trained checkpoints and bundled defaults).")


@app.callback(invoke_without_command=True)
def list_models(
    ctx: typer.Context,
    plugin: str | None = typer.Option(
        None, "--plugin", help="Only this plugin's models.", autocompletion=completion.plugin_names
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Trained models (newest first), then each plugin's bundled default."""
    if ctx.invoked_subcommand is not None:
        return
    from aigc.cli.job_source import remote_client

    client = remote_client()
    rows = _served_models(client, plugin) if client is not None else _stored_models(plugin)
    if json_out:
        print_json([vars(r) for r in rows])
        return
    from aigc.cli.table import Table, print_table

    table = Table(["id", "plugin", "name", "format", "from job", "created"], note="metrics")
    for r in rows:
        table.add_row(
            r.id,
            r.plugin,
            r.name,
            r.format,
            str(r.source_job_id or "-"),
            age(r.created_at) if r.created_at else "bundled",
            note=", ".join(f"{k}={value_text(v)}" for k, v in r.metrics.items()),
        )
    print_table(table)


def _stored_models(plugin: str | None) -> list[ModelView]:
    from aigc.cli.model_view import models
    from aigc.core.registry import discover
    from aigc.core.store import Store

    store = Store.from_env()
    with store.transaction() as session:
        return models(session, discover(store.settings.plugin_path), plugin)


def _served_models(client: Client, plugin: str | None) -> list[ModelView]:
    """The server's list in the same shape, its times as the store keeps them (so --json prints them alike)."""
    from aigc.cli.job_source import api_time
    from aigc.cli.model_view import ModelView

    return [ModelView(**{**m, "created_at": api_time(m["created_at"])}) for m in client.models(plugin)]


@app.command("export")
def export(
    model_id: str = typer.Argument(..., help="Model id (a number from `aigc models`, or 'default' with --plugin)."),
    destination: Path = typer.Argument(..., help="File (safetensors) or folder (Hugging Face format) to write."),
    plugin: str | None = typer.Option(None, "--plugin", help="Plugin of the model (needed for 'default')."),
) -> None:
    """Copy a model's verified artifact out of the store, e.g. into a plugin's package data."""
    from aigc.core import catalog
    from aigc.core.errors import UnknownModel, UsageError
    from aigc.core.registry import get_plugin
    from aigc.core.store import Store, queries

    settings = Settings.from_env()
    store = Store(settings)
    with store.transaction() as session:
        if plugin is None:
            if model_id == catalog.BUNDLED:
                raise UsageError(f"model '{model_id}' needs --plugin NAME")
            row = queries.get_model(session, catalog.parse_model_id(model_id))
            if row is None:
                raise UnknownModel(f"no model with id {model_id}; see `aigc models`")
            plugin = row.plugin
        plugin_cls = get_plugin(plugin, settings.plugin_path)
        ref = catalog.resolve_ref(session, plugin_cls, model_id)
        loaded = catalog.load(session, store.artifacts, plugin_cls, ref.id)
    written = catalog.export(loaded, destination)
    err.print(f"exported {plugin} model {loaded.id} ({loaded.format}, sha256 {loaded.sha256[:12]}) to {written}")
