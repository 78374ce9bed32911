"""Plugin discovery: the `aigc.plugins` entry-point group, then the drop-in folders of AIGC_PLUGIN_PATH.

Every load is guarded: a plugin that fails to import, breaks the contract, or shares its name with
another is listed as broken with the reason, and every other plugin and command keeps working.
"""

from __future__ import annotations

import functools
import importlib.util
import inspect
import sys
import traceback
from dataclasses import dataclass, replace
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType

from aigc.core.errors import BrokenPlugin, UnknownPlugin, first_line
from aigc.core.plugin import CONTRACT_VERSION, Modality, Plugin

GROUP = "aigc.plugins"


@dataclass(frozen=True)
class PluginEntry:
    name: str
    source: str  # where it came from, for humans: "aigc 0.1.0 (entry point)" or a file path
    package: str  # the distribution that ships it, or "drop-in"
    plugin: type[Plugin] | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.plugin is not None and self.error is None

    @property
    def status(self) -> str:
        return "ok" if self.ok else "broken"


@functools.lru_cache(maxsize=8)
def discover(plugin_path: tuple[Path, ...] = ()) -> dict[str, PluginEntry]:
    """All plugins by name, broken ones included; scanned once per process (restart to see new installs)."""
    found: list[PluginEntry] = []
    for ep in entry_points(group=GROUP):
        dist = ep.dist.name if ep.dist else "unknown"
        version = ep.dist.version if ep.dist else ""
        source = f"{dist} {version} (entry point {ep.value})".strip()
        try:
            loaded = ep.load()
        except Exception as exc:  # any import-time failure must not break the CLI
            found.append(PluginEntry(ep.name, source, dist, error=_one_line(exc)))
            continue
        found.append(_checked(PluginEntry(ep.name, source, dist), loaded))
    for folder in plugin_path:
        found.extend(_drop_ins(folder))
    return _by_name(found)


def installed(name: str) -> type[Plugin] | None:
    """The plugin that the one entry point called `name` installs, if it loads and keeps the contract;
    None otherwise. Shell completion of `-p` uses it so that a TAB imports one plugin, not all of them
    (where it answers None, `discover` decides)."""
    found = list(entry_points(group=GROUP, name=name))
    if len(found) != 1:
        return None
    try:
        loaded = found[0].load()
    except Exception:  # broken: `discover` says why
        return None
    entry = _checked(PluginEntry(name, "", ""), loaded)
    return entry.plugin if entry.ok else None


def get_plugin(name: str, plugin_path: tuple[Path, ...] = ()) -> type[Plugin]:
    entries = discover(plugin_path)
    entry = entries.get(name)
    if entry is None:
        raise UnknownPlugin(name, [n for n, e in entries.items() if e.ok])
    if not entry.ok or entry.plugin is None:
        raise BrokenPlugin(name, entry.error or "unknown error")
    return entry.plugin


def _checked(entry: PluginEntry, loaded: object) -> PluginEntry:
    """Accept a Plugin subclass that honours the contract; otherwise say what is wrong."""
    if not (inspect.isclass(loaded) and issubclass(loaded, Plugin)):
        return replace(entry, error=f"{loaded!r} is not a subclass of aigc.core.plugin.Plugin")
    name = getattr(loaded, "name", None)
    if not isinstance(name, str) or not name.isidentifier():
        return replace(entry, error=f"{loaded.__name__}.name must be an identifier, got {name!r}")
    if name != entry.name:
        return replace(entry, error=f"entry point '{entry.name}' loads a plugin named '{name}'")
    if not isinstance(loaded.contract, int) or isinstance(loaded.contract, bool):
        return replace(
            entry,
            error=f"{loaded.__name__}.contract must be an int such as {CONTRACT_VERSION}, got {loaded.contract!r}",
        )
    if loaded.contract != CONTRACT_VERSION:
        return replace(
            entry,
            error=f"written for plugin contract v{loaded.contract}; this aigc implements v{CONTRACT_VERSION}",
        )
    if getattr(loaded, "modality", None) not in set(Modality):
        return replace(entry, error=f"modality must be one of {', '.join(Modality)}, got {loaded.modality!r}")
    return replace(entry, plugin=loaded)


def _drop_ins(folder: Path) -> list[PluginEntry]:
    if not folder.is_dir():
        return [PluginEntry(folder.name, str(folder), "drop-in", error=f"plugin folder {folder} does not exist")]
    entries: list[PluginEntry] = []
    candidates = sorted(folder.glob("*.py")) + sorted(
        p / "__init__.py" for p in folder.iterdir() if (p / "__init__.py").is_file()
    )
    for file in candidates:
        stem = file.parent.name if file.name == "__init__.py" else file.stem
        if stem.startswith(("_", ".")):
            continue
        source = str(file.parent if file.name == "__init__.py" else file)
        try:
            module = _import_file(f"aigc_dropin_{stem}", file)
        except Exception as exc:
            entries.append(PluginEntry(stem, source, "drop-in", error=_one_line(exc)))
            continue
        classes = [
            obj
            for obj in vars(module).values()
            if isinstance(obj, type)
            and issubclass(obj, Plugin)
            and obj is not Plugin
            and obj.__module__ == module.__name__
        ]
        if not classes:
            entries.append(PluginEntry(stem, source, "drop-in", error="defines no subclass of aigc.core.plugin.Plugin"))
        for cls in classes:
            entries.append(_checked(PluginEntry(str(getattr(cls, "name", stem)), source, "drop-in"), cls))
    return entries


def _import_file(module_name: str, file: Path) -> ModuleType:
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(
        module_name, file, submodule_search_locations=[str(file.parent)] if file.name == "__init__.py" else None
    )
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def _by_name(found: list[PluginEntry]) -> dict[str, PluginEntry]:
    by_name: dict[str, PluginEntry] = {}
    for entry in found:
        other = by_name.get(entry.name)
        if other is None:
            by_name[entry.name] = entry
            continue
        by_name[entry.name] = replace(
            other,
            plugin=None,
            error=f"two plugins are named '{entry.name}': {other.source} and {entry.source}; uninstall or rename one",
        )
    return dict(sorted(by_name.items()))


def _one_line(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" ({Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    message = first_line(exc)
    return f"{message}{where}" if message == type(exc).__name__ else f"{type(exc).__name__}: {message}{where}"
