"""The JSON API under /api: what the CLI does (submit, list, show, cancel, results, models, plugins), over HTTP."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response, StreamingResponse

from aigc.cli import model_view
from aigc.cli.plugin_view import plugin_detail, plugin_dicts
from aigc.cli.serialize import job_dict
from aigc.cli.serve import actions
from aigc.cli.serve.cluster import cluster
from aigc.cli.serve.files import content, file_name, zip_stream
from aigc.cli.serve.schemas import (
    CancelOut,
    ClusterOut,
    ErrorOut,
    JobDetailOut,
    JobOut,
    LogLineOut,
    MetricPoint,
    ModelOut,
    PluginDetail,
    PluginOut,
    ResultOut,
    SubmitIn,
)
from aigc.core.errors import NotAllowed, OverLimit, UsageError
from aigc.core.jobs import Submission
from aigc.core.plugin import JobKind
from aigc.core.registry import discover
from aigc.core.store import MAX_ID, JobStatus, queries

ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "no such job, plugin, model or result"},
    503: {"model": ErrorOut, "description": "the database or the broker cannot be reached"},
}
router = APIRouter(prefix="/api", responses=ERRORS)

JobId = Annotated[int, Path(ge=1, le=MAX_ID, description="job id")]
# Plugin names are Python identifiers (the registry refuses others), so nothing else needs a lookup.
PluginName = Annotated[str, Path(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,99}$", description="plugin name")]
PluginFilter = Annotated[str | None, Query(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,99}$", description="only this plugin's")]


def server(request: Request) -> Any:
    return request.app.state.server


Srv = Annotated[Any, Depends(server)]


@router.get("/plugins", response_model=list[PluginOut], summary="Plugins, broken ones with their error")
def list_plugins(srv: Srv) -> list[dict[str, Any]]:
    return plugin_dicts(srv.store.settings.plugin_path)


@router.get(
    "/plugins/{name}",
    response_model=PluginDetail,
    summary="A plugin's params per job kind (JSON schema)",
    responses={409: {"model": ErrorOut, "description": "the plugin is broken"}},
)
def show_plugin(name: PluginName, srv: Srv) -> dict[str, Any]:
    return plugin_detail(name, srv.store.settings.plugin_path)


@router.post(
    "/jobs",
    status_code=201,
    response_model=JobOut,
    summary="Submit a job (aigc submit)",
    responses={
        400: {"model": ErrorOut, "description": "a body that is not JSON"},
        413: {"model": ErrorOut, "description": "a body, or an `n`, over the server's or the token's limit"},
        429: {"model": ErrorOut, "description": "the token has as many jobs queued or running as it may"},
        422: {"model": ErrorOut, "description": "unknown plugin or model, or invalid params"},
    },
)
def submit(body: SubmitIn, srv: Srv, request: Request) -> dict[str, Any]:
    from fastapi import HTTPException

    submission = Submission(
        JobKind(body.kind),
        body.plugin,
        body.params,
        body.priority,
        body.retries,
        after=tuple(body.after),
        timeout_s=body.timeout_s,
        notify_url=body.notify,
        label=body.label,
    )
    try:
        job = actions.submit(srv, submission, actions.caller_of(request))
    except (NotAllowed, OverLimit):
        raise
    except UsageError as exc:  # the body named something that does not exist or does not validate
        raise HTTPException(422, str(exc)) from None
    return job_dict(job)


@router.get("/jobs", response_model=list[JobOut], summary="The newest jobs, newest first (aigc jobs list)")
def list_jobs(
    srv: Srv,
    status: JobStatus | None = None,
    plugin: PluginFilter = None,
    before: Annotated[int | None, Query(ge=1, le=MAX_ID, description="only jobs older than this id (paging)")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 20,
) -> list[dict[str, Any]]:
    with srv.store.transaction() as session:
        jobs = queries.list_jobs(session, status=status, plugin=plugin, before=before, limit=limit)
    return [job_dict(j) for j in jobs]


@router.get(
    "/jobs/{job_id}",
    response_model=JobDetailOut,
    summary="One job, the jobs it waits for and its webhook notices (aigc jobs show)",
)
def show_job(job_id: JobId, srv: Srv) -> dict[str, Any]:
    from aigc.core.store import notices
    from aigc.core.store.dependencies import parents_of

    with srv.store.transaction() as session:
        job = queries.get_job(session, job_id)
        return {
            **job_dict(job),
            "after": parents_of(session, [job_id]).get(job_id, []),
            "webhooks": [notices.describe(n) for n in notices.notices_of(session, job_id)],
        }


@router.get(
    "/jobs/{job_id}/events",
    response_class=StreamingResponse,
    summary="A job's state now and at each change, until it ends (server-sent events; aigc jobs wait)",
    responses={200: {"content": {"text/event-stream": {}}, "description": "`event: job` with the job as data"}},
)
def job_events(job_id: JobId, srv: Srv) -> StreamingResponse:
    from aigc.cli.serve.events import sse

    with srv.store.transaction() as session:
        queries.get_job(session, job_id)  # 404 now, not an empty stream
    return StreamingResponse(
        sse(srv.events.follow(job_id)),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},  # a proxy must not hold events back
    )


@router.post(
    "/jobs/{job_id}/cancel",
    response_model=CancelOut,
    summary="Cancel a job (aigc jobs cancel)",
    responses={403: {"model": ErrorOut, "description": "a job another token submitted (admin tokens may)"}},
)
def cancel_job(job_id: JobId, srv: Srv, request: Request) -> dict[str, Any]:
    done = actions.cancel(srv, job_id, actions.caller_of(request))
    return {
        "id": job_id,
        "was": done.was,
        "status": done.status,
        "lease_lapsed": done.lease_lapsed,
        "message": done.message,
    }


@router.post(
    "/jobs/{job_id}/rerun",
    status_code=201,
    response_model=JobOut,
    summary="Submit the job again with the same params, seed and model",
    responses={
        403: {"model": ErrorOut, "description": "a job another token submitted (admin tokens may)"},
        422: {"model": ErrorOut, "description": "the job's plugin or model is gone"},
        429: {"model": ErrorOut, "description": "the token has as many jobs queued or running as it may"},
    },
)
def rerun_job(job_id: JobId, srv: Srv, request: Request) -> dict[str, Any]:
    return job_dict(actions.rerun(srv, job_id, actions.caller_of(request)))


@router.get("/jobs/{job_id}/metrics", response_model=list[MetricPoint], summary="A job's training curves")
def job_metrics(job_id: JobId, srv: Srv) -> list[dict[str, Any]]:
    with srv.store.transaction() as session:
        queries.get_job(session, job_id)
        series = queries.metric_series(session, job_id)
    return [{"key": key, "step": step, "value": value} for key, points in series.items() for step, value in points]


@router.get("/jobs/{job_id}/logs", response_model=list[LogLineOut], summary="A job's log lines (aigc jobs logs)")
def job_logs(
    job_id: JobId, srv: Srv, after: Annotated[int, Query(ge=0, le=MAX_ID, description="lines numbered above this")] = 0
) -> list[dict[str, Any]]:
    from aigc.core.store import joblogs

    with srv.store.transaction() as session:
        queries.get_job(session, job_id)  # 404 for an unknown job
    return [
        {"line": x.line, "at": x.at, "level": x.level, "text": x.text}
        for x in joblogs.lines_after(srv.store, job_id, after)
    ]


@router.get("/jobs/{job_id}/results", response_model=list[ResultOut], summary="A job's results (aigc results --json)")
def list_results(
    job_id: JobId,
    srv: Srv,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 10_000,
) -> list[dict[str, Any]]:
    with srv.store.transaction() as session:
        queries.get_job(session, job_id)
        infos = queries.result_infos(session, job_id, offset=offset, limit=limit)
    return [
        {
            "index": r.index,
            "kind": r.kind,
            "role": r.role,
            "mime": r.mime,
            "bytes": r.size,
            "text": r.text,
            "seed": r.seed,
            "meta": r.meta,
            "url": f"/api/jobs/{job_id}/results/{r.index}",
        }
        for r in infos
    ]


@router.get(
    "/jobs/{job_id}/results.zip",
    response_class=StreamingResponse,
    summary="All of a job's results as one zip, with a results.json manifest",
    responses={200: {"content": {"application/zip": {}}, "description": "a zip file"}},
)
def results_zip(job_id: JobId, srv: Srv) -> StreamingResponse:
    with srv.store.transaction() as session:
        job = job_dict(queries.get_job(session, job_id))
    return StreamingResponse(
        zip_stream(srv.store, job),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="aigc-job-{job_id}-results.zip"'},
    )


@router.get(
    "/jobs/{job_id}/results/{index}",
    response_class=Response,
    summary="One result as a file",
    responses={
        200: {
            "content": {"image/png": {}, "text/plain": {}, "application/octet-stream": {}},
            "description": "the result's bytes",
        }
    },
)
def result_file(
    job_id: JobId,
    index: Annotated[int, Path(ge=0, le=MAX_ID)],
    srv: Srv,
    download: Annotated[bool, Query(description="as an attachment rather than inline")] = False,
) -> Response:
    from fastapi import HTTPException

    with srv.store.transaction() as session:
        queries.get_job(session, job_id)
        row = queries.get_result(session, job_id, index)
    if row is None:
        raise HTTPException(404, f"job {job_id} has no result {index}")
    body, media_type, inline = content(row)
    disposition = "inline" if inline and not download else "attachment"
    name = file_name(row.index, row.role, row.kind, row.mime)
    return Response(
        body,
        media_type=media_type,
        headers={
            "Content-Disposition": f'{disposition}; filename="job{job_id}-{name}"',
            # A result row is never rewritten: a browser may keep it (privately: it may need the token).
            "Cache-Control": "private, max-age=86400, immutable",
        },
    )


@router.get("/models", response_model=list[ModelOut], summary="Trained models and bundled defaults (aigc models)")
def list_models(srv: Srv, plugin: PluginFilter = None) -> list[dict[str, Any]]:
    entries = discover(srv.store.settings.plugin_path)
    with srv.store.transaction() as session:
        return [vars(m) for m in model_view.models(session, entries, plugin)]


@router.get("/workers", response_model=ClusterOut, summary="Live workers and queue depths (aigc workers)")
def workers(srv: Srv) -> ClusterOut:
    return cluster(srv.store, srv.launcher)
