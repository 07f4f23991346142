"""The report's column cards: one per column of a dataset's newest file.

A card shows the column's type, nulls, distinct values, its range (dates for a
date or time column, text lengths for a string column), mean and quantiles, a
quantile strip, and the KPIs of this file that left their expected band.
"""

from __future__ import annotations

import html
from datetime import datetime

from .report_data import Dataset, Obs
from .report_plots import fmt, quantile_strip

__all__ = ["column_cards"]


def _when(text: str | None) -> str:
    if not text:
        return "-"
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return text[:20]
    return f"{when:%Y-%m-%d}" if (when.hour, when.minute, when.second) == (0, 0, 0) else f"{when:%Y-%m-%d %H:%M}"


def _range(kpis: dict[str, tuple[float | None, str | None]], ctype: str) -> str:
    lo, hi = kpis.get("column.min", (None, None)), kpis.get("column.max", (None, None))
    if ctype in ("date", "datetime"):
        return f"{_when(lo[1])} to {_when(hi[1])}"
    if ctype == "string":
        short, long_ = kpis.get("column.min_length", (None, None))[0], kpis.get("column.max_length", (None, None))[0]
        if short is not None and long_ is not None:
            return f"{short:,.0f}\u2013{long_:,.0f} chars"
        return "-"
    if lo[0] is None or hi[0] is None:
        return "-"
    return f"{fmt(lo[0], None)} to {fmt(hi[0], None)}"


def _outside(ds: Dataset, path: str, column: str) -> list[tuple[str, Obs]]:
    out = []
    for (name, subject, _tags), points in ds.series.items():
        if subject == column:
            out += [(name, p) for p in points if p.file == path and p.outside]
    return out


def _card(ds: Dataset, path: str, column: str, kpis: dict[str, tuple[float | None, str | None]], rows: float) -> str:
    ctype = kpis.get("column.type", (None, "?"))[1] or "?"
    nulls_ratio = kpis.get("column.null_ratio", (None, None))[0]
    nulls = kpis.get("column.nulls", (None, None))[0]
    distinct = kpis.get("column.distinct", (None, None))[0]
    items = [("nulls", "-" if nulls_ratio is None else f"{fmt(nulls_ratio, 'ratio')}"
              + ("" if nulls is None else f" ({nulls:,.0f})")),
             ("distinct", "-" if distinct is None else f"{distinct:,.0f}"
              + (" (all)" if rows and distinct == rows else "")),
             ("range", _range(kpis, ctype))]
    numeric = ctype in ("integer", "float", "decimal") and "column.mean" in kpis
    strip = ""
    if numeric:
        stats = {k.split(".", 1)[1]: v for k, (v, _t) in kpis.items()
                 if k in ("column.min", "column.p50", "column.p95", "column.p99", "column.max", "column.mean")
                 and v is not None}
        for key in ("mean", "p50", "p95"):
            if key in stats:
                items.append((key, fmt(stats[key], None)))
        strip = quantile_strip(stats, None)
    notes = "".join(f'<div class="note">{html.escape(name.split(".", 1)[1].replace("_", " "))} '
                    f"{html.escape(fmt(p.value, p.unit))}, expected {html.escape(fmt(p.lower or 0.0, p.unit))}"
                    f"\u2013{html.escape(fmt(p.upper or 0.0, p.unit))}</div>"
                    for name, p in _outside(ds, path, column))
    body = "".join(f"<dt>{k}</dt><dd>{html.escape(v)}</dd>" for k, v in items)
    return (f'<div class="col{" bad" if notes else ""}"><h4>{html.escape(column)} '
            f'<span class="type">{html.escape(ctype)}</span></h4><dl>{body}</dl>{strip}{notes}</div>')


def column_cards(ds: Dataset, path: str) -> str:
    """The cards of the columns of one file of the dataset, in the file's column order."""
    columns = ds.columns.get(path, {})
    if not columns:
        return "<p>No column KPIs for this file.</p>"
    rows = ds.rows.get(path, 0.0)
    legend = ('<div class="meta">The strip: minimum to maximum; the box from the median (dark) to p95; '
              "p99 in yellow, the mean in red.</div>")
    return legend + '<div class="cols">' + "".join(
        _card(ds, path, column, kpis, rows) for column, kpis in columns.items()) + "</div>"
