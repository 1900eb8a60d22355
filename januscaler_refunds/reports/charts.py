"""Server-side SVG charts for the dashboard: no JavaScript, no CDN, numbers always beside them.

Each function returns SVG markup (escaped) for a small, fixed palette that works on unfold's light
and dark backgrounds. Every chart on the page also has its table and a CSV download.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from html import escape

from django.utils.safestring import SafeString, mark_safe

PALETTE = ("#6366f1", "#22c55e", "#ef4444", "#f59e0b", "#94a3b8", "#06b6d4")
Number = int | float | Decimal


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return float(step * magnitude)
    return float(value)


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:,.1f}"


def grouped_bars(
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[Number]]],
    *,
    title: str,
    stacked: bool = False,
    width: int = 640,
    height: int = 240,
) -> SafeString:
    """Vertical bars: one group per category, one bar (or stack segment) per series."""
    right, top, bottom = 8, 28, 36
    n = max(1, len(categories))
    if stacked:
        peak = max((sum(float(s[1][i]) for s in series) for i in range(len(categories))), default=0.0)
    else:
        peak = max((float(v) for _, values in series for v in values), default=0.0)
    top_value = _nice_max(peak)
    # Room for the widest axis label ("1,000,000" for INR amounts), not a fixed 44 px.
    left = max(44, 14 + 7 * len(_fmt(top_value)))
    plot_w, plot_h = width - left - right, height - top - bottom
    group_w = plot_w / n
    bar_w = group_w * 0.8 / (1 if stacked else max(1, len(series)))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'class="report-chart" aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    for i in range(5):  # grid lines and axis labels
        value = top_value * i / 4
        y = top + plot_h - plot_h * i / 4
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="axis">{_fmt(value)}</text>')
    for ci, category in enumerate(categories):
        x0 = left + ci * group_w + group_w * 0.1
        base = 0.0
        for si, (name, values) in enumerate(series):
            value = float(values[ci])
            h = plot_h * value / top_value
            x = x0 if stacked else x0 + si * bar_w
            y = top + plot_h - h - (plot_h * base / top_value if stacked else 0)
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(bar_w - 1, 1):.1f}" height="{h:.1f}" '
                f'fill="{PALETTE[si % len(PALETTE)]}"><title>{escape(category)} · {escape(name)}: '
                f"{escape(_fmt(value))}</title></rect>"
            )
            if stacked:
                base += value
        parts.append(
            f'<text x="{left + ci * group_w + group_w / 2:.1f}" y="{height - bottom + 16}" '
            f'text-anchor="middle" class="axis">{escape(category)}</text>'
        )
    x = left
    for si, (name, _) in enumerate(series):  # legend
        parts.append(f'<rect x="{x}" y="6" width="10" height="10" fill="{PALETTE[si % len(PALETTE)]}"/>')
        parts.append(f'<text x="{x + 14}" y="15" class="legend">{escape(name)}</text>')
        x += 22 + 7 * len(name)
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text node above is escaped


def horizontal_bars(
    items: Sequence[tuple[str, Number]], *, title: str, width: int = 640, bar_h: int = 22, colour: str = PALETTE[0]
) -> SafeString:
    """One labelled horizontal bar per item, longest first as given."""
    label_w, right, gap = 220, 60, 6
    height = max(1, len(items)) * (bar_h + gap) + 8
    peak = max((float(v) for _, v in items), default=0.0) or 1.0
    plot_w = width - label_w - right
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'class="report-chart" aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    for i, (label, value) in enumerate(items):
        y = 4 + i * (bar_h + gap)
        w = plot_w * float(value) / peak
        parts.append(
            f'<text x="{label_w - 8}" y="{y + bar_h * 0.7:.1f}" text-anchor="end" class="axis">{escape(label)}</text>'
        )
        parts.append(f'<rect x="{label_w}" y="{y}" width="{max(w, 1):.1f}" height="{bar_h}" rx="3" fill="{colour}"/>')
        parts.append(f'<text x="{label_w + w + 6:.1f}" y="{y + bar_h * 0.7:.1f}" class="value">{escape(_fmt(float(value)))}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text node above is escaped
