"""What the pages and the API show beyond a stored row: models with their lineage and use, results in batches."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from aigc.core.registry import PluginEntry
from aigc.core.store import Result, Store, queries


def result_batches(store: Store, job_id: int, batch: int = 200) -> Iterator[list[Result]]:
    """All results with their bytes, a batch per short transaction (a long download holds no lock)."""
    after = -1
    while True:
        with store.transaction() as session:
            rows = queries.results_after(session, job_id, after, batch)
        if not rows:
            return
        yield rows
        after = rows[-1].index


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
    base = queries.models_read_by(session, {m.source_job_id for m in trained if m.source_job_id is not None})
    usage = queries.model_use_counts(session)
    views = [
        ModelView(
            id=str(m.id),
            plugin=m.plugin,
            name=m.name,
            format=m.format,
            bundled=False,
            sha256=m.sha256,
            source_job_id=m.source_job_id,
            base_model=base.get(m.source_job_id) if m.source_job_id else None,
            config=m.config or {},
            metrics=m.metrics or {},
            created_at=m.created_at,
            used_by=usage.get((m.plugin, str(m.id)), 0),
        )
        for m in trained
    ]
    for bundled in bundled_models((e.plugin for e in entries.values() if e.plugin), plugin):
        views.append(
            ModelView(
                id=BUNDLED,
                plugin=bundled.plugin,
                name=f"{bundled.plugin} bundled default",
                format=bundled.format,
                bundled=True,
                sha256=bundled.sha256,
                used_by=usage.get((bundled.plugin, BUNDLED), 0),
            )
        )
    return views


def model_choices(session: Session, plugin: str) -> list[tuple[str, str]]:
    """(id, label) of the models a job of `plugin` may name, newest trained first."""
    return [(str(m.id), f"{m.id}: {m.name}") for m in queries.models_of(session, plugin)[:200]]
