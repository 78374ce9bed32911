"""The HTML pages: jobs, a job, a result, models, plugins with their submit forms, workers, login."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response

from aigc.cli import model_view
from aigc.cli.serve import actions, views
from aigc.cli.serve.cluster import cluster
from aigc.cli.serve.forms import form_fields, parse_form, posted_values
from aigc.cli.serve.plot import line_chart
from aigc.cli.serve.security import COOKIE, safe_next
from aigc.core.dispatch import uses_broker
from aigc.core.errors import NotAllowed, OverLimit, UsageError
from aigc.core.jobs import Submission
from aigc.core.plugin import JobKind
from aigc.core.registry import discover, get_plugin
from aigc.core.store import MAX_ID, JobStatus, joblogs, queries

router = APIRouter(include_in_schema=False)
PAGE = 1000  # results shown per page of a job; the thumbnails load lazily
LOG_LINES = 200  # a job page shows the end of its log; the API gives all of it
JobId = Annotated[int, Path(ge=1, le=MAX_ID)]
Name = Annotated[str, Path(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")]


def server(request: Request) -> Any:
    return request.app.state.server


Srv = Annotated[Any, Depends(server)]


def page(srv: Any, request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
    context.setdefault("token_mode", srv.guard.required())
    return srv.templates.TemplateResponse(request, name, context, status_code=status_code)


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/jobs", status_code=303)


def _jobs_context(
    srv: Any, status: str | None, plugin: str | None, before: int | None, limit: int, sweep: int | None = None
) -> dict[str, Any]:
    status = status if status in set(JobStatus) else None
    with srv.store.transaction() as session:
        jobs = queries.list_jobs(
            session, status=status, plugin=plugin or None, before=before, limit=limit, sweep_id=sweep
        )
        counts = queries.status_counts(session, plugin or None)
        plugins = queries.job_plugins(session)
    older = jobs[-1].id if len(jobs) == limit else None
    return dict(
        jobs=jobs,
        counts=counts,
        plugins=plugins,
        status=status,
        plugin=plugin,
        older=older,
        limit=limit,
        statuses=list(JobStatus),
        before=before,
        sweep=sweep,
    )


Limit = Annotated[int, Query(ge=1, le=500)]
Before = Annotated[int | None, Query(ge=1, le=MAX_ID)]
Plugin = Annotated[str | None, Query(max_length=100)]


@router.get("/jobs")
def jobs_page(
    request: Request,
    srv: Srv,
    status: str | None = None,
    plugin: Plugin = None,
    before: Before = None,
    limit: Limit = 50,
    sweep: Before = None,
) -> Response:
    return page(srv, request, "jobs.html", **_jobs_context(srv, status, plugin, before, limit, sweep))


@router.get("/jobs/rows")
def jobs_rows(
    request: Request,
    srv: Srv,
    status: str | None = None,
    plugin: Plugin = None,
    before: Before = None,
    limit: Limit = 50,
    sweep: Before = None,
) -> Response:
    """The table body alone, which the jobs page fetches every few seconds to stay live."""
    return page(srv, request, "_job_rows.html", **_jobs_context(srv, status, plugin, before, limit, sweep))


@router.get("/jobs/changes")
def jobs_changes(srv: Srv) -> Response:
    """Server-sent events telling the jobs page when to fetch its rows again (a job added or changed)."""
    from fastapi.responses import StreamingResponse

    from aigc.cli.serve.events import sse

    return StreamingResponse(
        sse(srv.events.follow_listing()),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.get("/jobs/{job_id}")
def job_page(request: Request, job_id: JobId, srv: Srv, offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0) -> Response:
    with srv.store.transaction() as session:
        job = queries.get_job(session, job_id)
        results = queries.result_infos(session, job_id, offset=offset, limit=PAGE)
        counts = queries.count_results(session, job_id)
        series = queries.metric_series(session, job_id)
        made = [m for m in queries.models_of(session, job.plugin) if m.source_job_id == job_id]
    log_lines = joblogs.tail(srv.store, job_id, LOG_LINES)
    total = sum(counts.values())
    return page(
        srv,
        request,
        "job.html",
        job=job,
        counts=counts,
        total=total,
        offset=offset,
        page_size=PAGE,
        items=[r for r in results if r.role == "item"],
        extras=[r for r in results if r.role != "item"],
        charts=[line_chart(key, points) for key, points in series.items()],
        made=made,
        log_lines=log_lines,
    )


@router.get("/jobs/{job_id}/results/{index}")
def result_page(request: Request, job_id: JobId, index: Annotated[int, Path(ge=0, le=MAX_ID)], srv: Srv) -> Response:
    from aigc.core.images import read_png_text

    with srv.store.transaction() as session:
        job = queries.get_job(session, job_id)
        row = queries.get_result(session, job_id, index)
        last = queries.next_result_index(session, job_id) - 1
    if row is None:
        return page(srv, request, "error.html", 404, status=404, message=f"job {job_id} has no result {index}")
    png_text: dict[str, str] = {}
    if row.kind == "image" and row.mime.startswith("image/png") and row.data:
        try:
            png_text = read_png_text(row.data)
        except Exception as exc:  # a damaged PNG still gets its page, with the reason
            png_text = {"(unreadable)": str(exc)}
    return page(
        srv,
        request,
        "result.html",
        job=job,
        row=row,
        png_text=png_text,
        previous=index - 1 if index > 0 else None,
        next=index + 1 if index < last else None,
    )


@router.post("/jobs/{job_id}/cancel")
def cancel_job(request: Request, job_id: JobId, srv: Srv) -> RedirectResponse:
    actions.cancel(srv, job_id, actions.caller_of(request))
    return RedirectResponse(f"/jobs/{job_id}", status_code=303)


@router.post("/jobs/{job_id}/rerun")
def rerun_job(request: Request, job_id: JobId, srv: Srv) -> RedirectResponse:
    job = actions.rerun(srv, job_id, actions.caller_of(request))
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


@router.get("/models")
def models_page(request: Request, srv: Srv, plugin: Plugin = None) -> Response:
    entries = discover(srv.store.settings.plugin_path)
    with srv.store.transaction() as session:
        models = model_view.models(session, entries, plugin or None)
    return page(srv, request, "models.html", models=models, plugin=plugin)


@router.get("/plugins")
def plugins_page(request: Request, srv: Srv) -> Response:
    return page(srv, request, "plugins.html", entries=list(discover(srv.store.settings.plugin_path).values()))


def _plugin_forms(srv: Any, name: str, values: dict[str, dict[str, Any]]) -> dict[str, Any]:
    plugin = get_plugin(name, srv.store.settings.plugin_path)
    with srv.store.transaction() as session:
        choices = views.model_choices(session, plugin.name)
    forms = {str(k): form_fields(plugin.params_model(k), values.get(str(k)), choices) for k in JobKind}
    return dict(plugin=plugin, forms=forms, broker=uses_broker(srv.store.settings))


@router.get("/plugins/{name}")
def plugin_page(
    request: Request,
    name: Name,
    srv: Srv,
    kind: str | None = None,
    from_job: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> Response:
    values: dict[str, dict[str, Any]] = {}
    if from_job is not None:  # "edit and re-run": the form filled with an earlier job's params
        with srv.store.transaction() as session:
            old = queries.get_job(session, from_job)
        if old.plugin == name:
            values[old.kind] = dict(old.params)
            kind = old.kind
    return page(
        srv,
        request,
        "plugin.html",
        open_kind=kind if kind in set(JobKind) else None,
        error=None,
        **_plugin_forms(srv, name, values),
    )


@router.post("/plugins/{name}/{kind}")
async def submit_form(request: Request, name: Name, kind: JobKind, srv: Srv) -> Response:
    from starlette.concurrency import run_in_threadpool

    form = await request.form()
    posted = {key: [str(v) for v in form.getlist(key)] for key in form.keys()}
    # Store and registry work off the event loop, as FastAPI does for plain `def` routes.
    return await run_in_threadpool(_submit_posted, request, srv, name, kind, posted)


def _submit_posted(request: Request, srv: Any, name: str, kind: JobKind, posted: dict[str, list[str]]) -> Response:
    try:
        plugin = get_plugin(name, srv.store.settings.plugin_path)
        submission = Submission(kind, name, parse_form(posted, plugin.params_model(kind)))
        job = actions.submit(srv, submission, actions.caller_of(request))
    except (NotAllowed, OverLimit):
        raise
    except UsageError as exc:
        return page(
            srv,
            request,
            "plugin.html",
            422,
            open_kind=str(kind),
            error=str(exc),
            **_plugin_forms(srv, name, {str(kind): posted_values(posted)}),
        )
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


@router.get("/workers")
def workers_page(request: Request, srv: Srv) -> Response:
    return page(srv, request, "workers.html", cluster=cluster(srv.store, srv.launcher))


@router.get("/login")
def login_page(request: Request, srv: Srv, next: str | None = None) -> Response:
    return page(srv, request, "login.html", next=safe_next(next), error=None)


@router.post("/login")
def login(
    request: Request, srv: Srv, token: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/jobs"
) -> Response:
    from aigc.core.tokens import Caller

    refusal = srv.guard.check_token(request, token)
    if not isinstance(refusal, Caller):
        error = "wrong token" if refusal.status_code == 401 else bytes(refusal.body).decode()
        shown = page(srv, request, "login.html", refusal.status_code, next=safe_next(next), error=error)
        shown.headers.update({k: v for k, v in refusal.headers.items() if k == "retry-after"})
        return shown
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        COOKIE, srv.guard.login_cookie(refusal), httponly=True, samesite="strict", secure=request.url.scheme == "https"
    )
    return response
