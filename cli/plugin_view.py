"""Plugins as plain dicts: what `aigc plugins --json`, `plugins show --json` and the API's /api/plugins give."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plugin_dicts(plugin_path: tuple[Path, ...]) -> list[dict[str, Any]]:
    """The plugins as `plugins --json` prints them (and `GET /api/plugins` answers)."""
    from aigc.core.registry import discover

    return [
        {
            "name": e.name,
            "modality": str(e.plugin.modality) if e.plugin else None,
            "description": e.plugin.description if e.plugin else None,
            "package": e.package,
            "source": e.source,
            "status": e.status,
            "error": e.error,
        }
        for e in discover(plugin_path).values()
    ]


def plugin_detail(name: str, plugin_path: tuple[Path, ...]) -> dict[str, Any]:
    """A plugin as `plugins show --json` prints it (and `GET /api/plugins/NAME` answers)."""
    from aigc.core.plugin import JobKind
    from aigc.core.registry import get_plugin

    plugin = get_plugin(name, plugin_path)
    return {
        "name": plugin.name,
        "modality": str(plugin.modality),
        "description": plugin.description,
        "queue": plugin.queue,
        "contract": plugin.contract,
        "bundled_model": plugin.bundled_model,
        "params": {str(k): plugin.params_model(k).model_json_schema() for k in JobKind},
    }
