"""Jobs and models side by side: the params that differ, the final metrics, and the training curves.

A model is compared through the job that trained it (its params and curves), with its own recorded
metrics added; `m:ID` names a model, a plain number a job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aigc.core.errors import UnknownModel, UsageError
from aigc.core.ids import parse_id
from aigc.core.store import Store, queries
from aigc.core.sweep_results import numbers

MODEL_PREFIX = "m:"


@dataclass
class Compared:
    label: str  # "job 12", "model 3"
    job_id: int | None
    params: dict[str, Any]
    metrics: dict[str, float]
    curves: dict[str, list[tuple[int, float]]] = field(default_factory=dict)


@dataclass
class Comparison:
    items: list[Compared]
    differing: list[str]  # params whose values are not all the same
    metric_keys: list[str]


def compare(store: Store, refs: list[str]) -> Comparison:
    """Read what `refs` name (job ids, or `m:ID` for models); UsageError naming a bad one."""
    if len(refs) < 2:
        raise UsageError("compare needs at least two jobs or models, as in `aigc compare 12 13` or `m:3 m:4`")
    items = [_read(store, ref) for ref in refs]
    keys = sorted({key for item in items for key in item.params})
    differing = [k for k in keys if len({_hashable(item.params.get(k, _MISSING)) for item in items}) > 1]
    metric_keys = sorted({key for item in items for key in item.metrics})
    return Comparison(items, differing, metric_keys)


_MISSING = "(not set)"


def _hashable(value: Any) -> str:
    return repr(value)


def _read(store: Store, ref: str) -> Compared:
    text = ref.strip()
    with store.transaction() as session:
        if text.startswith(MODEL_PREFIX):
            model_id = parse_id(text.removeprefix(MODEL_PREFIX), "model")
            model = queries.get_model(session, model_id)
            if model is None:
                raise UnknownModel(f"no model with id {model_id}; see `aigc models`")
            params: dict[str, Any] = dict(model.config)
            metrics = numbers(model.metrics)
            curves: dict[str, list[tuple[int, float]]] = {}
            if model.source_job_id is not None:
                job = queries.get_job(session, model.source_job_id)
                params = {**params, **job.params}
                metrics = {**numbers(job.summary), **metrics}
                curves = queries.metric_series(session, job.id)
            return Compared(f"model {model_id}", model.source_job_id, params, metrics, curves)
        job = queries.get_job(
            session, parse_id(text, "job", f"a number from `aigc jobs list`, or {MODEL_PREFIX}ID for a model")
        )
        return Compared(
            f"job {job.id}", job.id, dict(job.params), numbers(job.summary), queries.metric_series(session, job.id)
        )
