"""A sweep's points side by side: each point's swept params and final metrics, sorted, the best marked.

A point's metrics are the summary of the evaluate job chained on it when there is one that succeeded,
else the summary of the point's own job (a training run's final losses). Only numbers count as metrics.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from aigc.core.errors import UsageError
from aigc.core.store import Job, Store
from aigc.core.store import sweeps as sweep_rows
from aigc.core.store.dependencies import children_of
from aigc.core.store.models import Sweep


@dataclass
class Point:
    job: Job
    params: dict[str, Any]  # the swept params' values
    metrics: dict[str, float]
    source: str  # where the metrics come from: "evaluate job 12"
    chained: list[Job] = field(default_factory=list)
    best: bool = False


@dataclass
class SweepTable:
    sweep: Sweep
    points: list[Point]
    metric_keys: list[str]
    by: str | None

    @property
    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for point in self.points:
            for job in [point.job, *point.chained]:
                counts[job.status] = counts.get(job.status, 0) + 1
        return counts


def numbers(summary: dict[str, Any] | None) -> dict[str, float]:
    """The numeric values of a job summary (flags and names left out)."""
    return {
        key: float(value)
        for key, value in (summary or {}).items()
        if isinstance(value, (int, float)) and not isinstance(value, bool)
    }


def sweep_table(store: Store, sweep_id: int, by: str | None = None, highest: bool = False) -> SweepTable:
    """The points of sweep `sweep_id`; sorted by metric `by` (lowest first, or highest with `highest`),
    the best one marked. UsageError for an unknown sweep, or a metric no ended point has."""
    with store.transaction() as session:
        sweep = sweep_rows.get_sweep(session, sweep_id)
        jobs = list(sweep_rows.jobs_of(session, sweep_id))
        by_id = {job.id: job for job in jobs}
        chained_ids = _chained_ids(session, jobs)
        own = [job for job in jobs if job.id not in chained_ids]
        children = children_of(session, [job.id for job in own])
    swept = list(sweep.spec.get("swept", []))
    points = []
    for job in own:
        chained = [by_id[c] for c in children.get(job.id, []) if c in by_id]
        evaluated = next((c for c in chained if c.kind == "evaluate" and c.status == "succeeded"), None)
        source = evaluated or job
        points.append(
            Point(
                job=job,
                params={key: job.params.get(key) for key in swept},
                metrics=numbers(source.summary),
                source=f"{source.kind} job {source.id}",
                chained=chained,
            )
        )
    keys = sorted({key for point in points for key in point.metrics})
    if by is not None:
        ranked = [p for p in points if _finite(p.metrics.get(by))]
        if not ranked and all(p.job.state.finished for p in points) and points:
            raise UsageError(
                f"no point of sweep {sweep_id} has metric '{by}'; metrics: {', '.join(keys) or 'none yet'}"
            )
        ranked.sort(key=lambda p: p.metrics[by], reverse=highest)
        if ranked:
            ranked[0].best = True
        points = ranked + [p for p in points if not _finite(p.metrics.get(by))]
    return SweepTable(sweep, points, keys, by)


def _chained_ids(session: Any, jobs: list[Job]) -> set[int]:
    """Jobs of the sweep that wait for another job of it: the chained ones."""
    from aigc.core.store.dependencies import parents_of

    mine = {job.id for job in jobs}
    parents = parents_of(session, list(mine))
    return {child for child, ps in parents.items() if any(p in mine for p in ps)}


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)
