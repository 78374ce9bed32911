"""Every AIGC_* variable aigc reads, parsed and checked in one pydantic model.

Read through `aigc.core.config.environment()`. A bad value raises InvalidSetting: one line naming the
variable and what it accepts (each field's description), exit code 2 on the command line. Empty
variables count as unset. `aigc config` shows the effective values (`effective()`), secrets masked.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from aigc.core.errors import InvalidSetting
from aigc.core.masking import masked

PREFIX = "AIGC_"
SECRET_FIELDS = ("api_token", "token", "webhook_secret")  # never quoted in an error
# The devices a job may ask for; the same words as the `device` param of every job. [0-9], not \d,
# which would take any script's digits ('cuda:١').
DEVICE_PATTERN = r"^(auto|cpu|cuda(:[0-9]+)?|mps)$"


class Environment(BaseModel):
    """Each field's description says what its variable accepts; the error for a bad value quotes it.

    A plain pydantic model fed from os.environ by `read()`: every value is one scalar, so
    pydantic-settings would add nothing but its import (about a quarter of a TAB's 0.3 s budget).
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

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
    # An `aigc serve` to work through: set, the user commands (submit, jobs, results, models, plugins) and
    # `aigc.core.client.Client()` go through its /api, with AIGC_TOKEN; `aigc doctor` checks it.
    server_url: str | None = Field(None, description="an http(s) URL such as http://127.0.0.1:8000, or nothing")
    # The token a client sends to AIGC_SERVER_URL (one of `aigc tokens create`); default AIGC_API_TOKEN.
    token: SecretStr | None = Field(None, description="a token from `aigc tokens create`, or nothing")
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
    # -- provenance, notices, retention (docs/operations.md) ---------------------------------------
    # The content producer named in every result's label (GB 45438-2025); default: this host's name.
    producer: str | None = Field(
        None, max_length=200, description="a name of up to 200 characters (default: the host name)"
    )
    # Every job's results also carry a visible mark ("AI" in an image corner, a prefix line on a text).
    visible_label: bool = Field(False, description="1 or 0 (also true/false, yes/no, on/off)")
    # With both set, every image result also gets a signed C2PA manifest (the `aigc[c2pa]` extra).
    c2pa_cert: Path | None = Field(None, description="a PEM file: the signing certificate, then its chain")
    c2pa_key: Path | None = Field(None, description="a PEM file: the private key of the signing certificate")
    c2pa_alg: Literal["es256", "es384", "es512", "ps256", "ps384", "ps512", "ed25519"] = Field(
        "es256", description="es256, es384, es512, ps256, ps384, ps512 or ed25519 (default es256)"
    )
    # Every job's end is POSTed here, besides a job's own --notify URL.
    webhook_url: str | None = Field(None, description="an http(s) URL, or nothing")
    # The key of the HMAC-SHA256 signature each webhook carries (X-Aigc-Signature).
    webhook_secret: SecretStr | None = Field(None, description="a secret of 16 characters or more")
    # The URLs a job sent over the API may ask to be notified at; unset: none.
    webhook_allow: str = Field(
        "", description="http(s) URL prefixes, comma-separated, such as https://hooks.example.com/aigc/ (default: none)"
    )
    # First wait before a failed delivery is tried again; it doubles up to webhook_backoff_max_seconds.
    webhook_backoff_seconds: float = Field(
        5.0, gt=0, le=3600, allow_inf_nan=False, description="a number of seconds above 0, at most 3600 (default 5)"
    )
    webhook_backoff_max_seconds: float = Field(
        300.0,
        gt=0,
        le=86400,
        allow_inf_nan=False,
        description="a number of seconds above 0, at most 86400 (default 300)",
    )
    # Deliveries tried per notice before it is given up (recorded `gave_up`).
    webhook_attempts: int = Field(20, ge=1, le=1000, description="a whole number from 1 to 1000 (default 20)")
    # Finished jobs older than this are pruned automatically by one worker at a time; unset: never.
    retention_days: float | None = Field(
        None,
        gt=0,
        le=36500,
        allow_inf_nan=False,
        description="a number of days above 0, or nothing (default: keep all)",
    )
    # A job past its timeout that reaches no progress point is ended this much later by recycling its worker.
    timeout_grace_seconds: float = Field(
        60.0, ge=0, le=86400, allow_inf_nan=False, description="a number of seconds from 0 to 86400 (default 60)"
    )
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

    @field_validator("webhook_secret")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("shorter than 16 characters")
        return value

    @field_validator("webhook_allow")
    @classmethod
    def _url_prefixes(cls, value: str) -> str:
        for prefix in filter(None, (p.strip() for p in value.split(","))):
            parts = urlsplit(prefix)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"'{prefix}' is not an http(s) URL with a host")
        return value

    @field_validator("server_url", "webhook_url")
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
    # Names are matched case-insensitively, as the shell's habits vary; an empty variable counts as unset.
    given = {
        name[len(PREFIX) :].lower(): value for name, value in os.environ.items() if name.upper().startswith(PREFIX)
    }
    try:
        return Environment.model_validate({name: value for name, value in given.items() if value != ""})
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else ""
        info = Environment.model_fields.get(field)
        accepted = info.description if info is not None else error["msg"]
        given = error.get("input")
        shown = masked(given) if isinstance(given, str) and field not in SECRET_FIELDS else "(hidden)"
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
        "token": "***" if env.token is not None else None,
        "preview": env.preview,
        "worker_device": env.worker_device,
        "visibility_timeout": env.visibility_timeout,
        "soft_shutdown_seconds": env.soft_shutdown_seconds,
        "resend_seconds": env.resend_seconds or 2 * settings.lease_seconds,
        "task_events": env.task_events,
        "producer": env.producer or socket.gethostname(),
        "visible_label": env.visible_label,
        "c2pa_cert": str(env.c2pa_cert) if env.c2pa_cert else None,
        "c2pa_key": str(env.c2pa_key) if env.c2pa_key else None,
        "c2pa_alg": env.c2pa_alg,
        "webhook_url": masked(env.webhook_url) if env.webhook_url else None,
        "webhook_secret": "***" if env.webhook_secret is not None else None,
        "webhook_allow": [p.strip() for p in env.webhook_allow.split(",") if p.strip()],
        "webhook_backoff_seconds": env.webhook_backoff_seconds,
        "webhook_backoff_max_seconds": env.webhook_backoff_max_seconds,
        "webhook_attempts": env.webhook_attempts,
        "retention_days": env.retention_days,
        "timeout_grace_seconds": env.timeout_grace_seconds,
        "model_cache": env.model_cache,
        "data_dir": str(env.data_dir or home / "data"),
        "mnist_mirror": masked(env.mnist_mirror).split(",") if env.mnist_mirror else None,
    }
    fields = Environment.model_fields
    return [EffectiveSetting(variable(name), values[name], name in env.model_fields_set) for name in fields]
