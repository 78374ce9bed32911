"""The models `aigc models`, the API's /api/models and the models page list: trained ones with their lineage
and use, then each plugin's bundled default. One shape for all three, so `aigc models --json` prints the
same keys directly and through `aigc serve`. No file path: a trained model lives in the store's artifacts
and a bundled one in its plugin's package, on whichever machine holds them; `aigc models export` copies
one out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from aigc.core.registry import PluginEntry
from aigc.core.store import queries


@dataclass
class ModelView:
    """A trained model or a plugin's bundled default, with where it came from."""

    id: str
    plugin: str
    name: str
    format: str
    sha256: str | None = None  # a bundled one's as shipped: checked when a job loads it
    source_job_id: int | None = None
    base_model: str | None = None  # the model the source job started from (fine-tuning lineage)
    config: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None  # naive UTC, as the store keeps it; None for a bundled default
    bundled: bool = False
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
