"""Training curves as inline SVG, drawn on the server: no chart library, nothing to load in the browser."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from aigc.cli.charts import downsample

WIDTH, HEIGHT = 420, 180
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 52, 12, 22, 26


def _nice(value: float) -> str:
    return f"{value:.3g}"


def line_chart(key: str, points: Sequence[tuple[int, float]]) -> str:
    """One metric's curve with its min/max on the y axis and the step range on the x axis."""
    finite = [(s, v) for s, v in points if math.isfinite(v)]
    title = escape(key)
    if not finite:
        return (
            f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{title}: no finite values">'
            f'<text x="8" y="16">{title}: no finite values</text></svg>'
        )
    shown = downsample(finite)
    steps = [s for s, _ in shown]
    values = [v for _, v in shown]
    x0, x1 = min(steps), max(steps)
    first_step, final_step = x0, x1
    y0, y1 = min(values), max(values)
    if x1 == x0:
        x1 = x0 + 1
    if y1 == y0:
        y0, y1 = y0 - 0.5, y1 + 0.5
    inner_w = WIDTH - PAD_LEFT - PAD_RIGHT
    inner_h = HEIGHT - PAD_TOP - PAD_BOTTOM

    def xy(step: float, value: float) -> str:
        x = PAD_LEFT + (step - x0) / (x1 - x0) * inner_w
        y = PAD_TOP + (1 - (value - y0) / (y1 - y0)) * inner_h
        return f"{x:.1f},{y:.1f}"

    path = " ".join(xy(s, v) for s, v in shown)
    last_step, last_value = finite[-1]
    bottom = PAD_TOP + inner_h
    return (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{title}: {len(finite)} points, last {_nice(last_value)} at step {last_step}" data-metric="{title}">'
        f'<text x="{PAD_LEFT}" y="14" class="chart-title">{title} <tspan class="muted">last {_nice(last_value)} @ {last_step}</tspan></text>'
        f'<line x1="{PAD_LEFT}" y1="{PAD_TOP}" x2="{PAD_LEFT}" y2="{bottom}" class="axis"/>'
        f'<line x1="{PAD_LEFT}" y1="{bottom}" x2="{WIDTH - PAD_RIGHT}" y2="{bottom}" class="axis"/>'
        f'<text x="{PAD_LEFT - 4}" y="{PAD_TOP + 8}" text-anchor="end" class="tick">{_nice(y1)}</text>'
        f'<text x="{PAD_LEFT - 4}" y="{bottom}" text-anchor="end" class="tick">{_nice(y0)}</text>'
        f'<text x="{PAD_LEFT}" y="{HEIGHT - 8}" class="tick">{first_step}</text>'
        f'<text x="{WIDTH - PAD_RIGHT}" y="{HEIGHT - 8}" text-anchor="end" class="tick">step {final_step}</text>'
        f'<polyline points="{path}" class="line"/>'
        "</svg>"
    )
