"""One check's outcome."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Level = Literal["ok", "warn", "fail"]


@dataclass(frozen=True)
class Check:
    name: str  # what was checked: "store", "torch", "plugin gan" ...
    level: Level
    message: str  # what was found, one line
    fix: str = ""  # what to do about a warn or a fail, one line


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
