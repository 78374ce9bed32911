"""Every AIGC_* variable aigc reads, parsed and checked in one pydantic-settings model.

Read through `aigc.core.config.environment()`. A bad value raises InvalidSetting: one line naming the
variable and what it accepts (each field's description), exit code 2 on the command line. Empty
variables count as unset. `aigc config` shows the effective values (`effective()`), secrets masked.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from aigc.core.errors import InvalidSetting

PREFIX = "AIGC_"
# The devices a job may ask for; the same words as the `device` param of every job.
DEVICE_PATTERN = r"^(auto|cpu|cuda(:\d+)?|mps)$"


class Environment(BaseSettings):
    """Each field's description says what its variable accepts; the error for a bad value quotes it."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, env_ignore_empty=True, frozen=True, extra="ignore")

    # -- the store, the artifacts, the queue, the jobs --------------------------------------------
    # Where the embedded store, artifacts and data sets live.
    home: Path | None = Field(None, description="a folder (default: the user data dir)")
    database_url: str | None = Field(
        None,
        description="a database URL such as postgresql://user:password@host/aigc (default: sqlite:///<AIGC_HOME>/aigc.db)",
    )
    artifacts: Path | None = Field(None, description="a folder (default: <AIGC_HOME>/artifacts)")
    # Unset: every job runs in the process that starts it.
    broker_url: str | None = Field(None, description="a broker URL such as redis://127.0.0.1:6379/0, or nothing")
    plugin_path: str = Field("", description=f"folders of drop-in plugins, separated by '{os.pathsep}'")
    # How long an attempt that stops renewing its lease keeps its job; it renews every third of this.
    lease_seconds: float = Field(
        30.0, gt=0, allow_inf_nan=False, description="a number of seconds above 0 (default 30)"
    )
    # Attempts per job, for any reason (a worker that died, a retry).
    max_attempts: int = Field(3, ge=1, description="a whole number, 1 or more (default 3)")
    # The device of the jobs that ask for "auto": a node's operator decides.
    device: str = Field("auto", pattern=DEVICE_PATTERN, description="auto, cpu, cuda, cuda:N or mps (default auto)")
    # -- the command line and the server ----------------------------------------------------------
    # Print the traceback of an unexpected error.
    debug: bool = Field(False, description="1 or 0 (also true/false, yes/no, on/off)")
    # Required by `aigc serve` to bind beyond loopback; clients send it as a bearer token.
    api_token: SecretStr | None = Field(None, description="a token of 16 characters or more")
    serve_log: Literal["critical", "error", "warning", "info", "debug", "trace"] = Field(
        "warning", description="critical, error, warning, info, debug or trace (default warning)"
    )
    # An `aigc serve` that `aigc doctor` checks (with AIGC_API_TOKEN when it needs one).
    server_url: str | None = Field(None, description="an http(s) URL such as http://127.0.0.1:8000, or nothing")
    # How images are shown in a terminal: auto picks kitty or iTerm2 from TERM, else Unicode half-blocks.
    preview: Literal["auto", "kitty", "iterm", "sixel", "blocks", "off"] = Field(
        "auto", description="auto, kitty, iterm, sixel, blocks or off (default auto)"
    )
    # -- workers -----------------------------------------------------------------------------------
    # How a worker process describes its device; `aigc worker` sets it for each process it starts.
    worker_device: str | None = Field(None, description="a device label such as cuda:0 (NVIDIA H200)")
    # Redis re-delivers a message not acknowledged within this; keep it above the longest job.
    visibility_timeout: float = Field(
        12 * 3600.0, gt=0, allow_inf_nan=False, description="a number of seconds above 0 (default 43200)"
    )
    # On SIGTERM a job gets this long to finish before it is handed back (checkpoint kept) to the queue.
    soft_shutdown_seconds: float = Field(
        60.0, ge=0, allow_inf_nan=False, description="a number of seconds, 0 or more (default 60)"
    )
    # A queued job whose message went out longer ago than this is sent again if the broker seems to lack it.
    resend_seconds: float | None = Field(
        None, gt=0, allow_inf_nan=False, description="a number of seconds above 0 (default: two leases)"
    )
    # Celery task events, for Flower; off by default because each job then costs extra broker writes.
    task_events: bool = Field(False, description="1 or 0 (also true/false, yes/no, on/off)")
    # -- data sets ---------------------------------------------------------------------------------
    data_dir: Path | None = Field(None, description="a folder (default: <AIGC_HOME>/data)")
    mnist_mirror: str = Field("", description="base URLs, comma-separated (default: the public MNIST mirrors)")

    @field_validator("broker_url")
    @classmethod
    def _url_with_scheme(cls, value: str | None) -> str | None:
        if value is not None and "://" not in value:
            raise ValueError("not a URL")
        return value

    @field_validator("server_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in ("http", "https"):
            raise ValueError("not an http(s) URL")
        return value.rstrip("/") if value is not None else None

    @field_validator("serve_log", "preview", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value


def variable(field: str) -> str:
    return PREFIX + field.upper()


def read() -> Environment:
    try:
        return Environment()
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else ""
        info = Environment.model_fields.get(field)
        accepted = info.description if info is not None else error["msg"]
        given = error.get("input")
        shown = masked(given) if isinstance(given, str) and field != "api_token" else "(hidden)"
        raise InvalidSetting(f"{variable(field)}={shown!r} is not valid; accepted: {accepted}") from None


def masked(text: str) -> str:
    """A URL (or comma-separated URLs) with any password replaced by ***."""
    return ",".join(_masked_url(part) for part in text.split(",")) if "://" in text else text


def _masked_url(url: str) -> str:
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return url
    if not password:
        return url
    userinfo, _, host = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


@dataclass(frozen=True)
class EffectiveSetting:
    variable: str
    value: Any  # what aigc uses: the variable's value or the default it stands for; secrets masked
    from_environment: bool


def effective() -> list[EffectiveSetting]:
    """Every variable with the value in effect, for `aigc config`."""
    from aigc.core.config import Settings, data_home, environment

    env = environment()
    settings = Settings.from_env()
    home = data_home()
    values: dict[str, Any] = {
        "home": str(home),
        "database_url": masked(settings.database_url),
        "artifacts": str(settings.artifacts),
        "broker_url": masked(settings.broker_url) if settings.broker_url else None,
        "plugin_path": [str(p) for p in settings.plugin_path],
        "lease_seconds": settings.lease_seconds,
        "max_attempts": settings.max_attempts,
        "device": env.device,
        "debug": env.debug,
        "api_token": "***" if env.api_token is not None else None,
        "serve_log": env.serve_log,
        "server_url": masked(env.server_url) if env.server_url else None,
        "preview": env.preview,
        "worker_device": env.worker_device,
        "visibility_timeout": env.visibility_timeout,
        "soft_shutdown_seconds": env.soft_shutdown_seconds,
        "resend_seconds": env.resend_seconds or 2 * settings.lease_seconds,
        "task_events": env.task_events,
        "data_dir": str(env.data_dir or home / "data"),
        "mnist_mirror": masked(env.mnist_mirror).split(",") if env.mnist_mirror else None,
    }
    fields = Environment.model_fields
    return [EffectiveSetting(variable(name), values[name], name in env.model_fields_set) for name in fields]
