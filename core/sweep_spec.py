"""What a sweep asks: each param's values (a list, or a range for a random draw), expanded to points.

    lr_g=1e-4,2e-4        a list (a grid takes every combination; a random draw picks one per point)
    lr=log:1e-4..1e-2     log-uniform between the bounds (--random only)
    batch_size=int:32..256  a whole number, bounds included (--random only)
    dropout=0.1..0.5      uniform (--random only)

A value holding a comma writes it as `\\,`; a JSON list or object (`[1,2]`) is one value.
"""

from __future__ import annotations

import itertools
import math
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aigc.core.errors import UsageError, excerpt
from aigc.core.params import parse_assignments

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_RANGE = re.compile(rf"(?:(log|int):)?({_NUMBER})\.\.({_NUMBER})")


@dataclass(frozen=True)
class Range:
    scale: str  # "log", "int" or "float"
    low: float
    high: float

    def draw(self, rng: random.Random) -> float | int:
        if self.scale == "int":
            return rng.randint(int(self.low), int(self.high))
        if self.scale == "log":
            value = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        else:
            value = rng.uniform(self.low, self.high)
        return float(f"{value:.4g}")  # four significant digits: a table of points stays readable

    def text(self) -> str:
        prefix = "" if self.scale == "float" else f"{self.scale}:"
        return f"{prefix}{self.low:g}..{self.high:g}"


Axis = list[Any] | Range


def parse_axes(assignments: Iterable[str]) -> dict[str, Axis]:
    """`-p key=...` of a sweep to each param's values or range; one line naming a malformed one."""
    axes: dict[str, Axis] = {}
    for key, value in parse_assignments(_protect(assignments)).items():
        if not isinstance(value, str):  # a JSON list or object: one value
            axes[key] = [value]
            continue
        found = _RANGE.fullmatch(value)
        if found:
            axes[key] = _range(key, found)
        else:
            axes[key] = [part.replace(_COMMA, ",") for part in value.split(",")]
    return axes


_COMMA = "\x00"  # an escaped comma, kept apart from the separators until the split


def _protect(assignments: Iterable[str]) -> list[str]:
    return [pair.replace("\\,", _COMMA) for pair in assignments]


def _range(key: str, found: re.Match[str]) -> Range:
    scale, low, high = found.group(1) or "float", float(found.group(2)), float(found.group(3))
    shown = excerpt(found.group(0))
    if not low < high:
        raise UsageError(f"param {key}={shown}: a range goes from low to high, as in {key}=1..2")
    if scale == "log" and low <= 0:
        raise UsageError(f"param {key}={shown}: a log range needs bounds above 0, as in {key}=log:1e-4..1e-2")
    if scale == "int" and not (low.is_integer() and high.is_integer()):
        raise UsageError(f"param {key}={shown}: an int range needs whole bounds, as in {key}=int:32..256")
    return Range(scale, low, high)


def grid(axes: dict[str, Axis]) -> list[dict[str, Any]]:
    """Every combination of the listed values, the last param varying fastest."""
    for key, axis in axes.items():
        if isinstance(axis, Range):
            raise UsageError(
                f"param {key}={axis.text()} is a range; draw from ranges with --random N, "
                f"or list values for a grid ({key}=a,b,c)"
            )
    keys = list(axes)
    lists = [axis for axis in axes.values() if not isinstance(axis, Range)]  # every one: ranges refused above
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*lists)]


def draw(axes: dict[str, Axis], count: int, seed: int) -> list[dict[str, Any]]:
    """`count` points, each param drawn from its range or picked from its list, reproducibly from `seed`."""
    rng = random.Random(seed)
    return [
        {key: axis.draw(rng) if isinstance(axis, Range) else rng.choice(axis) for key, axis in axes.items()}
        for _ in range(count)
    ]


def swept(axes: dict[str, Axis]) -> list[str]:
    """The params that take more than one value."""
    return [key for key, axis in axes.items() if isinstance(axis, Range) or len(axis) > 1]


def axis_text(axis: Axis) -> str:
    return axis.text() if isinstance(axis, Range) else ",".join(str(v) for v in axis)
