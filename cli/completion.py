"""Shell completion (`aigc --install-completion`): plugin names, a plugin's param keys, job ids.

Each function answers one TAB from Typer's completion protocol, so it must be quick and must never
fail: whatever goes wrong (a bad setting, a store that is down) completes nothing. Nothing here
imports torch: plugin classes and their param models are cheap to import by contract.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from aigc.core.registry import PluginEntry

Candidates = list[tuple[str, str]]  # (value, help shown by zsh and fish)

RECENT_JOBS = 50  # job ids offered: the newest ones


def plugin_names(incomplete: str) -> Candidates:
    try:
        entries = _entries()
    except Exception:
        return []
    return [
        (name, _short(e.plugin.description))
        for name, e in entries.items()
        if e.ok and e.plugin and name.startswith(incomplete)
    ]


def param_keys(ctx: typer.Context, incomplete: str) -> Candidates:
    """`-p <TAB>`: `key=` for each param of the plugin named by --plugin, for this job kind; after `key=`,
    the accepted values when there are few (an enum, a bool)."""
    try:
        return _param_candidates(ctx, incomplete)
    except Exception:
        return []


def job_ids(incomplete: str) -> Candidates:
    try:
        from aigc.core.config import Settings
        from aigc.core.store.recent import recent_jobs

        jobs = recent_jobs(Settings.from_env(), RECENT_JOBS)
    except Exception:
        return []
    return [(str(j.id), f"{j.status} {j.plugin} {j.kind}") for j in jobs if str(j.id).startswith(incomplete)]


def statuses(incomplete: str) -> list[str]:
    from aigc.core.status import JobStatus

    return [str(s) for s in JobStatus if str(s).startswith(incomplete)]


def _param_candidates(ctx: typer.Context, incomplete: str) -> Candidates:
    from aigc.core.plugin import JobKind
    from aigc.core.registry import installed

    name = ctx.params.get("plugin")
    if not name or ctx.info_name not in set(JobKind):
        return []
    plugin = installed(name)
    if plugin is None:  # a drop-in, or a broken or doubled entry point: the full scan
        entry = _entries().get(name)
        plugin = entry.plugin if entry is not None and entry.ok else None
    if plugin is None:
        return []
    model = plugin.params_model(JobKind(ctx.info_name))
    key, sep, value = incomplete.partition("=")
    if sep:  # the schema only now: building it costs more than a TAB may
        choices = _choices(model.model_json_schema().get("properties", {}).get(key, {}))
        return [(f"{key}={c}", "") for c in choices if c.startswith(value)]
    given = {p.partition("=")[0] for p in ctx.params.get("param") or ()}
    return [
        (f"{k}=", _short(field.description))
        for k, field in model.model_fields.items()
        if k.startswith(key) and k not in given
    ]


def _choices(prop: dict[str, Any]) -> list[str]:
    options = [prop, *prop.get("anyOf", [])]
    for option in options:
        if "enum" in option:
            return [str(v) for v in option["enum"]]
        if option.get("type") == "boolean":
            return ["true", "false"]
    return []


def _entries() -> dict[str, PluginEntry]:
    from aigc.core.config import Settings
    from aigc.core.registry import discover

    return discover(Settings.from_env().plugin_path)


def _short(text: str | None) -> str:
    """Help for a candidate: its first clause, so a shell's menu stays one line."""
    first = (text or "").split(";")[0].split(":")[0].strip()
    return first[:60]
