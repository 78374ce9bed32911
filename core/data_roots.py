"""Which files a job's path params may name: the folders of `AIGC_DATA_ROOTS`, when it is set.

A job reads its files with the rights of the process that runs it, not of whoever submitted it: a
client of `aigc serve`, or anyone who can queue a job for a worker, could otherwise have the server or
the worker read any file it can (its keys, its database) through `data=` or `prompts_file=`.

- With AIGC_DATA_ROOTS set, every path param of every job (params declared `DataPath`) must lie inside
  one of its folders once `~`, `..` and symlinks are resolved; a glob's matches must too. It is checked
  when the job is submitted and again, on the machine that runs it, before each attempt.
- Unset, the CLI and the workers read what their user can, and `aigc serve` refuses path params from its
  clients altogether.

A hub-name param (`DataPathOrHubName`, e.g. the text plugin's `base`) that names no local path and reads
as a Hugging Face hub id is a model name: it is not a file, and passes.
"""

from __future__ import annotations

import glob
import re
from pathlib import Path

from aigc.core.config import environment
from aigc.core.environment import data_roots
from aigc.core.errors import InvalidParams, excerpt
from aigc.core.params import path_params
from aigc.core.plugin import PATH_CHARS, JobKind, JobParams, Plugin

# What a Hugging Face hub id looks like: `name` or `owner/name`, no leading dot, no `..`.
HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?")


def check_paths(plugin: type[Plugin], kind: JobKind, params: JobParams, *, remote: bool = False) -> None:
    """Refuse a path param outside AIGC_DATA_ROOTS (when set), or any path param of a `remote` job when unset."""
    roots = data_roots(environment())
    if not roots and not remote:
        return
    for name, mark in path_params(type(params)).items():
        for value in _values(getattr(params, name)):
            if mark.hub_names and _is_hub_name(value):
                continue
            if not roots:
                raise InvalidParams(
                    f"invalid param '{name}' for {plugin.name} {kind}: this server reads no files for its "
                    "clients; its operator can allow folders with AIGC_DATA_ROOTS"
                )
            outside = _outside(value, roots)
            if outside is not None:
                allowed = ", ".join(str(r) for r in roots)
                raise InvalidParams(  # a path is quoted whole: it is at most PATH_CHARS, and a prefix would not help
                    f"invalid param '{name}' for {plugin.name} {kind}: {excerpt(outside, PATH_CHARS)} is outside the "
                    f"data roots ({allowed}); AIGC_DATA_ROOTS lists the folders jobs may read"
                )


def _values(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [v for v in value if isinstance(v, str)]
    return []


def _is_hub_name(value: str) -> bool:
    return HUB_ID.fullmatch(value) is not None and ".." not in value and not Path(value).expanduser().exists()


def _outside(value: str, roots: tuple[Path, ...]) -> str | None:
    """The first path `value` reaches outside the roots (itself, or one of its glob's matches), else None."""
    path = Path(value).expanduser()
    if not _inside(path, roots):
        return value
    if glob.has_magic(value):
        for match in glob.iglob(str(path), recursive=True):
            if not _inside(Path(match), roots):
                return match
    return None


def _inside(path: Path, roots: tuple[Path, ...]) -> bool:
    # The literal part of a glob (before its first wildcard) is what must lie inside; its matches are checked apart.
    parts = path.parts
    literal = next((i for i, part in enumerate(parts) if glob.has_magic(part)), len(parts))
    real = Path(*parts[:literal]).resolve() if literal else Path.cwd().resolve()
    return any(real == root or root in real.parents for root in roots)
