"""The model catalog (trained checkpoints and bundled defaults): resolving a model id for a plugin, loading, export.

The `models` table itself is `aigc.core.store.models.Model`; this module decides what a model id means.
A bundled model ships with its sha256 in a file beside it (`default.safetensors.sha256`, or
`default.sha256` for a folder, digested as `aigc.core.artifacts` digests folders), written by
`aigc models export`; loading checks it as the artifact store checks a trained model.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from aigc.core.artifacts import ArtifactStore, shipped_sha256, verify_shipped, write_digest
from aigc.core.context import LoadedModel
from aigc.core.errors import UnknownModel, UsageError
from aigc.core.ids import parse_id
from aigc.core.plugin import Plugin
from aigc.core.store import MAX_ID, queries

BUNDLED = "default"


@dataclass(frozen=True)
class ModelRef:
    """A model id checked to exist for a plugin, before a job is stored."""

    id: str
    bundled: bool


def bundled_path(plugin: type[Plugin]) -> Path | None:
    if not plugin.bundled_model:
        return None
    module = sys.modules[plugin.__module__]
    path = Path(module.__file__ or "").parent / plugin.bundled_model
    return path if path.exists() else None


@dataclass(frozen=True)
class BundledModel:
    """A plugin's default model shipped inside its package."""

    plugin: str
    path: Path

    @property
    def format(self) -> str:
        return "hf" if self.path.is_dir() else "safetensors"

    @property
    def sha256(self) -> str | None:
        """The digest shipped beside it (not recomputed: listing models must stay cheap)."""
        return shipped_sha256(self.path)


def verified_bundled(plugin: type[Plugin], path: Path) -> str:
    """The sha256 of a plugin's bundled model, after checking it matches the digest shipped with it."""
    return verify_shipped(path, f"bundled model {path} of plugin '{plugin.name}'", plugin.__module__)


def bundled_models(plugins: Iterable[type[Plugin]], only: str | None = None) -> list[BundledModel]:
    """The bundled defaults of the given plugins (or of the one named `only`)."""
    found = []
    for plugin in plugins:
        if only is None or plugin.name == only:
            path = bundled_path(plugin)
            if path is not None:
                found.append(BundledModel(plugin.name, path))
    return found


def resolve_ref(session: Session, plugin: type[Plugin], model: str | None) -> ModelRef:
    """Pin a job's model at submit time: the given id, else the newest trained one, else the bundled one."""
    if model is None:
        newest = queries.newest_model(session, plugin.name)
        if newest is not None:
            return ModelRef(str(newest.id), False)
        if bundled_path(plugin) is not None:
            return ModelRef(BUNDLED, True)
        raise UsageError(
            f"plugin '{plugin.name}' has no trained model and no bundled one; "
            f"train one first: aigc submit train --plugin {plugin.name}"
        )
    if model == BUNDLED:
        if bundled_path(plugin) is None:
            raise UnknownModel(f"plugin '{plugin.name}' ships no bundled model; use a trained model id (aigc models)")
        return ModelRef(BUNDLED, True)
    model_id = parse_model_id(model)
    row = queries.get_model(session, model_id)
    if row is None or row.plugin != plugin.name:
        raise UnknownModel(f"no {plugin.name} model with id {model_id}; see `aigc models --plugin {plugin.name}`")
    return ModelRef(str(model_id), False)


def parse_model_id(raw: str) -> int:
    """A trained model's id as typed (`--model`, `aigc models export`): ASCII digits, within the store's range."""
    return parse_id(raw, "model", f"a number from `aigc models` (1 to {MAX_ID}) or '{BUNDLED}'")


def load(session: Session, artifacts: ArtifactStore, plugin: type[Plugin], ref: str) -> LoadedModel:
    """A verified local path and config for a model id already pinned by `resolve_ref`."""
    if ref == BUNDLED:
        path = bundled_path(plugin)
        if path is None:
            raise UnknownModel(f"plugin '{plugin.name}' ships no bundled model")
        fmt = "hf" if path.is_dir() else "safetensors"
        return LoadedModel(BUNDLED, path, fmt, verified_bundled(plugin, path), _bundled_config(path))
    row = queries.get_model(session, int(ref))
    if row is None:
        raise UnknownModel(f"no model with id {ref}")
    path = artifacts.verified_path(row.sha256, row.format)
    return LoadedModel(str(row.id), path, row.format, row.sha256, row.config)


def _bundled_config(path: Path) -> dict[str, Any]:
    if path.is_dir():
        config = path / "config.json"
        return json.loads(config.read_text()) if config.exists() else {}
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        return json.loads((handle.metadata() or {}).get("config", "{}"))


def export(model: LoadedModel, destination: Path) -> Path:
    """Copy a model's artifact out of the store (into a plugin's package data, say), its digest file beside it."""
    if destination.exists() and destination.is_dir() and model.format != "hf":
        destination = destination / f"{model.id}.safetensors"
    if model.format == "hf":
        shutil.copytree(model.path, destination, dirs_exist_ok=True)
        for file in destination.rglob("*"):
            if file.is_file():
                file.chmod(0o644)  # save_pretrained writes some files owner-only; package data must be readable
    else:
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(model.path, destination)
    write_digest(destination)  # of the copy: a folder exported over older files digests what it now holds
    return destination
