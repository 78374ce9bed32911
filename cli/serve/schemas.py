"""The JSON API's bodies, typed for OpenAPI. A job has the fields of the CLI's `--json` (aigc.cli.serialize.job_dict);
results add their file URL, models their lineage and use."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field

from aigc.core.store import JobStatus

JobKindName = Literal["train", "generate", "evaluate"]
# The store keeps naive UTC; the API says so (RFC 3339 with an offset), as the CLI's JSON does with "Z".
UtcTime = Annotated[datetime, AfterValidator(lambda moment: moment if moment.tzinfo else moment.replace(tzinfo=UTC))]


class SubmitIn(BaseModel):
    """`aigc submit KIND --plugin PLUGIN -p key=value ...` as JSON."""

    kind: JobKindName
    plugin: str = Field(min_length=1, max_length=100, description="plugin name, see GET /api/plugins")
    params: dict[str, Any] = Field(
        default_factory=dict, description="the job's params, checked by the plugin's params model"
    )
    priority: int = Field(0, ge=0, le=9, description="0-9, higher runs first (queued jobs)")
    retries: int = Field(0, ge=0, le=10, description="re-runs, with backoff, if the job raises")
    timeout_s: float | None = Field(
        None, gt=0, le=365 * 86400, description="seconds the job may run before it ends failed (default: none)"
    )
    notify: str | None = Field(
        None,
        max_length=2000,
        description="a URL to POST a JSON notice to when the job ends; must match AIGC_WEBHOOK_ALLOW",
    )
    label: Literal["visible", "metadata"] | None = Field(
        None, description="'visible': results also carry a visible AI mark (default: AIGC_VISIBLE_LABEL)"
    )


class LogLineOut(BaseModel):
    line: int = Field(description="numbered from 1 across the job's attempts; only the last 10,000 are kept")
    at: UtcTime
    level: str
    text: str


class JobOut(BaseModel):
    id: int
    kind: str
    plugin: str
    status: JobStatus
    lease_lapsed: bool = Field(description="running, but the process running it stopped renewing its lease")
    progress: float
    progress_info: dict[str, Any]
    params: dict[str, Any]
    seed: int
    model_id: str | None
    queue: str
    priority: int
    attempts: int
    max_attempts: int
    worker: str | None
    device: str | None
    error: str | None
    summary: dict[str, Any]
    timeout_s: float | None = Field(None, description="seconds the job may run (None: no limit)")
    label: str = Field("metadata", description="'metadata' (every result's label) or 'visible' (a visible mark too)")
    created_at: UtcTime
    started_at: UtcTime | None
    finished_at: UtcTime | None
    duration_s: float | None


class CancelOut(BaseModel):
    id: int
    status: JobStatus
    message: str


class ResultOut(BaseModel):
    index: int
    kind: str
    role: str
    mime: str
    bytes: int | None
    text: str | None
    seed: int | None
    meta: dict[str, Any]
    url: str = Field(description="the result as a file")


class MetricPoint(BaseModel):
    key: str
    step: int
    value: float


class ModelOut(BaseModel):
    id: str
    plugin: str
    name: str
    format: str
    sha256: str | None
    source_job_id: int | None
    base_model: str | None = Field(None, description="the model the source job started from")
    config: dict[str, Any]
    metrics: dict[str, Any]
    created_at: UtcTime | None
    bundled: bool
    used_by: int = Field(description="jobs that read this model")


class PluginOut(BaseModel):
    name: str
    modality: str | None
    description: str | None
    package: str
    source: str
    status: Literal["ok", "broken"]
    error: str | None


class PluginDetail(BaseModel):
    name: str
    modality: str
    description: str
    queue: str
    contract: int
    bundled_model: str | None
    params: dict[str, dict[str, Any]] = Field(description="JSON schema of each job kind's params")


class WorkerOut(BaseModel):
    name: str
    hostname: str
    pid: int
    device: str
    queues: list[str]
    started_at: UtcTime
    heartbeat_at: UtcTime
    running: list[int]


class QueueOut(BaseModel):
    queue: str
    queued: int = Field(description="claimable jobs waiting in the store")
    messages: int | None = Field(description="messages waiting in the broker; null when unknown")


class ClusterOut(BaseModel):
    broker: bool = Field(description="whether a broker is configured (else jobs run embedded in this server)")
    workers: list[WorkerOut]
    queues: list[QueueOut]
    broker_error: str | None
    embedded_running: list[int]
    embedded_waiting: list[int]


class ErrorOut(BaseModel):
    detail: str | list[dict[str, Any]] = Field(
        description="one line saying what was wrong, or FastAPI's list of invalid fields"
    )
