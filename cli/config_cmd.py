"""`aigc config`: the settings in effect, every AIGC_* variable with its value and where it came from."""

from __future__ import annotations

import typer

from aigc.cli.render import print_json, value_text


def config(json_out: bool = typer.Option(False, "--json", help="Print JSON for scripts.")) -> None:
    """The effective settings (AIGC_* variables, defaults filled in); passwords and tokens masked."""
    from aigc.core.environment import effective

    settings = effective()
    if json_out:
        print_json({s.variable: s.value for s in settings})
        return
    from aigc.cli.table import Table, print_table

    # The value last: a long one (a database URL, plugin folders) folds under its row, never cut.
    table = Table(["variable", "from"], note="value", fold_note=True)
    for s in settings:
        shown = (", ".join(s.value) or "-") if isinstance(s.value, list) else value_text(s.value)
        table.add_row(s.variable, "environment" if s.from_environment else "default", note=shown)
    print_table(table)
