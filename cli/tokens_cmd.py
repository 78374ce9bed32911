"""`aigc tokens create|list|revoke`: the named API tokens of `aigc serve`, managed against the store."""

from __future__ import annotations

from typing import Any

import typer

from aigc.cli.render import age, err, out, print_json

app = typer.Typer(help="Create, list and revoke the API tokens people use with `aigc serve`.", no_args_is_help=True)


@app.command("create")
def create(
    name: str = typer.Argument(..., help="Who or what the token is for: a person, a script (letters, digits, _.@-)."),
    admin: bool = typer.Option(False, "--admin", help="May cancel and re-run every job, not only its own."),
    max_queued: int | None = typer.Option(
        None, "--max-queued", min=1, help="Its jobs queued or running at once (429 beyond). Default: no limit."
    ),
    max_request_bytes: int | None = typer.Option(
        None, "--max-request-bytes", min=1024, help="Largest request body (413 beyond). Default: the server's."
    ),
    max_n: int | None = typer.Option(
        None, "--max-n", min=1, help="Largest `n` of one job (413 beyond). Default: none."
    ),
) -> None:
    """Make a token and print it, once: only its sha256 is kept. Give it to the person as AIGC_TOKEN."""
    from aigc.core.store import Store
    from aigc.core.tokens import create as create_token

    token = create_token(
        Store.from_env(), name, admin=admin, max_queued=max_queued, max_request_bytes=max_request_bytes, max_n=max_n
    )
    out.print(token, markup=False, highlight=False)
    err.print(f"token '{name}' created{' (admin)' if admin else ''}; it is shown this once: AIGC_TOKEN={token[:9]}…")


@app.command("list")
def list_tokens(json_out: bool = typer.Option(False, "--json", help="Print JSON for scripts.")) -> None:
    """Every token: name, admin, limits, created and last used (never the token itself)."""
    from aigc.core.store import Store
    from aigc.core.tokens import listed

    rows: list[dict[str, Any]] = [
        {
            "name": t.name,
            "admin": t.admin,
            "max_queued": t.max_queued,
            "max_request_bytes": t.max_request_bytes,
            "max_n": t.max_n,
            "created_at": t.created_at,
            "last_used_at": t.last_used_at,
        }
        for t in listed(Store.from_env())
    ]
    if json_out:
        print_json(rows)
        return
    from aigc.cli.table import Table, print_table

    table = Table(["name", "admin", "max queued", "max bytes", "max n", "created", "last used"])
    for r in rows:
        table.add_row(
            r["name"],
            "yes" if r["admin"] else "no",
            *(str(r[k]) if r[k] is not None else "-" for k in ("max_queued", "max_request_bytes", "max_n")),
            age(r["created_at"]),
            age(r["last_used_at"]) if r["last_used_at"] else "never",
        )
    print_table(table)
    if not rows:
        err.print("no tokens; make one with: aigc tokens create NAME")


@app.command("revoke")
def revoke(name: str = typer.Argument(..., help="The token's name, as `aigc tokens list` shows it.")) -> None:
    """Delete a token: the server refuses it from its next request on. Its jobs keep its name."""
    from aigc.core.store import Store
    from aigc.core.tokens import revoke as revoke_token

    revoke_token(Store.from_env(), name)
    err.print(f"token '{name}' revoked")
