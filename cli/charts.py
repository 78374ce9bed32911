"""Training curves of several jobs overlaid, one panel per metric: SVG written by hand, PNG drawn with
Pillow (already a dependency). No chart library: a few lines and labels do not need one."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from html import escape

Series = Mapping[str, Sequence[tuple[float, float]]]  # label -> (step, value) points
PANEL_W, PANEL_H = 460, 220
PAD_L, PAD_R, PAD_T, PAD_B = 56, 12, 24, 40
MAX_POINTS = 400  # more points than pixels only slows the browser


def downsample(points: Sequence[tuple[float, float]], limit: int = MAX_POINTS) -> list[tuple[float, float]]:
    """Keep the min and max of each bucket, so spikes survive the thinning."""
    if len(points) <= limit:
        return list(points)
    size = math.ceil(len(points) / (limit // 2))
    kept: list[tuple[float, float]] = []
    for start in range(0, len(points), size):
        bucket = points[start : start + size]
        low = min(bucket, key=lambda p: p[1])
        high = max(bucket, key=lambda p: p[1])
        kept.extend(sorted({low, high}))
    return kept


# Distinguishable for the colour-blind (Okabe-Ito), then repeated.
COLOURS = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]


def _finite(series: Series) -> dict[str, list[tuple[float, float]]]:
    return {label: downsample([(s, v) for s, v in pts if math.isfinite(v)]) for label, pts in series.items()}


def _bounds(series: Mapping[str, Sequence[tuple[float, float]]]) -> tuple[float, float, float, float] | None:
    points = [p for pts in series.values() for p in pts]
    if not points:
        return None
    x0, x1 = min(p[0] for p in points), max(p[0] for p in points)
    y0, y1 = min(p[1] for p in points), max(p[1] for p in points)
    return x0, (x1 if x1 > x0 else x0 + 1), (y0 if y1 > y0 else y0 - 0.5), (y1 if y1 > y0 else y1 + 0.5)


def _scale(
    bounds: tuple[float, float, float, float], left: float, top: float
) -> Callable[[float, float], tuple[float, float]]:
    x0, x1, y0, y1 = bounds
    inner_w, inner_h = PANEL_W - PAD_L - PAD_R, PANEL_H - PAD_T - PAD_B

    def xy(step: float, value: float) -> tuple[float, float]:
        return (
            left + PAD_L + (step - x0) / (x1 - x0) * inner_w,
            top + PAD_T + (1 - (value - y0) / (y1 - y0)) * inner_h,
        )

    return xy


def overlay_svg(title: str, series: Series) -> str:
    """One metric, one line per label, with a legend: an <svg> element for a page or a file."""
    return f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {PANEL_W} {PANEL_H}" font-family="sans-serif" font-size="11">{_panel_svg(title, series, 0, 0)}</svg>'


def _panel_svg(title: str, series: Series, left: float, top: float) -> str:
    shown = _finite(series)
    parts = [f'<text x="{left + PAD_L}" y="{top + 15}" font-weight="bold">{escape(title)}</text>']
    bounds = _bounds(shown)
    if bounds is None:
        parts.append(f'<text x="{left + PAD_L}" y="{top + 40}">no finite values</text>')
        return "".join(parts)
    xy = _scale(bounds, left, top)
    x0, x1, y0, y1 = bounds
    bottom, right = top + PANEL_H - PAD_B, left + PANEL_W - PAD_R
    parts.append(
        f'<line x1="{left + PAD_L}" y1="{top + PAD_T}" x2="{left + PAD_L}" y2="{bottom}" stroke="#888"/>'
        f'<line x1="{left + PAD_L}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#888"/>'
        f'<text x="{left + PAD_L - 4}" y="{top + PAD_T + 8}" text-anchor="end">{y1:.3g}</text>'
        f'<text x="{left + PAD_L - 4}" y="{bottom}" text-anchor="end">{y0:.3g}</text>'
        f'<text x="{left + PAD_L}" y="{bottom + 14}">{x0:g}</text>'
        f'<text x="{right}" y="{bottom + 14}" text-anchor="end">step {x1:g}</text>'
    )
    for i, (label, pts) in enumerate(shown.items()):
        colour = COLOURS[i % len(COLOURS)]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(s, v) for s, v in pts))
        parts.append(
            f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="1.5"><title>{escape(label)}</title></polyline>'
        )
        lx = left + PAD_L + i * 90
        parts.append(
            f'<rect x="{lx}" y="{bottom + 20}" width="10" height="3" fill="{colour}"/>'
            f'<text x="{lx + 14}" y="{bottom + 25}">{escape(label)}</text>'
        )
    return "".join(parts)


def figure_svg(panels: dict[str, Series]) -> str:
    """Every metric's panel, two per row, as one SVG document."""
    cols = 2 if len(panels) > 1 else 1
    rows = max(1, math.ceil(len(panels) / cols))
    body = "".join(
        _panel_svg(title, series, (i % cols) * PANEL_W, (i // cols) * PANEL_H)
        for i, (title, series) in enumerate(panels.items())
    )
    width, height = cols * PANEL_W, rows * PANEL_H
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'font-family="sans-serif" font-size="11"><rect width="100%" height="100%" fill="white"/>{body}</svg>\n'
    )


def figure_png(panels: dict[str, Series]) -> bytes:
    """The same figure as `figure_svg`, drawn with Pillow at twice the size for legibility."""
    import io

    from PIL import Image, ImageDraw, ImageFont

    scale = 2
    cols = 2 if len(panels) > 1 else 1
    rows = max(1, math.ceil(len(panels) / cols))
    image = Image.new("RGB", (cols * PANEL_W * scale, rows * PANEL_H * scale), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=11 * scale)
    for i, (title, series) in enumerate(panels.items()):
        left, top = (i % cols) * PANEL_W, (i // cols) * PANEL_H

        def at(x: float, y: float) -> tuple[float, float]:
            return x * scale, y * scale

        draw.text(at(left + PAD_L, top + 4), title, fill="black", font=font)
        shown = _finite(series)
        bounds = _bounds(shown)
        if bounds is None:
            draw.text(at(left + PAD_L, top + 30), "no finite values", fill="black", font=font)
            continue
        xy = _scale(bounds, left, top)
        x0, x1, y0, y1 = bounds
        bottom, right = top + PANEL_H - PAD_B, left + PANEL_W - PAD_R
        draw.line(
            [at(left + PAD_L, top + PAD_T), at(left + PAD_L, bottom), at(right, bottom)], fill="#888", width=scale
        )
        draw.text(at(left + PAD_L - 4, top + PAD_T), f"{y1:.3g}", fill="black", font=font, anchor="ra")
        draw.text(at(left + PAD_L - 4, bottom), f"{y0:.3g}", fill="black", font=font, anchor="rs")
        draw.text(at(left + PAD_L, bottom + 3), f"{x0:g}", fill="black", font=font)
        draw.text(at(right, bottom + 3), f"step {x1:g}", fill="black", font=font, anchor="ra")
        for j, (label, pts) in enumerate(shown.items()):
            colour = COLOURS[j % len(COLOURS)]
            line = [at(*xy(s, v)) for s, v in pts]
            if len(line) > 1:
                draw.line(line, fill=colour, width=2 * scale // 2 + 1)
            elif line:
                x, y = line[0]
                draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=colour)
            lx = left + PAD_L + j * 90
            draw.rectangle([at(lx, bottom + 20), at(lx + 10, bottom + 23)], fill=colour)
            draw.text(at(lx + 14, bottom + 16), label, fill="black", font=font)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def panels_of(curves: Mapping[str, Mapping[str, Sequence[tuple[float, float]]]]) -> dict[str, Series]:
    """{label: {metric: points}} to {metric: {label: points}}, metrics in name order."""
    panels: dict[str, dict[str, Sequence[tuple[float, float]]]] = {}
    for label, series in curves.items():
        for key, points in series.items():
            panels.setdefault(key, {})[label] = points
    return dict(sorted(panels.items()))


def scatter_svg(x_label: str, y_label: str, points: Sequence[tuple[float, float, str]], best: str | None = None) -> str:
    """A swept param (x) against a metric (y): one dot per point, titled with its label; `best` ringed.
    A param whose values are all positive and span more than a factor of 20 gets a log x axis."""
    finite = [(x, y, label) for x, y, label in points if math.isfinite(x) and math.isfinite(y)]
    head = f'<svg xmlns="http://www.w3.org/2000/svg" class="chart scatter" viewBox="0 0 {PANEL_W} {PANEL_H}" font-family="sans-serif" font-size="11" data-param="{escape(x_label)}">'
    title = f'<text x="{PAD_L}" y="15" font-weight="bold">{escape(y_label)} by {escape(x_label)}</text>'
    if not finite:
        return f'{head}{title}<text x="{PAD_L}" y="40">no finished points yet</text></svg>'
    xs = [x for x, _, _ in finite]
    log_x = min(xs) > 0 and max(xs) / min(xs) > 20
    shown = [(math.log10(x) if log_x else x, y, label) for x, y, label in finite]
    bounds = _bounds({"": [(sx, sy) for sx, sy, _ in shown]})
    assert bounds is not None
    xy = _scale(bounds, 0, 0)
    x0, x1, y0, y1 = bounds
    bottom, right = PANEL_H - PAD_B, PANEL_W - PAD_R
    tick = (lambda v: f"{10**v:.3g}") if log_x else (lambda v: f"{v:.3g}")
    parts = [
        head,
        title,
        f'<line x1="{PAD_L}" y1="{PAD_T}" x2="{PAD_L}" y2="{bottom}" stroke="#888"/>',
        f'<line x1="{PAD_L}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#888"/>',
        f'<text x="{PAD_L - 4}" y="{PAD_T + 8}" text-anchor="end">{y1:.3g}</text>',
        f'<text x="{PAD_L - 4}" y="{bottom}" text-anchor="end">{y0:.3g}</text>',
        f'<text x="{PAD_L}" y="{bottom + 14}">{tick(x0)}</text>',
        f'<text x="{right}" y="{bottom + 14}" text-anchor="end">{escape(x_label)}{" (log)" if log_x else ""} {tick(x1)}</text>',
    ]
    for sx, sy, label in shown:
        x, y = xy(sx, sy)
        ring = ' stroke="#D55E00" stroke-width="2" r="6"' if label == best else ' r="4"'
        parts.append(
            f'<circle class="dot" cx="{x:.1f}" cy="{y:.1f}"{ring} fill="#0072B2"><title>{escape(label)}: {sy:.4g}</title></circle>'
        )
    parts.append("</svg>")
    return "".join(parts)
