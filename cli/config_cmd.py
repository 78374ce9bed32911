"""`aigc config`: the settings in effect, every AIGC_* variable with its value and where it came from."""

from __future__ import annotations

import typer

from aigc.cli.render import out, print_json, value_text


def config(json_out: bool = typer.Option(False, "--json", help="Print JSON for scripts.")) -> None:
    """The effective settings (AIGC_* variables, defaults filled in); passwords and tokens masked."""
    from aigc.core.environment import effective

    settings = effective()
    if json_out:
        print_json({s.variable: s.value for s in settings})
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, pad_edge=False)
    for column in ("variable", "value", "from"):
        table.add_column(column)
    for s in settings:
        shown = (", ".join(s.value) or "-") if isinstance(s.value, list) else value_text(s.value)
        table.add_row(s.variable, Text(shown), "environment" if s.from_environment else "default")
    out.print(table)
