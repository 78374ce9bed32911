"""Shared output helpers: one stdout console for data, one stderr console for messages and bars."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text


class _ConsoleOnFirstUse:
    """A rich Console made when first used: importing rich costs about 30 ms, which a TAB of shell
    completion (target 0.3 s in all) should not pay for output it never prints."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._made(), name)

    # Special methods bypass __getattr__; rich's Live enters its console as a context manager.
    def __enter__(self) -> Console:
        return self._made().__enter__()

    def __exit__(self, *exc_info: Any) -> None:
        self._made().__exit__(*exc_info)

    def _made(self) -> Console:
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return self._console


out = cast("Console", _ConsoleOnFirstUse(highlight=False, soft_wrap=True))
# stderr: messages and bars; a message stays one line, even piped
err = cast("Console", _ConsoleOnFirstUse(stderr=True, highlight=False, soft_wrap=True))


def print_json(value: Any) -> None:
    """JSON for scripts: plain, one document on stdout, datetimes as ISO strings."""
    print(json.dumps(value, indent=2, default=_default, ensure_ascii=False))


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat() + "Z"
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def value_text(value: Any) -> str:
    """A value as the CLI and the web pages show it: floats to 4 significant digits, JSON for containers."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return "-" if value is None else str(value)


def age(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    from aigc.core.store.models import utcnow

    seconds = max(0.0, (utcnow() - moment).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit} ago"
    return f"{seconds:.0f}s ago"


STATUS_STYLE = {
    "queued": "cyan",
    "running": "yellow",
    "succeeded": "green",
    "failed": "red",
    "cancelled": "magenta",
}


def status_text(status: str) -> str:
    return f"[{STATUS_STYLE.get(status, 'white')}]{status}[/]"


def status_cell(status: str) -> Text:
    """A job status as a styled table cell (see aigc.cli.table)."""
    from rich.text import Text

    return Text(status, style=STATUS_STYLE.get(status, "white"))
