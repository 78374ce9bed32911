"""Helpers for testing plugins: run a real job against a temporary store and read back what it wrote.

A plugin imports them from `aigc.core.plugin_api`, which re-exports every name in `__all__` here.

    from aigc.core.plugin_api import run_job

    def test_generates_eight(tmp_path):
        outcome = run_job("myplugin", "generate", {"n": 8}, tmp_path)
        assert outcome.job.status == "succeeded"
        assert len(outcome.items) == 8
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from aigc.core.config import Settings
from aigc.core.jobs import Submission, create_job
from aigc.core.plugin import JobKind
from aigc.core.runner import run_job as run_in_process
from aigc.core.store import Job, Model, Result, Store, queries


@dataclass
class JobOutcome:
    job: Job
    results: list[Result]
    metrics: list[tuple[str, int, float]]
    summary: dict[str, Any]
    models: list[Model]
    settings: Settings

    @property
    def items(self) -> list[Result]:
        """The generated items, without grids and training samples."""
        return [r for r in self.results if r.role == "item"]

    @property
    def outputs(self) -> list[bytes | str | None]:
        """Each item as the plugin made it: PNG bytes without the provenance label aigc adds (which names
        the job, so two jobs of one seed differ there), or the text. What a reproducibility test compares."""
        from aigc.core.provenance import unlabelled

        return [unlabelled(r.data) if r.data is not None else r.text for r in self.items]


def temporary_settings(folder: Path, **overrides: Any) -> Settings:
    """Settings for a private SQLite store and artifact root under `folder` (plugin path from env)."""
    folder.mkdir(parents=True, exist_ok=True)
    base = Settings.from_env()
    return replace(
        base,
        database_url=f"sqlite:///{folder / 'aigc.db'}",
        artifacts=folder / "artifacts",
        broker_url=None,
        **overrides,
    )


def submit(
    settings: Settings,
    plugin: str,
    kind: str,
    params: dict[str, Any] | None = None,
    *,
    check_here: bool | None = None,
    **options: Any,
) -> int:
    """Store a job (validated and checked as `aigc submit` does) and return its id, without running it.

    `check_here=False` stores it as a queued job is stored: the plugin's `check` then runs only when
    the job does (and fails it, in one line).
    """
    submission = Submission(JobKind(kind), plugin, dict(params or {}), **options)
    return create_job(Store(settings), submission, check_here=check_here).id


def outcome_of(settings: Settings, job_id: int) -> JobOutcome:
    store = Store(settings)
    with store.transaction() as session:
        job = queries.get_job(session, job_id)
        return JobOutcome(
            job=job,
            results=list(queries.results_of(session, job_id)),
            metrics=[(m.key, m.step, m.value) for m in queries.metrics_of(session, job_id)],
            summary=dict(job.summary or {}),
            models=[m for m in queries.models_of(session, job.plugin) if m.source_job_id == job_id],
            settings=settings,
        )


def run_job(
    plugin: str,
    kind: str,
    params: dict[str, Any] | None = None,
    folder: Path | str | None = None,
    *,
    settings: Settings | None = None,
    check_here: bool | None = None,
) -> JobOutcome:
    """Submit and run one job in-process against a temporary store (or `settings`), then read it back.

    A job its plugin's `check` refuses raises UsageError at submit, unless `check_here=False` (as if it
    were queued): it then runs, and fails with that line.
    """
    if settings is None:
        if folder is None:
            raise ValueError("run_job needs a folder (pytest's tmp_path) or settings")
        settings = temporary_settings(Path(folder))
    job_id = submit(settings, plugin, kind, params, check_here=check_here)
    run_in_process(job_id, settings=settings)
    return outcome_of(settings, job_id)


__all__ = ["JobOutcome", "outcome_of", "run_job", "submit", "temporary_settings"]
