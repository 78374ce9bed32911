"""`aigc serve`: the web gallery and JSON API over the store (FastAPI under uvicorn, imported on use)."""

from __future__ import annotations

import copy
from typing import Any

import typer

from aigc.cli.render import err


def serve(
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Address to bind; anything beyond loopback needs AIGC_API_TOKEN."
    ),
    port: int = typer.Option(8000, "--port", min=0, max=65535, help="Port to bind (0: any free port)."),
) -> None:
    """Serve the jobs, results, models and plugins as web pages and a JSON API (/api)."""
    from aigc.cli.serve.security import is_loopback
    from aigc.core.config import environment
    from aigc.core.errors import UsageError

    env = environment()
    token = env.api_token.get_secret_value() if env.api_token is not None else None
    if token is not None and len(token) < 16:
        raise UsageError("AIGC_API_TOKEN is too short to guess-proof: use at least 16 characters")
    import uvicorn

    from aigc.cli.serve import create_app

    app = create_app(token=token)  # the store is opened now: a bad database URL fails before binding
    required = app.state.server.guard.required()  # AIGC_API_TOKEN, or a named token in the store
    if not is_loopback(host) and not required:
        raise UsageError(
            f"binding to {host} lets other machines read and change the store: set AIGC_API_TOKEN "
            "(clients send it as 'Authorization: Bearer TOKEN') or make a token with `aigc tokens create NAME`, "
            "or bind to 127.0.0.1"
        )
    shown = f"[{host}]" if ":" in host else host
    err.print(f"aigc serve: http://{shown}:{port}/  ({'token required' if required else 'loopback only, no token'})")
    uvicorn.run(app, host=host, port=port, log_level=env.serve_log, access_log=False, log_config=_log_config())


def _log_config() -> dict[str, Any]:
    """uvicorn's logging, with every handler masking passwords (an error's traceback may quote a URL)."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["mask_secrets"] = {"()": "aigc.core.masking.MaskSecrets"}
    for handler in config["handlers"].values():
        handler.setdefault("filters", []).append("mask_secrets")
    # aigc's own records (an embedded job that could not run) through the same masking handler
    config["loggers"]["aigc"] = {"handlers": ["default"], "level": "WARNING", "propagate": False}
    return config
