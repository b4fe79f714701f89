"""Charts as inline SVG, drawn here so the widget needs nothing beyond ipywidgets.

Each function returns an HTML fragment; every text in it is escaped. Axes and labels use
``currentColor`` so they follow the notebook's light or dark theme.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Any, TypeGuard

WIDTH, HEIGHT = 440, 230
_MARGIN_LEFT, _MARGIN_RIGHT, _MARGIN_TOP, _MARGIN_BOTTOM = 56, 14, 24, 34
_MAX_POLYLINE_POINTS = 800  # longer series are reduced to their min/max per bucket
_MAX_MARKERS = 200
_MAX_LEGEND = 24
# Tableau's ten colours: distinct, and readable on light and dark backgrounds.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
           "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Series:
    label: str
    points: Sequence[tuple[float, float]]
    stepped: bool = False  # a step line (the best value so far)
    markers: bool = False  # each point as a dot (a scatter)
    color: str | None = None


def is_number(value: Any) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def color(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def fmt(value: float) -> str:
    """A short label for an axis tick or a value."""
    if value == 0:
        return "0"
    if abs(value) >= 1e5 or abs(value) < 1e-3:
        return f"{value:.3g}"
    return f"{value:.6g}" if float(value).is_integer() else f"{value:.4g}"


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten apart) covering [low, high]."""
    if high <= low:
        return [low]
    raw = (high - low) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(low / step - 1e-9) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(0.0 if abs(value) < step * 1e-9 else value)
        value += step
    return ticks


def _span(values: Sequence[float]) -> tuple[float, float]:
    low, high = min(values), max(values)
    if high == low:
        pad = abs(low) * 0.1 or 0.5
        return low - pad, high + pad
    return low, high


def _reduce(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """At most about _MAX_POLYLINE_POINTS points, keeping each bucket's min and max (so
    spikes stay visible), in x order."""
    if len(points) <= _MAX_POLYLINE_POINTS:
        return list(points)
    size = math.ceil(len(points) / (_MAX_POLYLINE_POINTS // 2))
    reduced: list[tuple[float, float]] = []
    for start in range(0, len(points), size):
        bucket = points[start : start + size]
        low = min(bucket, key=lambda p: p[1])
        high = max(bucket, key=lambda p: p[1])
        reduced.extend(sorted({low, high}))
    return reduced


class _Frame:
    """Maps data to pixels inside the plot area and draws the axes."""

    def __init__(self, xs: Sequence[float], ys: Sequence[float], integer_x: bool) -> None:
        self.x0, self.x1 = _span(xs)
        self.y0, self.y1 = _span(ys)
        self.integer_x = integer_x
        self.left, self.top = _MARGIN_LEFT, _MARGIN_TOP
        self.width = WIDTH - _MARGIN_LEFT - _MARGIN_RIGHT
        self.height = HEIGHT - _MARGIN_TOP - _MARGIN_BOTTOM

    def px(self, x: float) -> float:
        return self.left + (x - self.x0) / (self.x1 - self.x0) * self.width

    def py(self, y: float) -> float:
        return self.top + (1 - (y - self.y0) / (self.y1 - self.y0)) * self.height

    def axes(self, x_label: str, y_label: str) -> list[str]:
        bottom, right = self.top + self.height, self.left + self.width
        parts = [
            f'<line x1="{self.left}" y1="{bottom}" x2="{right}" y2="{bottom}" '
            'stroke="currentColor" stroke-opacity="0.5"/>',
            f'<line x1="{self.left}" y1="{self.top}" x2="{self.left}" y2="{bottom}" '
            'stroke="currentColor" stroke-opacity="0.5"/>',
        ]
        for tick in nice_ticks(self.y0, self.y1):
            y = self.py(tick)
            parts.append(
                f'<line x1="{self.left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" '
                'stroke="currentColor" stroke-opacity="0.12"/>'
                f'<text x="{self.left - 4}" y="{y + 3:.1f}" text-anchor="end">{fmt(tick)}</text>'
            )
        x_ticks = nice_ticks(self.x0, self.x1, 6)
        if self.integer_x:
            x_ticks = [t for t in x_ticks if float(t).is_integer()]
        for tick in x_ticks:
            x = self.px(tick)
            parts.append(
                f'<line x1="{x:.1f}" y1="{bottom}" x2="{x:.1f}" y2="{bottom + 4}" '
                'stroke="currentColor" stroke-opacity="0.5"/>'
                f'<text x="{x:.1f}" y="{bottom + 15}" text-anchor="middle">{fmt(tick)}</text>'
            )
        if x_label:
            parts.append(
                f'<text x="{self.left + self.width / 2:.1f}" y="{HEIGHT - 4}" '
                f'text-anchor="middle">{escape(x_label)}</text>'
            )
        if y_label:
            parts.append(
                f'<text x="{self.left}" y="{self.top - 8}" text-anchor="middle">'
                f"{escape(y_label)}</text>"
            )
        return parts


def _svg(title: str, body: Sequence[str], *, kind: str, data_name: str) -> str:
    return (
        f'<svg class="runyard-{kind}" data-name="{escape(data_name)}" '
        f'xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        'style="font: 10px sans-serif; fill: currentColor; overflow: visible">'
        f"<title>{escape(title)}</title>"
        f'<text x="{WIDTH / 2:.0f}" y="12" text-anchor="middle" font-weight="bold">'
        f"{escape(title)}</text>" + "".join(body) + "</svg>"
    )


def _legend(series: Sequence[Series]) -> str:
    if len(series) < 2:
        return ""
    items = [
        f'<span style="margin-right: 10px; white-space: nowrap"><span style="display: '
        f"inline-block; width: 10px; height: 10px; background: {s.color or color(i)}; "
        f'margin-right: 3px"></span>{escape(s.label)}</span>'
        for i, s in enumerate(series[:_MAX_LEGEND])
    ]
    if len(series) > _MAX_LEGEND:
        items.append(f"<span>… and {len(series) - _MAX_LEGEND} more</span>")
    return f'<div class="runyard-legend" style="font-size: 11px">{"".join(items)}</div>'


def line_chart(
    title: str, series: Sequence[Series], *, x_label: str = "", y_label: str = ""
) -> str:
    """One chart of one or more series; non-finite values are left out.

    Returns:
        ``<div class="runyard-chart">`` holding the ``<svg>`` (one ``<polyline>`` per
        series with ``data-series``, dots for scatter series) and, for several series, a
        legend. A chart with no finite value says so instead.
    """
    cleaned = [
        Series(
            s.label,
            [(float(x), float(y)) for x, y in s.points if is_number(x) and is_number(y)],
            s.stepped,
            s.markers,
            s.color or color(i),
        )
        for i, s in enumerate(series)
    ]
    points = [p for s in cleaned for p in s.points]
    if not points:
        return (
            f'<div class="runyard-chart"><em>{escape(title)}: no numeric values to draw '
            "yet.</em></div>"
        )
    xs = [p[0] for p in points]
    frame = _Frame(xs, [p[1] for p in points], all(float(x).is_integer() for x in xs))
    body = frame.axes(x_label, y_label)
    for s in cleaned:
        body.extend(_draw(frame, s))
    svg = _svg(title, body, kind="chart-svg", data_name=title)
    return f'<div class="runyard-chart" style="display: inline-block">{svg}{_legend(cleaned)}</div>'


def _draw(frame: _Frame, series: Series) -> list[str]:
    pts = sorted(series.points)
    parts = []
    line = _reduce(pts)
    if series.stepped:
        line = [q for a, b in zip(line, line[1:], strict=False) for q in (a, (b[0], a[1]))]
        line += pts[-1:]
    if not series.markers or series.stepped:
        coords = " ".join(f"{frame.px(x):.1f},{frame.py(y):.1f}" for x, y in line)
        dash = ' stroke-dasharray="4 2"' if series.stepped else ""
        parts.append(
            f'<polyline data-series="{escape(series.label)}" fill="none" '
            f'stroke="{series.color}" stroke-width="1.5"{dash} points="{coords}"/>'
        )
    if (series.markers and not series.stepped) or len(pts) == 1:
        for x, y in pts[:_MAX_MARKERS]:
            parts.append(
                f'<circle data-series="{escape(series.label)}" cx="{frame.px(x):.1f}" '
                f'cy="{frame.py(y):.1f}" r="3" fill="{series.color}"><title>'
                f"{escape(series.label)}: {fmt(y)}</title></circle>"
            )
    return parts


def parallel_coordinates(
    title: str, axes: Sequence[str], rows: Sequence[tuple[str, Sequence[Any]]], goal: str
) -> str:
    """Hyperparameters against the metric: one vertical axis per name in ``axes`` (the
    metric last), one ``<polyline>`` per row crossing each axis at its value. Numeric axes
    are linear; others place their distinct values evenly. Rows are coloured from pale
    (worst metric) to strong (best), by ``goal`` ('maximize' or 'minimize')."""
    rows = [r for r in rows if len(r[1]) == len(axes) and is_number(r[1][-1])]
    if len(axes) < 2 or not rows:
        return ""
    scales = [_AxisScale([r[1][i] for r in rows]) for i in range(len(axes))]
    left, right = 40, WIDTH - 40
    top, bottom = _MARGIN_TOP + 8, HEIGHT - _MARGIN_BOTTOM
    step = (right - left) / (len(axes) - 1)
    body = []
    for i, (name, scale) in enumerate(zip(axes, scales, strict=True)):
        x = left + i * step
        body.append(
            f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{bottom}" stroke="currentColor" '
            f'stroke-opacity="0.5"/><text x="{x:.1f}" y="{bottom + 14}" text-anchor="middle">'
            f"{escape(name)}</text>"
        )
        for label, where in scale.labels():
            y = bottom - where * (bottom - top)
            body.append(
                f'<text x="{x - 3:.1f}" y="{y + 3:.1f}" text-anchor="end" '
                f'fill-opacity="0.7">{escape(label)}</text>'
            )
    metrics = [float(r[1][-1]) for r in rows]
    low, high = min(metrics), max(metrics)
    for label, values in sorted(rows, key=lambda r: _goodness(r[1][-1], low, high, goal)):
        good = _goodness(values[-1], low, high, goal)
        coords = " ".join(
            f"{left + i * step:.1f},{bottom - scale.where(v) * (bottom - top):.1f}"
            for i, (scale, v) in enumerate(zip(scales, values, strict=True))
        )
        body.append(
            f'<polyline data-series="{escape(label)}" fill="none" stroke="{_heat(good)}" '
            f'stroke-width="1.5" points="{coords}"><title>{escape(label)}: '
            f"{fmt(float(values[-1]))}</title></polyline>"
        )
    svg = _svg(title, body, kind="parallel-svg", data_name=title)
    best = "highest" if goal == "maximize" else "lowest"
    note = (
        f'<div style="font-size: 11px">Orange: the {best} {escape(axes[-1])}; pale blue: the '
        "other end.</div>"
    )
    return f'<div class="runyard-parallel" style="display: inline-block">{svg}{note}</div>'


class _AxisScale:
    def __init__(self, values: Sequence[Any]) -> None:
        self.numeric = all(is_number(v) for v in values)
        if self.numeric:
            self.low, self.high = _span([float(v) for v in values])
            self.categories: list[str] = []
        else:
            self.categories = sorted({str(v) for v in values})

    def where(self, value: Any) -> float:
        """0.05 (bottom) to 0.95 (top): lines at the extremes stay clear of the frame."""
        if self.numeric:
            share = (float(value) - self.low) / (self.high - self.low)
        elif len(self.categories) == 1:
            share = 0.5
        else:
            share = self.categories.index(str(value)) / (len(self.categories) - 1)
        return 0.05 + 0.9 * share

    def labels(self) -> list[tuple[str, float]]:
        if self.numeric:
            return [(fmt(t), self.where(t)) for t in nice_ticks(self.low, self.high, 4)]
        return [(c[:12], self.where(c)) for c in self.categories[:12]]


def _goodness(value: Any, low: float, high: float, goal: str) -> float:
    share = 0.5 if high == low else (float(value) - low) / (high - low)
    return share if goal == "maximize" else 1 - share


def _heat(good: float) -> str:
    """Pale blue (worst) to strong orange (best)."""
    hue = 210 - 185 * good
    return f"hsl({hue:.0f}, {45 + 45 * good:.0f}%, {62 - 17 * good:.0f}%)"
