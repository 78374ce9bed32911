"""Store folders for the quality benchmarks: each holds one training run's `aigc.db` and `art/`."""

from __future__ import annotations

import statistics
from dataclasses import replace
from pathlib import Path

from aigc.core.config import Settings


def store_settings(folder: Path) -> Settings:
    return replace(Settings.from_env(), database_url=f"sqlite:///{folder / 'aigc.db'}", artifacts=folder / "art")


def newest_model(settings: Settings, plugin: str) -> str:
    """The id of the store's newest model of `plugin` (a run's store holds the one model it trained)."""
    from aigc.core.store import Store, queries

    with Store(settings).transaction() as session:
        ids = [model.id for model in queries.models_of(session, plugin=plugin)]
    if not ids:
        raise SystemExit(f"no {plugin} model in {settings.database_url}")
    return str(max(ids))


def mean_sd(values: list[float]) -> str:
    return f"{statistics.mean(values):.3f}" + (f" ± {statistics.stdev(values):.3f}" if len(values) > 1 else "")
