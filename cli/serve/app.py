"""`create_app(settings)`: the FastAPI app of `aigc serve`, over the same store the CLI and the workers use."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from aigc.cli.serve import render
from aigc.cli.serve.launcher import Launcher
from aigc.cli.serve.limits import BodyLimit
from aigc.cli.serve.security import Guard
from aigc.core.config import Settings, environment
from aigc.core.errors import (
    EXCERPT_CHARS,
    AigcError,
    BrokenPlugin,
    BrokerUnavailable,
    NotAllowed,
    OverLimit,
    StoreUnavailable,
    UnknownJob,
    UnknownModel,
    UnknownPlugin,
    UnknownSweep,
    UsageError,
    excerpt,
    first_line,
)
from aigc.core.masking import masked
from aigc.core.store import Store

if TYPE_CHECKING:
    from aigc.cli.serve.events import JobEvents

HERE = Path(__file__).parent
log = logging.getLogger("aigc.serve")

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    # Everything the pages use comes from this server; no inline script, so injected markup cannot run.
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
}


@dataclass
class Server:
    """What every route needs: the store, how jobs start, the access rules, the templates."""

    store: Store
    launcher: Launcher
    guard: Guard
    templates: Jinja2Templates
    events: JobEvents  # job changes pushed to the clients that follow a job (server-sent events)


def create_app(settings: Settings | None = None, *, token: str | None = None, check_host: bool = True) -> FastAPI:
    """The app over `settings`' store. With `token`, every route but static assets and /login needs it."""
    settings = settings or Settings.from_env()
    store = Store(settings)  # fails now, in one line, if the database is unreachable or not migrated
    templates = Jinja2Templates(directory=HERE / "templates")
    render.install(templates.env)
    from aigc.cli.serve.events import JobEvents
    from aigc.core.tokens import TokenBook

    guard = Guard(token=token or None, check_host=check_host, book=TokenBook(store))
    launcher = Launcher(store)
    server = Server(store, launcher, guard, templates, JobEvents(store, launcher.texts))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from aigc.core.config import environment
        from aigc.core.webhooks import sender_for

        if settings.webhook_url or environment().webhook_allow:  # notices may exist: keep sending them
            sender_for(store)
        yield
        server.events.stop()
        server.launcher.stop()

    app = FastAPI(
        title="aigc",
        summary="Submit, follow and collect content-generation jobs; the JSON twin of the aigc CLI.",
        version=_version(),
        openapi_url="/api/openapi.json",
        docs_url=None,  # the stock docs pages load scripts from a CDN; /api lists the operations instead
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.server = server
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    from aigc.cli.serve import api, pages, sweep_api, sweep_pages

    app.include_router(api.router)
    app.include_router(sweep_api.router)
    app.include_router(pages.router)
    app.include_router(sweep_pages.router)
    # Added first, so innermost: it wraps the very `receive` the routes read (the guard, outside it, reads no body).
    app.add_middleware(BodyLimit, limit=environment().max_request_bytes)
    _install_middleware(app, server.guard)
    _install_errors(app, templates)
    return app


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("aigc")
    except PackageNotFoundError:
        return "0"


def _install_middleware(app: FastAPI, guard: Guard) -> None:
    @app.middleware("http")
    async def guarded(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = guard.refusal(request) or await call_next(request)
        for key, value in HEADERS.items():
            response.headers.setdefault(key, value)
        # Server time of every response, as the browser's devtools and the benchmark read it.
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
        return response


def status_of(exc: Exception) -> int:
    if isinstance(exc, (UnknownJob, UnknownPlugin, UnknownModel, UnknownSweep)):
        return 404
    if isinstance(exc, NotAllowed):
        return 403
    if isinstance(exc, OverLimit):
        return exc.status
    if isinstance(exc, BrokenPlugin):
        return 409
    if isinstance(exc, UsageError | DataError):
        return 422
    if isinstance(exc, (StoreUnavailable, BrokerUnavailable)):
        return 503
    return 500


def message_of(exc: Exception) -> str:
    if isinstance(exc, DataError):
        return f"the store cannot hold a value of this request: {first_line(exc)}"
    return masked(str(exc))  # a message may quote a URL with its password


def _encodable(value: Any) -> Any:
    """`value` with every string made UTF-8-encodable: a lone surrogate sent as JSON `\\udcff` comes back
    as the text `\\udcff` instead of failing the response."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_encodable(k): _encodable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_encodable(v) for v in value]
    return value


def _short(error: dict[str, Any]) -> dict[str, Any]:
    """One of FastAPI's validation errors, quoting at most a short prefix of what was sent."""
    error["loc"] = [
        p[:EXCERPT_CHARS] + "…" if isinstance(p, str) and len(p) > EXCERPT_CHARS else p for p in error["loc"]
    ]
    if "input" in error and len(repr(error["input"])) > EXCERPT_CHARS:
        error["input"] = excerpt(error["input"])
    return error


def _install_errors(app: FastAPI, templates: Jinja2Templates) -> None:
    def reply(request: Request, status: int, message: str) -> Response:
        message = _encodable(message)
        if request.url.path.startswith("/api"):
            return JSONResponse({"detail": message}, status_code=status)
        return templates.TemplateResponse(
            request, "error.html", {"status": status, "message": message}, status_code=status
        )

    @app.exception_handler(AigcError)
    async def core_error(request: Request, exc: AigcError) -> Response:
        return reply(request, status_of(exc), message_of(exc))

    @app.exception_handler(DataError)
    async def data_error(request: Request, exc: DataError) -> Response:
        return reply(request, 422, message_of(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        response = reply(request, exc.status_code, str(exc.detail))
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        if request.url.path.startswith("/api"):
            from fastapi.encoders import jsonable_encoder

            errors = [_short(e) for e in jsonable_encoder(exc.errors())]
            return JSONResponse({"detail": _encodable(errors)}, status_code=422)
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return reply(request, 404 if "path" in where else 422, f"{where}: {first.get('msg', 'invalid request')}")
