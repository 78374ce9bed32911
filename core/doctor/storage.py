"""Checks of where aigc keeps things: the store (database) and the artifact root (checkpoints)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from aigc.core.config import Settings
from aigc.core.doctor.checks import Check, plural
from aigc.core.errors import StoreUnavailable

LOW_SPACE = 1 << 30  # below this, a warning: a few trained models fill it
NO_SPACE = 100 << 20  # below this, a failure: a checkpoint may not fit


def store(settings: Settings) -> tuple[Check, bool]:
    """The store's check, and whether the store can be opened as it is (it exists, at this aigc's schema)."""
    from aigc.core.store.health import inspect_store

    try:
        health = inspect_store(settings.database_url)
    except StoreUnavailable as exc:
        return Check(
            "store", "fail", str(exc), "check AIGC_DATABASE_URL (`aigc config`) and that the database runs"
        ), False
    if not health.exists:
        assert health.path is not None
        where = _nearest_existing(health.path.parent)
        if not _writable(where):
            return Check(
                "store", "fail", f"{health.path} cannot be created: {where} is not writable", _fix_home()
            ), False
        return Check("store", "ok", f"SQLite {health.path}: not created yet (the first job creates it)"), False
    expected = health.expected_revision
    sqlite = health.backend == "sqlite"
    if health.revision is None or health.revision < expected:
        found = f"at schema revision {health.revision or 'none'}, this aigc needs {expected}"
        if sqlite:
            return Check("store", "ok", f"{health.where}: {found}; it migrates itself on first use"), False
        return Check("store", "fail", f"{health.where}: {found}", "run `aigc db upgrade`"), False
    if health.revision > expected:
        found = f"at schema revision {health.revision}, newer than this aigc knows ({expected})"
        return Check("store", "fail", f"{health.where}: {found}", "upgrade aigc to the version that migrated it"), False
    if health.writable is False:
        fix = f"make {health.path} and its folder writable" if sqlite else "grant this user INSERT on the aigc tables"
        return Check("store", "fail", f"{health.where}: read-only", fix), False
    size = f", {human_size(health.size_bytes)}" if health.size_bytes is not None else ""
    return Check(
        "store", "ok", f"{health.where}: schema {health.revision}, {plural(health.jobs or 0, 'job')}{size}"
    ), True


def artifacts(settings: Settings) -> Check:
    root = settings.artifacts
    where = _nearest_existing(root)
    if not where.is_dir():
        return Check(
            "artifacts", "fail", f"{root}: {where} is a file, not a folder", "point AIGC_ARTIFACTS at a folder"
        )
    if not _writable(where):
        return Check(
            "artifacts", "fail", f"{root}: {where} is not writable", "point AIGC_ARTIFACTS at a writable folder"
        )
    free = shutil.disk_usage(where).free
    state = "" if root.exists() else " (created on first use)"
    found = f"{root}{state}: writable, {human_size(free)} free"
    if free < NO_SPACE:
        return Check("artifacts", "fail", found, "free some space, or point AIGC_ARTIFACTS at a larger disk")
    if free < LOW_SPACE:
        return Check("artifacts", "warn", found, "trained models may not fit: free some space")
    return Check("artifacts", "ok", found)


def human_size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def _nearest_existing(path: Path) -> Path:
    return next(p for p in (path, *path.absolute().parents) if p.exists())


def _writable(folder: Path) -> bool:
    """Whether a file can be created in `folder`: tried, since permissions alone miss read-only mounts."""
    if not os.access(folder, os.W_OK | os.X_OK):
        return False
    try:
        with tempfile.TemporaryFile(dir=folder, prefix=".aigc-doctor-"):
            return True
    except OSError:
        return False


def _fix_home() -> str:
    return "set AIGC_HOME (or AIGC_DATABASE_URL) to a writable place"
