"""Jinja filters: how times, fractions and values read on the pages (the CLI's wording where it has one)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from jinja2 import Environment

from aigc.cli.render import age, value_text


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"


def stamp(moment: datetime | None) -> str:
    """UTC, to the second; the store keeps naive UTC times."""
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def info(progress_info: dict[str, Any] | None) -> str:
    """`done/total` then the plugin's own values (losses ...), as the CLI's progress bar shows them."""
    values = dict(progress_info or {})
    done, total = values.pop("done", None), values.pop("total", None)
    parts = [f"{value_text(done)}/{value_text(total)}"] if done is not None and total is not None else []
    parts += [f"{k} {value_text(v)}" for k, v in values.items()]
    return "  ".join(parts)


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def install(env: Environment) -> None:
    env.filters.update(age=age, duration=duration, fmt=value_text, stamp=stamp, info=info, pretty_json=pretty_json)
