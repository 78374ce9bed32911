"""`aigc compare ID ID ...`: jobs (or models, m:ID) side by side; --plot overlays their training curves."""

from __future__ import annotations

from pathlib import Path

import typer

from aigc.cli.render import err, print_json, value_text


def compare(
    refs: list[str] = typer.Argument(..., help="Job ids, or m:ID for a model (see `aigc models`)."),
    plot: Path | None = typer.Option(
        None, "--plot", help="Write their training curves overlaid: FILE.png or FILE.svg."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """The params that differ and the final metrics of jobs or models, side by side."""
    from aigc.cli.charts import figure_png, figure_svg, panels_of
    from aigc.cli.table import Table, print_table
    from aigc.core.compare import compare as read
    from aigc.core.errors import UsageError
    from aigc.core.store import Store

    if plot is not None and plot.suffix.lower() not in (".png", ".svg"):
        raise UsageError(f"--plot {plot}: name a .png or .svg file")
    result = read(Store.from_env(), refs)
    if plot is not None:
        panels = panels_of({item.label: item.curves for item in result.items})
        if not panels:
            raise UsageError("none of these has training curves to plot (only training jobs log them)")
        data = figure_png(panels) if plot.suffix.lower() == ".png" else figure_svg(panels).encode()
        plot.write_bytes(data)
        err.print(f"{len(panels)} metric{'s' if len(panels) != 1 else ''} plotted to {plot}")
    if json_out:
        print_json(
            {
                "differing": result.differing,
                "items": [
                    {"label": i.label, "job": i.job_id, "params": i.params, "metrics": i.metrics} for i in result.items
                ],
            }
        )
        return
    table = Table(["", *(item.label for item in result.items)])
    for key in result.differing:
        table.add_row(key, *(value_text(item.params.get(key)) for item in result.items))
    for key in result.metric_keys:
        table.add_row(key, *(value_text(item.metrics.get(key)) for item in result.items))
    if not result.differing:
        err.print("their params are all the same")
    print_table(table)
