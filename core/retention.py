"""Retention: `aigc prune` deletes old finished jobs with their results, metrics, logs, checkpoints and
the models they made (never one a queued or running job pins, nor the newest of its plugin unless
asked); `aigc du` shows what the store holds; AIGC_RETENTION_DAYS prunes automatically, one worker at
a time (a lock row in the store)."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from aigc.core.doctor.storage import human_size
from aigc.core.errors import UsageError
from aigc.core.store import Store, pruning
from aigc.core.store.models import utcnow

FINISHED = [str(s) for s in pruning.FINISHED]
POLICY_LOCK = "retention"
POLICY_HOLD_S = 3600.0  # one policy run per hour across the cluster


@dataclass(frozen=True)
class PruneReport:
    dry_run: bool
    jobs: int
    results: int
    metrics: int
    log_lines: int
    notices: int
    models: list[int]
    kept_models: list[int]
    checkpoints: int
    bytes_in_store: int  # result bytes (PNG data and texts) of the deleted rows
    bytes_on_disk: int  # checkpoint and model files deleted

    def line(self) -> str:
        verb = "would delete" if self.dry_run else "deleted"
        kept = f"; kept models {', '.join(map(str, self.kept_models))} (pinned or newest)" if self.kept_models else ""
        return (
            f"{verb} {self.jobs} jobs, {self.results} results, {self.metrics} metric points, {self.log_lines} log "
            f"lines, {self.notices} webhook notices, {len(self.models)} models, {self.checkpoints} checkpoints: "
            f"{human_size(self.bytes_in_store)} in the store, {human_size(self.bytes_on_disk)} of files{kept}"
        )


def check_statuses(statuses: Sequence[str]) -> list[str]:
    unknown = [s for s in statuses if s not in FINISHED]
    if unknown:
        raise UsageError(f"status '{unknown[0]}' cannot be pruned; accepted: {', '.join(FINISHED)} (finished jobs)")
    return list(statuses) or FINISHED


def prune(
    store: Store,
    older_than_s: float,
    *,
    statuses: Sequence[str] = (),
    plugin: str | None = None,
    dry_run: bool = False,
    newest_models: bool = False,
) -> PruneReport:
    """Delete jobs that ended more than `older_than_s` ago (only these statuses / this plugin if given)."""
    chosen = check_statuses(statuses)
    cutoff = utcnow() - timedelta(seconds=older_than_s)
    with store.transaction() as session:
        planned, doomed = pruning.plan(session, cutoff, chosen, plugin, newest_models)
        files: list[tuple[str, str]] = []
        if not dry_run:
            files = pruning.delete_planned(session, planned, doomed)
    paths = [store.artifacts.path_for(sha, "safetensors") for sha in planned.checkpoints]
    paths += [store.artifacts.path_for(sha, fmt) for sha, fmt in (files if not dry_run else _model_files(planned))]
    on_disk = sum(_size(p) for p in paths)
    if not dry_run:  # after the commit: a file is never gone while a row still names it
        for path in paths:
            _remove(path)
    return PruneReport(
        dry_run,
        planned.jobs,
        planned.results,
        planned.metrics,
        planned.log_lines,
        planned.notices,
        [m[0] for m in planned.models],
        planned.kept_models,
        len(planned.checkpoints),
        int(planned.result_bytes),
        on_disk,
    )


def _model_files(planned: pruning.Plan) -> list[tuple[str, str]]:
    return sorted({(sha, fmt) for _, sha, fmt in planned.models})


def apply_policy(store: Store, holder: str) -> PruneReport | None:
    """AIGC_RETENTION_DAYS, by whichever process takes the lock first this hour; None if unset or not ours."""
    from aigc.core.config import environment

    days = environment().retention_days
    if days is None or not pruning.take_lock(store, POLICY_LOCK, holder, POLICY_HOLD_S):
        return None
    return prune(store, days * 86400)


@dataclass(frozen=True)
class Usage:
    plugin: str
    jobs: int
    results: int
    result_bytes: int
    model_bytes: int
    checkpoint_bytes: int


def disk_usage(store: Store) -> tuple[list[Usage], int | None, int]:
    """Per plugin sizes; the database file's size (SQLite; None for a server database); the artifact root's."""
    with store.transaction() as session:
        rows = pruning.usage(session)
    usages = [
        Usage(
            row.plugin,
            row.jobs,
            row.results,
            row.result_bytes,
            sum(_size(store.artifacts.path_for(sha, fmt)) for sha, fmt in row.models),
            sum(_size(store.artifacts.path_for(sha, "safetensors")) for sha in row.checkpoints),
        )
        for row in rows
    ]
    url = store.settings.database_url
    database = _size(Path(url.removeprefix("sqlite:///"))) if url.startswith("sqlite:///") else None
    return usages, database, _size(store.artifacts.root)


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size if path.exists() else 0


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
