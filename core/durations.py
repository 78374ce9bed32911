"""Durations as people type them (`--timeout 2h`, `--older-than 30d`) and as aigc prints them."""

from __future__ import annotations

import re

from aigc.core.errors import UsageError

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
PATTERN = re.compile(r"([0-9]+(?:\.[0-9]+)?)([smhdw]?)")
ACCEPTED = "a number with a unit s, m, h, d or w, such as 90s, 30m, 2h, 30d (no unit: seconds)"


def parse_duration(text: str, what: str) -> float:
    """Seconds of `text`; UsageError naming `what` (an option) and the accepted forms."""
    match = PATTERN.fullmatch(text.strip().lower())
    seconds = float(match[1]) * UNITS[match[2] or "s"] if match else 0.0
    if seconds <= 0:
        raise UsageError(f"{what} '{text}' is not a duration; accepted: {ACCEPTED}, above 0")
    return seconds


def format_duration(seconds: float) -> str:
    """The largest whole unit that states `seconds` exactly: 7200 -> 2h, 90 -> 90s, 1.5 -> 1.5s."""
    for unit in ("w", "d", "h", "m"):
        if seconds >= UNITS[unit] and seconds % UNITS[unit] == 0:
            return f"{int(seconds // UNITS[unit])}{unit}"
    return f"{seconds:g}s"
