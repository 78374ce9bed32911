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
    after: list[Annotated[int, Field(ge=1)]] = Field(
        default_factory=list, max_length=1000, description="ids of jobs that must succeed before this one runs"
    )
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
    sweep_id: int | None = Field(None, description="the sweep the job belongs to, if any")
    timeout_s: float | None = Field(None, description="seconds the job may run (None: no limit)")
    label: str = Field("metadata", description="'metadata' (every result's label) or 'visible' (a visible mark too)")
    created_at: UtcTime
    started_at: UtcTime | None
    finished_at: UtcTime | None
    duration_s: float | None
    lease_expires_at: UtcTime | None = Field(None, description="when a running attempt's lease runs out")
    token: str | None = Field(
        None, description="the name of the API token that submitted it; null from the command line"
    )


class DeliveryOut(BaseModel):
    attempt: int
    http_status: int | None = Field(None, description="the receiver's answer; null when it could not be reached")
    error: str | None = None
    at: str


class WebhookOut(BaseModel):
    url: str = Field(description="where the notice goes, any password or token in it masked")
    state: str = Field(description="pending, delivered or gave_up")
    attempts: int
    deliveries: list[DeliveryOut]


class JobDetailOut(JobOut):
    after: list[int] = Field(default_factory=list, description="the jobs that must succeed before it runs (--after)")
    webhooks: list[WebhookOut] = Field(default_factory=list, description="the job's webhook notices (aigc jobs show)")


class CancelOut(BaseModel):
    id: int
    was: JobStatus = Field(description="the job's status before the cancel")
    status: JobStatus = Field(description="its status now: `running` until it reaches its next progress point")
    lease_lapsed: bool = Field(description="it was running with a lapsed lease, so it ended `cancelled` at once")
    message: str = Field(description="what `aigc jobs cancel` prints")


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


class ChainedIn(BaseModel):
    kind: JobKindName
    params: dict[str, Any] = Field(default_factory=dict, description="the chained job's params (not its model)")


class SweepIn(BaseModel):
    """`aigc sweep KIND --plugin PLUGIN -p key=a,b ...` as JSON."""

    kind: JobKindName
    plugin: str = Field(min_length=1, max_length=100)
    params: dict[str, list[Any] | str | int | float | bool] = Field(
        default_factory=dict,
        description="each param's values: a list, or a string as on the command line ('1e-4,2e-4', 'log:1e-4..1e-2')",
    )
    random: int | None = Field(None, ge=1, le=20_000, description="draw this many points instead of the grid")
    random_seed: int | None = Field(None, ge=0, le=2**31 - 1)
    seeds: int | None = Field(None, ge=1, le=1000, description="run each point with seeds 0..K-1")
    max_parallel: int | None = Field(None, ge=1, le=10_000, description="at most K jobs of the sweep run at once")
    then: list[ChainedIn] = Field(default_factory=list, max_length=4, description="jobs chained on each trained model")
    priority: int = Field(0, ge=0, le=9)
    retries: int = Field(0, ge=0, le=10)


class SweepCreatedOut(BaseModel):
    id: int
    jobs: list[int]


class SweepOut(BaseModel):
    id: int
    plugin: str
    kind: str
    max_parallel: int | None
    spec: dict[str, Any]
    jobs: dict[str, int] = Field(description="how many of its jobs are in each status")
    created_at: UtcTime


class SweepPointOut(BaseModel):
    job: int
    status: JobStatus
    params: dict[str, Any] = Field(description="the swept params' values")
    metrics: dict[str, float]
    metrics_from: str
    chained: list[dict[str, Any]]
    best: bool


class SweepDetail(SweepOut):
    by: str | None
    points: list[SweepPointOut]
