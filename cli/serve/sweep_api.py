"""The JSON API of sweeps: start one (aigc sweep), list them, show one's points, cancel one."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query

from aigc.cli.serialize import sweep_dict, sweep_table_dict
from aigc.cli.serve.api import ERRORS, Srv
from aigc.cli.serve.schemas import ErrorOut, SweepCreatedOut, SweepDetail, SweepIn, SweepOut
from aigc.core.errors import UsageError
from aigc.core.plugin import JobKind
from aigc.core.store import MAX_ID
from aigc.core.store import sweeps as sweep_rows
from aigc.core.sweep_results import sweep_table
from aigc.core.sweep_spec import Axis, parse_axes
from aigc.core.sweeps import Chained, SweepRequest, cancel_sweep, create_sweep

router = APIRouter(prefix="/api", responses=ERRORS)
SweepId = Annotated[int, Path(ge=1, le=MAX_ID, description="sweep id")]


def _axes(params: dict[str, Any]) -> dict[str, Axis]:
    axes: dict[str, Axis] = {}
    for key, value in params.items():
        if isinstance(value, list):
            axes[key] = value
        elif isinstance(value, str):
            axes.update(parse_axes([f"{key}={value}"]))
        else:
            axes[key] = [value]
    return axes


@router.post(
    "/sweeps",
    status_code=201,
    response_model=SweepCreatedOut,
    summary="Start a sweep (aigc sweep): every job validated before any is stored",
    responses={
        400: {"model": ErrorOut, "description": "a body that is not JSON"},
        422: {"model": ErrorOut, "description": "unknown plugin, a bad value or range"},
    },
)
def start_sweep(body: SweepIn, srv: Srv) -> dict[str, Any]:
    try:
        request = SweepRequest(
            kind=JobKind(body.kind),
            plugin=body.plugin,
            axes=_axes(body.params),
            random=body.random,
            random_seed=body.random_seed,
            seeds=body.seeds,
            max_parallel=body.max_parallel,
            then=tuple(Chained(JobKind(t.kind), t.params) for t in body.then),
            priority=body.priority,
            retries=body.retries,
            remote=True,
        )
        sweep_id, jobs = create_sweep(srv.store, request)
    except UsageError as exc:
        raise HTTPException(422, str(exc)) from None
    srv.launcher.start_all(jobs)
    return {"id": sweep_id, "jobs": [job.id for job in jobs]}


@router.get("/sweeps", response_model=list[SweepOut], summary="The newest sweeps (aigc sweeps list)")
def list_sweeps(srv: Srv, limit: Annotated[int, Query(ge=1, le=1000)] = 20) -> list[dict[str, Any]]:
    with srv.store.transaction() as session:
        rows = list(sweep_rows.list_sweeps(session, limit))
        counts = sweep_rows.status_counts(session, [s.id for s in rows])
    return [sweep_dict(s, counts.get(s.id, {})) for s in rows]


@router.get("/sweeps/{sweep_id}", response_model=SweepDetail, summary="A sweep's points and metrics (aigc sweeps show)")
def show_sweep(
    sweep_id: SweepId,
    srv: Srv,
    by: Annotated[str | None, Query(max_length=100, description="sort by this metric, lowest first")] = None,
    highest: Annotated[bool, Query(description="with by: the highest value is best")] = False,
) -> dict[str, Any]:
    return sweep_table_dict(sweep_table(srv.store, sweep_id, by, highest))


@router.post("/sweeps/{sweep_id}/cancel", summary="Cancel every job of a sweep not yet ended (aigc sweeps cancel)")
def cancel(sweep_id: SweepId, srv: Srv) -> dict[str, int]:
    return cancel_sweep(srv.store, sweep_id)
