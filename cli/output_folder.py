"""Writing a set of files into a folder the user named: all of them or none, never over files unasked.

The files are written into a hidden staging folder first, on the same file system as the target (inside
it when it exists, else next to it), and moved into place only once every one is written. So an error
half-way (a full disk, Ctrl-C) leaves the target as it was. A target that exists must be an empty
folder, unless the caller forces it: then files of the same names are replaced, the others kept.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from aigc.core.errors import UsageError


@dataclass
class Staged:
    """The staging folder to write into; after the block, how many existing files were replaced."""

    path: Path
    replaced: list[str] = field(default_factory=list)


@contextmanager
def staged_folder(target: Path, *, force: bool, option: str = "--out") -> Iterator[Staged]:
    """Write into the yielded folder; its files land in `target` when the block ends without error.

    Any OSError, from the checks, the writes or the move, becomes one UsageError naming `target` and
    the system's reason; folders created on the way to `target` are removed again.
    """
    try:
        exists = _check(target, force, option)
    except OSError as exc:
        raise UsageError(_message(target, exc)) from None
    created: list[Path] = []
    try:
        created = [] if exists else _make_parents(target)
        staged = Staged(_staging(target if exists else target.parent, target.name))
        try:
            yield staged
            staged.replaced = _move_into(staged.path, target) if exists else _rename(staged.path, target)
        finally:
            shutil.rmtree(staged.path, ignore_errors=True)
    except OSError as exc:
        for folder in reversed(created):
            try:
                folder.rmdir()
            except OSError:
                break
        raise UsageError(_message(target, exc)) from None


def check_target(target: Path, *, force: bool, option: str = "--out") -> None:
    """The checks `staged_folder` starts with, and a trial staging folder where it would make one: for a
    caller that refuses a destination before it starts the work (`aigc submit --out`, before the job)."""
    try:
        exists = _check(target, force, option)
        parent = target if exists else target.parent
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        if not parent.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(parent))
        _staging(parent, target.name).rmdir()
    except OSError as exc:
        raise UsageError(_message(target, exc)) from None


def _check(target: Path, force: bool, option: str) -> bool:
    """Whether `target` exists (as a folder we may write into); UsageError if it may not be used."""
    if not (target.exists() or target.is_symlink()):
        return False
    if not target.is_dir():
        raise UsageError(f"{option} {target} exists and is not a folder; give a new or empty folder")
    if not force and any(target.iterdir()):
        raise UsageError(
            f"{option} {target} is a folder that is not empty; give a new or empty folder, "
            "or add --force to replace the files of the same names in it"
        )
    return True


def _make_parents(target: Path) -> list[Path]:
    """Create the missing folders above `target`, top down; returns them (to undo on failure)."""
    missing = []
    parent = target.parent
    while not parent.exists():
        if parent.is_symlink() or parent == parent.parent:
            break
        missing.append(parent)
        parent = parent.parent
    if parent.exists() and not parent.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(parent))
    created = []
    for folder in reversed(missing):
        folder.mkdir()
        created.append(folder)
    return created


def _staging(parent: Path, name: str) -> Path:
    staging = Path(tempfile.mkdtemp(dir=parent, prefix=f".{name}.partial-"))
    staging.chmod(0o777 & ~_umask())  # mkdtemp's 0o700 would become the new folder's mode
    return staging


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _rename(staging: Path, target: Path) -> list[str]:
    os.rename(staging, target)  # atomic; fails if another process filled `target` meanwhile
    return []


def _move_into(staging: Path, target: Path) -> list[str]:
    replaced = []
    for file in sorted(staging.iterdir()):
        if (target / file.name).exists():
            replaced.append(file.name)
        os.replace(file, target / file.name)
    return replaced


def _message(target: Path, exc: OSError) -> str:
    reason = exc.strerror or type(exc).__name__
    where = f" ({exc.filename})" if exc.filename and Path(exc.filename) != target else ""
    if ".partial-" in str(exc.filename or ""):  # our staging folder: the target's name says enough
        where = ""
    return f"cannot write to {target}: {reason}{where}"
