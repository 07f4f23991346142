"""The report's pictures: trend plots (matplotlib PNGs) with the expected band, and quantile strips (inline SVG).

Values are shown in human units: bytes in KiB/MiB/GiB, seconds as durations,
ratios as percentages. A series needs two points in time to be drawn; one
point is said in words by the caller, never drawn on an axis of four years.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from typing import Any

from .errors import ConfigError
from .report_data import Obs

__all__ = ["drawable", "fmt", "quantile_strip", "trend_png"]

_BYTES = (("TiB", 1024.0 ** 4), ("GiB", 1024.0 ** 3), ("MiB", 1024.0 ** 2), ("KiB", 1024.0))
_DURATIONS = (("d", 86400.0), ("h", 3600.0), ("min", 60.0), ("s", 1.0), ("ms", 1e-3))
_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#17becf")


def _num(value: float) -> str:
    if value != value:  # NaN
        return "-"
    if abs(value) < 10_000:  # no separator under ten thousand: a year reads 2013, not 2,013
        return f"{int(value)}" if float(value).is_integer() else f"{value:.4g}"
    return f"{value:,.0f}"


def fmt(value: float, unit: str | None) -> str:
    """``1.2 GiB``, ``3.4 min``, ``12.5%``, ``1,234 rows``: a value as people read it."""
    if unit == "bytes":
        for name, size in _BYTES:
            if abs(value) >= size:
                return f"{value / size:,.3g} {name}"
        return f"{value:,.0f} B"
    if unit == "s":
        for name, size in _DURATIONS:
            if abs(value) >= size or name == "ms":
                return f"{value / size:,.3g} {name}"
    if unit == "ratio":
        return f"{value * 100:,.3g}%"
    if unit == "percent":
        return f"{value:,.3g}%"
    shown = _num(value)
    return f"{shown} {unit}" if unit and unit not in ("values", "rows", "columns") else shown


def drawable(points: Sequence[Obs]) -> bool:
    """Two distinct points in time at least: anything less is said in words, not drawn."""
    return len({p.when for p in points}) >= 2


def trend_png(title: str, lines: Sequence[tuple[str, Sequence[Obs]]], unit: str | None,
              threshold: float | None = None) -> str:
    """A trend plot as base64 PNG: each line with its points; a single line also gets its expected band and
    its anomalies (points outside the band) in red."""
    try:
        import matplotlib
    except ImportError:
        raise ConfigError("the report needs matplotlib: pip install 'datamonitor[report]'") from None
    matplotlib.use("Agg", force=True)
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    fig, ax = plt.subplots(figsize=(5.4, 2.5), dpi=90)
    try:
        for i, (label, points) in enumerate(lines):
            xs: list[Any] = [p.when for p in points]
            ys = [p.value for p in points]
            color = _COLORS[i % len(_COLORS)]
            ax.plot(xs, ys, color=color, linewidth=1.4, marker="o" if len(points) <= 40 else None, markersize=2.5,
                    label=label or "value", zorder=3)
            if len(lines) == 1:
                _band(ax, points)
        if threshold is not None:
            ax.axhline(threshold, color="#d62728", linestyle="--", linewidth=1.2, label=f"threshold {fmt(threshold, unit)}")
        ax.set_title(title, fontsize=10, loc="left")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: fmt(v, unit)))
        ax.grid(True, alpha=0.3)
        locator = mdates.AutoDateLocator(minticks=3, maxticks=7)  # type: ignore[no-untyped-call]
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, show_offset=False))  # type: ignore[no-untyped-call]
        ax.tick_params(labelsize=8)
        if len(lines) > 1 or threshold is not None or any(p.upper is not None for _l, pts in lines for p in pts):
            ax.legend(fontsize=7, loc="best", frameon=False)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
    finally:
        plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _band(ax: object, points: Sequence[Obs]) -> None:
    if any(p.lower is not None and p.upper is not None for p in points):
        nan = float("nan")  # an observation without a baseline (not enough history yet) leaves a gap
        xs = [p.when for p in points]
        ax.fill_between(xs, [nan if p.lower is None else p.lower for p in points],  # type: ignore[attr-defined]
                        [nan if p.upper is None else p.upper for p in points],
                        color="#54B399", alpha=0.22, label="expected band", zorder=1)
        ax.plot(xs, [nan if p.expected is None else p.expected for p in points],  # type: ignore[attr-defined]
                color="#54B399", linewidth=1, linestyle=":", zorder=2)
    bad = [p for p in points if p.outside]
    if bad:
        ax.scatter([p.when for p in bad], [p.value for p in bad], s=36, facecolors="none",  # type: ignore[attr-defined]
                   edgecolors="#d62728", linewidths=1.6, zorder=4, label="anomaly")


def quantile_strip(stats: dict[str, float], unit: str | None, *, width: int = 220) -> str:
    """An inline SVG strip: min to max as a line, p50 to p95 as a box, p99 and the mean as ticks."""
    lo, hi = stats.get("min"), stats.get("max")
    if lo is None or hi is None or hi <= lo:
        return ""

    def x(v: float) -> float:
        return 6 + (width - 12) * (min(max(v, lo), hi) - lo) / (hi - lo)

    parts = [f'<line x1="6" y1="12" x2="{width - 6}" y2="12" stroke="#999" stroke-width="1"/>']
    if "p50" in stats and "p95" in stats:
        a, b = x(stats["p50"]), x(stats["p95"])
        parts.append(f'<rect x="{a:.1f}" y="6" width="{max(b - a, 1.5):.1f}" height="12" fill="#6092C0" '
                     f'fill-opacity="0.55"/>')
    for key, color in (("p50", "#1f4e79"), ("p99", "#d6a300"), ("mean", "#d62728")):
        if key in stats:
            xx = x(stats[key])
            parts.append(f'<line x1="{xx:.1f}" y1="3" x2="{xx:.1f}" y2="21" stroke="{color}" stroke-width="2"/>')
    title = ", ".join(f"{k} {fmt(v, unit)}" for k, v in stats.items())
    return (f'<svg class="strip" width="{width}" height="24" role="img" aria-label="{html.escape(title)}">'
            f"<title>{html.escape(title)}</title>{''.join(parts)}</svg>")
