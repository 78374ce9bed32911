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
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from aigc.core.errors import InvalidSetting
from aigc.core.masking import masked

PREFIX = "AIGC_"
# The devices a job may ask for; the same words as the `device` param of every job. [0-9], not \d,
# which would take any script's digits ('cuda:١').
DEVICE_PATTERN = r"^(auto|cpu|cuda(:[0-9]+)?|mps)$"


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
    broker_url: str | None = Field(
        None,
        description="a Redis URL: redis://host[:port][/db] (a login goes before the host as user:password@), "
        "rediss://... (TLS) or redis+socket:///path/to/redis.sock; or unset",
    )
    plugin_path: str = Field("", description=f"folders of drop-in plugins, separated by '{os.pathsep}'")
    # How long an attempt that stops renewing its lease keeps its job; it renews every third of this.
    # At least a second, so a renewal (a database write) fits in the lease with room to spare; at most
    # a day, the longest a dead worker's job may wait (and within what a date can hold).
    lease_seconds: float = Field(
        30.0, ge=1, le=86400, allow_inf_nan=False, description="a number of seconds from 1 to 86400 (default 30)"
    )
    # Attempts per job, for any reason (a worker that died, a retry).
    max_attempts: int = Field(3, ge=1, le=100, description="a whole number from 1 to 100 (default 3)")
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
    # The largest request body `aigc serve` reads; a bigger one is refused (413) before it is stored.
    max_request_bytes: int = Field(
        1 << 20, ge=1024, description="a number of bytes, 1024 or more (default 1048576: 1 MiB)"
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
        60.0, ge=0, le=86400, allow_inf_nan=False, description="a number of seconds from 0 to 86400 (default 60)"
    )
    # A queued job whose message went out longer ago than this is sent again if the broker seems to lack it.
    resend_seconds: float | None = Field(
        None,
        ge=1,
        le=604800,
        allow_inf_nan=False,
        description="a number of seconds from 1 to 604800 (default: two leases)",
    )
    # Celery task events, for Flower; off by default because each job then costs extra broker writes.
    task_events: bool = Field(False, description="1 or 0 (also true/false, yes/no, on/off)")
    # Models a process keeps loaded between jobs (core/warm_models.py): a count, or a size in MB.
    model_cache: str = Field(
        "2",
        pattern=r"^[0-9]{1,6}( ?MB)?$",
        description="a number of models (0: none kept) or a size such as 2000MB (default 2)",
    )
    # -- data sets ---------------------------------------------------------------------------------
    data_dir: Path | None = Field(None, description="a folder (default: <AIGC_HOME>/data)")
    mnist_mirror: str = Field("", description="base URLs, comma-separated (default: the public MNIST mirrors)")
    # The only folders a job's path params (data=, corpus=, prompts_file=...) may name; unset: `aigc serve`
    # refuses path params, the CLI and workers read what their user can (docs/serve.md).
    data_roots: str = Field("", description=f"absolute folders, separated by '{os.pathsep}' (default: none)")

    @field_validator("broker_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is not None:
            check_broker_url(value)
        return value

    @field_validator("data_roots")
    @classmethod
    def _absolute_folders(cls, value: str) -> str:
        # Relative roots would mean different folders to the server and to each worker.
        if any(not Path(p).is_absolute() for p in value.split(os.pathsep) if p):
            raise ValueError("not absolute")
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


# The URL schemes of kombu's Redis transport, the only broker the queue is built for (priorities, queue depths).
BROKER_SCHEMES = ("redis", "rediss", "redis+socket")


def check_broker_url(url: str) -> None:
    """ValueError saying what in `url` the Redis transport could not use: checked before a job is stored."""
    if "://" not in url:
        raise ValueError("not a URL")
    parts = urlsplit(url)
    if parts.scheme.lower() not in BROKER_SCHEMES:
        raise ValueError(f"scheme '{parts.scheme}' is not a Redis transport")
    if parts.scheme.lower() == "redis+socket":
        if not parts.path.strip("/"):
            raise ValueError("no socket path")
        return
    port = parts.netloc.rpartition("@")[2].rpartition("]")[2].partition(":")[2]
    if port and not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
        raise ValueError(f"port {port if port.isdigit() else repr(port)} is not a number from 1 to 65535")
    database = parts.path.removeprefix("/")  # as kombu reads it: "/3" is database 3, "" or "/" database 0
    if database and not (database.isascii() and database.isdigit()):
        # An unescaped "/" in a password puts the rest of the password here: then it is not quoted.
        raise ValueError(
            "the database is not a number" if "@" in database else f"database '{database}' is not a number"
        )


def data_roots(env: Environment) -> tuple[Path, ...]:
    """AIGC_DATA_ROOTS as folders, symlinks resolved (what a path param's real location is compared with)."""
    return tuple(Path(p).resolve() for p in env.data_roots.split(os.pathsep) if p)


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
        # A check of ours says what was wrong (never quoting a password); pydantic's own say it in `accepted`.
        reason = error.get("ctx", {}).get("error") if error["type"] == "value_error" else None
        detail = f" ({reason})" if reason else ""
        raise InvalidSetting(f"{variable(field)}={shown!r} is not valid{detail}; accepted: {accepted}") from None


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
        "max_request_bytes": env.max_request_bytes,
        "data_roots": [str(p) for p in data_roots(env)],
        "server_url": masked(env.server_url) if env.server_url else None,
        "preview": env.preview,
        "worker_device": env.worker_device,
        "visibility_timeout": env.visibility_timeout,
        "soft_shutdown_seconds": env.soft_shutdown_seconds,
        "resend_seconds": env.resend_seconds or 2 * settings.lease_seconds,
        "task_events": env.task_events,
        "model_cache": env.model_cache,
        "data_dir": str(env.data_dir or home / "data"),
        "mnist_mirror": masked(env.mnist_mirror).split(",") if env.mnist_mirror else None,
    }
    fields = Environment.model_fields
    return [EffectiveSetting(variable(name), values[name], name in env.model_fields_set) for name in fields]
