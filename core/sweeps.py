"""Sweeps: one question asked as many jobs (a grid or a random draw over params, replicated over seeds),
with jobs chained on each trained model. Every job is validated before any is stored, then all are
stored in a few statements and started the one way every job is (`aigc.core.jobs.start`)."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aigc.core.data_roots import check_paths
from aigc.core.dispatch import uses_broker
from aigc.core.errors import UsageError
from aigc.core.jobs import check_before_storing, check_parents, pin_model, start
from aigc.core.params import validate_params
from aigc.core.plugin import JobKind, Plugin
from aigc.core.registry import get_plugin
from aigc.core.store import Job, Store
from aigc.core.store import sweeps as sweep_rows
from aigc.core.store.dependencies import FROM_PREFIX
from aigc.core.sweep_spec import Axis, axis_text, draw, grid, swept

# More jobs than this in one sweep is a typo (a list pasted twice, --seeds 1000), not a plan.
MAX_JOBS = 20_000


@dataclass(frozen=True)
class Chained:
    """A job run on each trained model of a sweep (`--then evaluate`, `--then generate -p n=64`)."""

    kind: JobKind
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SweepRequest:
    kind: JobKind
    plugin: str
    axes: dict[str, Axis]
    random: int | None = None  # draw this many points instead of the grid
    random_seed: int | None = None
    seeds: int | None = None  # replicate each point with seeds 0..K-1
    max_parallel: int | None = None
    then: tuple[Chained, ...] = ()
    priority: int = 0
    retries: int = 0
    remote: bool = False


@dataclass
class _Planned:
    values: dict[str, Any]
    seed: int
    model_id: str | None
    after: set[int]


def points(request: SweepRequest) -> tuple[list[dict[str, Any]], int | None]:
    """The raw params of every job of the sweep, and the seed of the random draw (None for a grid)."""
    if request.seeds is not None and "seed" in request.axes:
        raise UsageError("give the seeds either as -p seed=... or as --seeds K, not both")
    draw_seed = None
    if request.random is not None:
        draw_seed = request.random_seed if request.random_seed is not None else random.SystemRandom().randrange(2**31)
        found = draw(request.axes, request.random, draw_seed)
    else:
        found = grid(request.axes)
    if request.seeds is not None:
        found = [{**point, "seed": seed} for point in found for seed in range(request.seeds)]
    total = len(found) * (1 + len(request.then))
    if total > MAX_JOBS:
        raise UsageError(f"this sweep makes {total} jobs, more than {MAX_JOBS}; sweep fewer values or seeds")
    return found, draw_seed


def create_sweep(store: Store, request: SweepRequest, *, check_here: bool | None = None) -> tuple[int, list[Job]]:
    """Validate every job of the sweep, then store the sweep and its jobs; nothing is stored if one job
    is refused (the error names its param and value). Returns the sweep id and its jobs, in id order."""
    plugin = get_plugin(request.plugin, store.settings.plugin_path)
    raw_points, draw_seed = points(request)
    runs_here = not uses_broker(store.settings) if check_here is None else check_here
    planned = _plan(store, plugin, request, raw_points, runs_here)
    chained = [_plan_chained(store, plugin, request, step, runs_here) for step in request.then]
    spec = {
        "mode": "random" if request.random is not None else "grid",
        "axes": {key: axis_text(axis) for key, axis in request.axes.items()},
        "swept": swept(request.axes) + (["seed"] if request.seeds and request.seeds > 1 else []),
        "points": len(raw_points),
        "random": request.random,
        "random_seed": draw_seed,
        "seeds": request.seeds,
        "then": [{"kind": str(step.kind), "params": step.params} for step in request.then],
    }
    common = {
        "plugin": plugin.name,
        "queue": plugin.queue,
        "priority": request.priority,
        "max_attempts": max(store.settings.max_attempts, request.retries + 1),
        "retries": request.retries,
    }
    with store.transaction() as session:
        sweep = sweep_rows.create_sweep(
            session, plugin=plugin.name, kind=request.kind, spec=spec, max_parallel=request.max_parallel
        )
        rows = [
            {**common, "kind": request.kind, "params": p.values, "seed": p.seed, "model_id": p.model_id}
            for p in planned
        ]
        ids = sweep_rows.insert_jobs(
            session, [{**row, "sweep_id": sweep.id} for row in rows], [sorted(p.after) for p in planned]
        )
        for step, values in zip(request.then, chained, strict=True):
            then_rows = []
            for job_id, p in zip(ids, planned, strict=True):
                seed = values["seed"] if values.get("seed") is not None else p.seed
                params = {**values, "model": f"{FROM_PREFIX}{job_id}", "seed": seed}
                then_rows.append(
                    {
                        **common,
                        "kind": step.kind,
                        "params": params,
                        "seed": seed,
                        "model_id": None,
                        "sweep_id": sweep.id,
                    }
                )
            sweep_rows.insert_jobs(session, then_rows, [[job_id] for job_id in ids])
        jobs = list(sweep_rows.jobs_of(session, sweep.id))
        return sweep.id, jobs


def _plan(
    store: Store, plugin: type[Plugin], request: SweepRequest, raw_points: list[dict[str, Any]], runs_here: bool
) -> list[_Planned]:
    planned: list[_Planned] = []
    checked: set[str] = set()  # a job's checks do not depend on its seed: each distinct point once
    models: dict[str, tuple[str | None, set[int], Any]] = {}
    system = random.SystemRandom()
    with store.transaction() as session:
        for raw in raw_points:
            params = validate_params(plugin, request.kind, raw)
            values = params.model_dump(mode="json")
            seed = params.seed if params.seed is not None else system.randrange(2**31)
            values["seed"] = seed
            after: set[int] = set()
            model_id = None
            if "model" in values:
                key = json.dumps(values["model"])
                if key not in models:
                    pinned: dict[str, Any] = {"model": values["model"]}
                    found: set[int] = set()
                    models[key] = (pin_model(session, plugin, pinned, found), found, pinned["model"])
                model_id, found_after, values["model"] = models[key]
                after |= found_after
            planned.append(_Planned(values, seed, model_id, after))
        check_parents(session, set().union(*(p.after for p in planned)) if planned else set())
    for p in planned:
        key = json.dumps({k: v for k, v in p.values.items() if k != "seed"}, sort_keys=True)
        if key in checked:
            continue
        checked.add(key)
        check_paths(
            plugin, request.kind, plugin.params_model(request.kind).model_validate(p.values), remote=request.remote
        )
        if runs_here:
            check_before_storing(store, plugin, request.kind, p.values, p.model_id)
    return planned


def _plan_chained(
    store: Store, plugin: type[Plugin], request: SweepRequest, step: Chained, runs_here: bool
) -> dict[str, Any]:
    """A chained job's params, validated once (only its model differs from one trained model to the next)."""
    if request.kind != JobKind.train:
        raise UsageError(f"--then chains a job on each trained model: it needs a train sweep, not {request.kind}")
    if "model" not in plugin.params_model(step.kind).model_fields:
        raise UsageError(f"--then {step.kind}: {plugin.name} {step.kind} jobs read no model")
    if "model" in step.params:
        raise UsageError(f"--then {step.kind}: its model is the one each job of the sweep trains; drop model=")
    params = validate_params(plugin, step.kind, {**step.params, "model": f"{FROM_PREFIX}1"})
    values = params.model_dump(mode="json")
    check_paths(plugin, step.kind, params, remote=request.remote)
    if runs_here:
        check_before_storing(store, plugin, step.kind, values, None)
    values.pop("model")
    return values


def start_sweep(store: Store, jobs: Sequence[Job], **options: Any) -> bool:
    """Start a sweep's jobs: queued (a capped sweep's beyond its cap wait for a free slot), or run here in order."""
    return start(store, jobs, **options)


def cancel_sweep(store: Store, sweep_id: int) -> dict[str, int]:
    with store.transaction() as session:
        return sweep_rows.cancel_sweep(session, sweep_id)
