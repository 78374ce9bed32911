"""`JobContext`: everything a plugin's job may ask of the system that runs it.

A plugin reports through the context and never learns whether it runs in-process or on a worker.
Results and metrics are buffered and committed with the next checkpoint and at the end of the job,
so an attempt that dies leaves exactly what its last checkpoint recorded: a resumed attempt never
duplicates a row.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from aigc.core.errors import JobCancelled, JobTimedOut, LeaseLost
from aigc.core.plugin import JobKind


@dataclass(frozen=True)
class Progress:
    """One progress report: `done` of `total` units, with display values such as losses."""

    done: float
    total: float
    info: Mapping[str, float | str] = field(default_factory=dict)

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total > 0 else 0.0


@dataclass
class PendingResult:
    index: int
    kind: str  # "image" or "text"
    role: str  # "item" for one generated item, "grid" for a contact sheet, "sample" for a training sample
    mime: str
    data: bytes | None
    text: str | None
    seed: int | None
    meta: dict[str, Any]


@dataclass
class PendingModel:
    name: str
    sha256: str
    format: str  # "safetensors" or "hf"
    config: dict[str, Any]
    metrics: dict[str, float]


@dataclass(frozen=True)
class LoadedModel:
    """A model resolved for a job: a verified local path plus its recorded config."""

    id: str
    path: Path
    format: str
    sha256: str
    config: Mapping[str, Any]


class Interruption(threading.Event):
    """Set by an embedded caller's signal handler: the job stops at its next progress point, `cancelled`
    with `reason` as its error."""

    def __init__(self) -> None:
        super().__init__()
        self.reason = "interrupted (Ctrl-C)"

    def interrupt(self, reason: str) -> None:
        self.reason = reason
        self.set()


class JobContext:
    """Handed to `Plugin.train/generate/evaluate`. Built by the runner; plugins never build one."""

    def __init__(
        self,
        *,
        job_id: int,
        kind: JobKind,
        plugin: str,
        attempt: int,
        seed: int,
        device: str,
        backend: ContextBackend,
        first_result_index: int = 0,
        on_progress: Callable[[Progress], None] | None = None,
        on_stream: Callable[[str], None] | None = None,
        progress_interval_s: float = 0.5,
        interrupted: Interruption | None = None,
        deadline: float | None = None,
        timeout_s: float | None = None,
    ) -> None:
        self.job_id = job_id
        self.kind = kind
        self.plugin = plugin
        self.attempt = attempt
        self.seed = seed
        self.logger = logging.getLogger(f"aigc.job.{job_id}")
        self._requested_device = device
        self._device: str | None = None
        self._backend = backend
        self._on_progress = on_progress
        self._on_stream = on_stream
        self._interval = progress_interval_s
        self._interrupted = interrupted
        self._deadline, self._timeout_s = deadline, timeout_s  # time.monotonic() when the attempt's time is up
        self._last_write = 0.0
        self._last_poll = 0.0
        self._lock = threading.Lock()
        self._next_index = first_result_index
        self.pending_results: list[PendingResult] = []
        self.pending_metrics: list[tuple[str, int, float]] = []
        self.pending_models: list[PendingModel] = []
        self.summary: dict[str, Any] = {}

    # -- where the job runs -------------------------------------------------------------------
    @property
    def device(self) -> str:
        """The torch device for this job; resolving "auto" imports torch, so it is done on first use."""
        if self._device is None:
            self._device = resolve_device(self._requested_device)
        return self._device

    @property
    def resolved_device(self) -> str | None:
        return self._device

    # -- progress and cancellation ------------------------------------------------------------
    def progress(self, done: float, total: float, **info: float | str) -> None:
        """Report progress; also the point where a cancel request, a lost lease or a timeout stops the job."""
        report = Progress(done, total, info)
        if self._interrupted is not None and self._interrupted.is_set():
            raise JobCancelled(self._interrupted.reason)
        self._raise_if_timed_out()
        if self._on_progress is not None:
            self._on_progress(report)
        now = time.monotonic()
        if now - self._last_write >= self._interval or done >= total:
            self._last_write = now
            self._backend.write_progress(self, report)
            self._raise_if_stopped()

    def check_cancelled(self) -> None:
        """Raise `JobCancelled` if a cancel was requested, `LeaseLost` if another attempt owns the job.

        Cheap to call in a tight loop: the store is asked at most once per progress interval.
        """
        if self._interrupted is not None and self._interrupted.is_set():
            raise JobCancelled(self._interrupted.reason)
        self._raise_if_timed_out()
        now = time.monotonic()
        if now - self._last_poll >= self._interval:
            self._last_poll = now
            self._raise_if_stopped()

    def _raise_if_timed_out(self) -> None:
        if self._deadline is not None and time.monotonic() > self._deadline:
            from aigc.core.timeouts import message

            raise JobTimedOut(message(self._timeout_s or 0.0))

    def _raise_if_stopped(self) -> None:
        state = self._backend.poll(self)
        if state == "lost":
            raise LeaseLost(f"job {self.job_id} attempt {self.attempt} lost its lease")
        if state == "cancel":
            raise JobCancelled("cancelled while running")

    # -- outputs ------------------------------------------------------------------------------
    def log_metric(self, key: str, value: float, step: int) -> None:
        """One point of a training curve (committed with the next checkpoint or at the end)."""
        with self._lock:
            self.pending_metrics.append((key, int(step), float(value)))

    def set_summary(self, **values: Any) -> None:
        """Job-level figures (evaluation scores, final losses) shown with the job."""
        self.summary.update(values)

    def add_image(
        self,
        png: bytes,
        *,
        seed: int | None = None,
        role: str = "item",
        metadata: Mapping[str, Any] | None = None,
    ) -> int:
        return self._add("image", role, "image/png", png, None, seed, metadata)

    def add_text(
        self,
        text: str,
        *,
        seed: int | None = None,
        role: str = "item",
        metadata: Mapping[str, Any] | None = None,
    ) -> int:
        return self._add("text", role, "text/plain; charset=utf-8", None, text, seed, metadata)

    def _add(
        self,
        kind: str,
        role: str,
        mime: str,
        data: bytes | None,
        text: str | None,
        seed: int | None,
        metadata: Mapping[str, Any] | None,
    ) -> int:
        with self._lock:
            index = self._next_index
            self._next_index += 1
            self.pending_results.append(PendingResult(index, kind, role, mime, data, text, seed, dict(metadata or {})))
        return index

    def stream(self, text: str) -> None:
        """Live output (tokens as they are produced); shown by an embedded run, ignored by workers."""
        if self._on_stream is not None:
            self._on_stream(text)

    # -- checkpoints and models ---------------------------------------------------------------
    def save_checkpoint(self, state: Mapping[str, Any]) -> None:
        """Save resumable state (nested dicts/lists of tensors and JSON values) as safetensors.

        Also a commit point: results and metrics reported so far are written with it, atomically.
        """
        self._backend.save_checkpoint(self, state)

    def load_checkpoint(self) -> dict[str, Any] | None:
        """The state of this job's last checkpoint (tensors on CPU), or None on a first attempt."""
        return self._backend.load_checkpoint(self)

    def save_model(
        self,
        state: Mapping[str, Any] | Path,
        *,
        name: str,
        config: Mapping[str, Any],
        metrics: Mapping[str, float] | None = None,
    ) -> None:
        """Register a trained model: a tensor mapping (safetensors) or a folder (Hugging Face format).

        The model row is written with the job's final transaction, so a failed job registers nothing.
        """
        self.pending_models.append(self._backend.store_model(self, state, name, config, metrics))

    def load_model(self, model: str | None) -> LoadedModel:
        """Resolve a model id (None: newest trained model of this plugin, else the bundled one)."""
        return self._backend.load_model(self, model)

    def artifact_dir(self) -> Path:
        """A scratch folder for this attempt (removed when the job ends)."""
        return self._backend.scratch_dir(self)


class ContextBackend(Protocol):
    """What the context needs from the runner; the runner's store-backed class implements it."""

    def write_progress(self, ctx: JobContext, report: Progress) -> None: ...
    def poll(self, ctx: JobContext) -> str | None: ...
    def save_checkpoint(self, ctx: JobContext, state: Mapping[str, Any]) -> None: ...
    def load_checkpoint(self, ctx: JobContext) -> dict[str, Any] | None: ...
    def store_model(
        self,
        ctx: JobContext,
        state: Mapping[str, Any] | Path,
        name: str,
        config: Mapping[str, Any],
        metrics: Mapping[str, float] | None,
    ) -> PendingModel: ...
    def load_model(self, ctx: JobContext, model: str | None) -> LoadedModel: ...
    def scratch_dir(self, ctx: JobContext) -> Path: ...


def resolve_device(requested: str) -> str:
    """ "auto" means AIGC_DEVICE if set (a node's operator decides), else CUDA when present, else CPU."""
    if requested == "auto":
        from aigc.core.config import environment

        requested = environment().device
    if requested != "auto":
        return requested
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
