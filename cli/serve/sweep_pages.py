"""The pages of sweeps and comparisons: a sweep's table, its curves overlaid, each swept param against
the chosen metric, samples of the best model; and any jobs or models side by side."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import RedirectResponse, Response

from aigc.cli.charts import overlay_svg, panels_of, scatter_svg
from aigc.cli.serve.pages import Srv, page
from aigc.core.compare import compare
from aigc.core.errors import UsageError
from aigc.core.store import MAX_ID, queries
from aigc.core.store import sweeps as sweep_rows
from aigc.core.sweep_results import Point, SweepTable, sweep_table

router = APIRouter(include_in_schema=False)
SweepId = Annotated[int, Path(ge=1, le=MAX_ID)]
SAMPLES = 16  # images of the best model shown


def default_metric(keys: list[str]) -> str | None:
    """What a sweep page sorts by until one is chosen: FID, else a loss, else the first metric."""
    for wanted in ("fid",):
        if wanted in keys:
            return wanted
    return next((k for k in keys if "loss" in k), keys[0] if keys else None)


@router.get("/sweeps")
def sweeps_page(request: Request, srv: Srv) -> Response:
    with srv.store.transaction() as session:
        rows = list(sweep_rows.list_sweeps(session, 200))
        counts = sweep_rows.status_counts(session, [s.id for s in rows])
    return page(srv, request, "sweeps.html", sweeps=rows, counts=counts)


@router.get("/sweeps/{sweep_id}")
def sweep_page(
    request: Request,
    sweep_id: SweepId,
    srv: Srv,
    by: Annotated[str | None, Query(max_length=100)] = None,
    highest: bool = False,
) -> Response:
    table = sweep_table(srv.store, sweep_id)  # UsageError (no such sweep) becomes the error page
    chosen = by if by in table.metric_keys else default_metric(table.metric_keys)
    if chosen is not None:
        table = sweep_table(srv.store, sweep_id, chosen, highest)
    best = next((p for p in table.points if p.best), None)
    return page(
        srv,
        request,
        "sweep.html",
        table=table,
        by=chosen,
        highest=highest,
        swept=list(table.sweep.spec.get("swept", [])),
        keys=([chosen] if chosen else []) + [k for k in table.metric_keys if k != chosen],
        curves=_curves(srv, table),
        scatters=_scatters(table, chosen, best),
        best=best,
        samples=_samples(srv, best),
    )


def _curves(srv: Any, table: SweepTable) -> list[str]:
    with srv.store.transaction() as session:
        series = {f"job {p.job.id}": queries.metric_series(session, p.job.id) for p in table.points}
    return [overlay_svg(key, lines) for key, lines in panels_of(series).items()]


def _scatters(table: SweepTable, metric: str | None, best: Point | None) -> list[str]:
    if metric is None:
        return []
    charts = []
    for param in table.sweep.spec.get("swept", []):
        dots = [
            (float(p.params[param]), p.metrics[metric], f"job {p.job.id}")
            for p in table.points
            if isinstance(p.params.get(param), (int, float)) and metric in p.metrics
        ]
        if dots or not table.points:
            charts.append(scatter_svg(param, metric, dots, f"job {best.job.id}" if best else None))
    return charts


def _samples(srv: Any, best: Point | None) -> tuple[int, list[Any]] | None:
    """(job, images) of the best model: what a chained generate job drew from it, else its training samples."""
    if best is None:
        return None
    drawn = next((c for c in best.chained if c.kind == "generate" and c.status == "succeeded"), None)
    with srv.store.transaction() as session:
        if drawn is not None:
            return drawn.id, [r for r in queries.result_infos(session, drawn.id, limit=SAMPLES) if r.kind == "image"]
        images = [r for r in queries.result_infos(session, best.job.id) if r.kind == "image"]
    return best.job.id, images[-SAMPLES:]


@router.post("/sweeps/{sweep_id}/cancel")
def cancel_sweep(sweep_id: SweepId, srv: Srv) -> RedirectResponse:
    from aigc.core.sweeps import cancel_sweep as cancel

    cancel(srv.store, sweep_id)
    return RedirectResponse(f"/sweeps/{sweep_id}", status_code=303)


@router.get("/compare")
def compare_page(request: Request, srv: Srv, ids: Annotated[str, Query(max_length=2000)] = "") -> Response:
    """`/compare?ids=12,13,m:3`: jobs (or models, m:ID) side by side, their curves overlaid."""
    refs = [part.strip() for part in ids.split(",") if part.strip()]
    try:
        result = compare(srv.store, refs)
    except UsageError as exc:
        return page(
            srv, request, "compare.html", 422 if refs else 200, result=None, ids=ids, error=str(exc) if refs else None
        )
    panels = panels_of({item.label: item.curves for item in result.items})
    charts = [overlay_svg(key, lines) for key, lines in panels.items()]
    return page(srv, request, "compare.html", result=result, ids=ids, error=None, charts=charts)
