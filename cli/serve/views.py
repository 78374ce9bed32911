"""Read-side queries for the pages and the API, shaped for speed: no result bytes unless a file is asked for."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aigc.core.registry import PluginEntry
from aigc.core.store import Job, Metric, Result, Store, queries


def list_jobs(
    session: Session, *, status: str | None, plugin: str | None, before: int | None, limit: int
) -> Sequence[Job]:
    """Newest first; `before` (a job id) pages back through older jobs."""
    query = select(Job).order_by(Job.id.desc()).limit(limit)
    if status:
        query = query.where(Job.status == status)
    if plugin:
        query = query.where(Job.plugin == plugin)
    if before:
        query = query.where(Job.id < before)
    return session.execute(query).scalars().all()


def status_counts(session: Session, plugin: str | None) -> dict[str, int]:
    query = select(Job.status, func.count()).group_by(Job.status)
    if plugin:
        query = query.where(Job.plugin == plugin)
    return dict(session.execute(query).all())


def job_plugins(session: Session) -> list[str]:
    """Every plugin name that has jobs (the filter offers them even if the plugin is gone)."""
    return sorted(session.execute(select(Job.plugin).distinct()).scalars().all())


@dataclass(frozen=True)
class ResultInfo:
    """A result without its bytes: enough to list it and link to the file."""

    index: int
    kind: str
    role: str
    mime: str
    seed: int | None
    meta: dict[str, Any]
    text: str | None
    size: int | None


def result_infos(session: Session, job_id: int, *, offset: int = 0, limit: int | None = None) -> list[ResultInfo]:
    query = (
        select(
            Result.index, Result.kind, Result.role, Result.mime, Result.seed, Result.meta, Result.text,
            func.length(Result.data),
        )
        .where(Result.job_id == job_id)
        .order_by(Result.index)
        .offset(offset)
        .limit(limit)
    )
    return [ResultInfo(*row) for row in session.execute(query)]


def result_row(session: Session, job_id: int, index: int) -> Result | None:
    return session.execute(
        select(Result).where(Result.job_id == job_id, Result.index == index)
    ).scalar_one_or_none()


def result_batches(store: Store, job_id: int, batch: int = 200) -> Iterator[list[Result]]:
    """All results with their bytes, a batch per short transaction (a long download holds no lock)."""
    after = -1
    while True:
        with store.transaction() as session:
            rows = list(
                session.execute(
                    select(Result).where(Result.job_id == job_id, Result.index > after).order_by(Result.index).limit(batch)
                ).scalars()
            )
        if not rows:
            return
        yield rows
        after = rows[-1].index


def metric_series(session: Session, job_id: int) -> dict[str, list[tuple[int, float]]]:
    series: dict[str, list[tuple[int, float]]] = {}
    rows = session.execute(
        select(Metric.key, Metric.step, Metric.value).where(Metric.job_id == job_id).order_by(Metric.key, Metric.step)
    )
    for key, step, value in rows:
        series.setdefault(key, []).append((step, value))
    return series


@dataclass
class ModelView:
    """A trained model or a plugin's bundled default, with where it came from."""

    id: str
    plugin: str
    name: str
    format: str
    bundled: bool
    sha256: str | None = None
    source_job_id: int | None = None
    base_model: str | None = None  # the model the source job started from (fine-tuning lineage)
    config: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    created_at: Any = None
    used_by: int = 0  # jobs that read this model


def models(session: Session, entries: dict[str, PluginEntry], plugin: str | None = None) -> list[ModelView]:
    from aigc.core.catalog import BUNDLED, bundled_models

    trained = queries.models_of(session, plugin)
    sources = {m.source_job_id for m in trained if m.source_job_id is not None}
    base: dict[int, str | None] = {}
    if sources:
        base = dict(session.execute(select(Job.id, Job.model_id).where(Job.id.in_(sources))).all())
    used = (
        select(Job.plugin, Job.model_id, func.count())
        .where(Job.model_id.is_not(None))
        .group_by(Job.plugin, Job.model_id)
    )
    usage: dict[tuple[str, str], int] = {(p, m): n for p, m, n in session.execute(used)}
    views = [
        ModelView(
            id=str(m.id), plugin=m.plugin, name=m.name, format=m.format, bundled=False, sha256=m.sha256,
            source_job_id=m.source_job_id, base_model=base.get(m.source_job_id) if m.source_job_id else None,
            config=m.config or {}, metrics=m.metrics or {}, created_at=m.created_at,
            used_by=usage.get((m.plugin, str(m.id)), 0),
        )
        for m in trained
    ]
    for bundled in bundled_models((e.plugin for e in entries.values() if e.plugin), plugin):
        views.append(
            ModelView(
                id=BUNDLED, plugin=bundled.plugin, name=f"{bundled.plugin} bundled default",
                format=bundled.format, bundled=True, used_by=usage.get((bundled.plugin, BUNDLED), 0),
            )
        )
    return views


def model_choices(session: Session, plugin: str) -> list[tuple[str, str]]:
    """(id, label) of the models a job of `plugin` may name, newest trained first."""
    choices = [(str(m.id), f"{m.id}: {m.name}") for m in queries.models_of(session, plugin)[:200]]
    return choices
