"""`aigc db upgrade`: apply the store's migrations."""

from __future__ import annotations

import typer

from aigc.cli.render import out
from aigc.core.config import Settings

app = typer.Typer(help="Manage the job store's database.", no_args_is_help=True)


@app.command("upgrade")
def upgrade() -> None:
    """Bring the database at AIGC_DATABASE_URL to the newest schema (safe to run repeatedly)."""
    from aigc.core.store.engine import migrate

    before, after = migrate(Settings.from_env().database_url)
    if before == after:
        out.print(f"database already at revision {after}")
    else:
        out.print(f"database upgraded from revision {before or 'none'} to {after}")
