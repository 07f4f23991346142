"""A self-contained HTML report of the KPIs, for people without Kibana.

One file: a plot per numeric KPI (matplotlib PNGs embedded as base64), grouped
by family (``file``, ``column``, ``disk``...), with thresholds drawn, and a
table of the latest value of every KPI and subject.
"""

from __future__ import annotations

import base64
import html
import io
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from .errors import ConfigError

__all__ = ["render"]

_MAX_SERIES = 8
_MAX_PLOTS = 40


def _when(doc: Mapping[str, Any]) -> datetime:
    return datetime.fromisoformat(str(doc["@timestamp"]).replace("Z", "+00:00"))


def _subject(doc: Mapping[str, Any]) -> str:
    """The series a document belongs to: its dataset (file name, digits as #) and its subject."""
    kpi = doc.get("kpi", {})
    parts = [re.sub(r"\d+", "#", str(doc["file"]["name"]))] if "file" in doc and doc["file"].get("name") else []
    if kpi.get("subject"):
        parts.append(str(kpi["subject"]))
    return " / ".join(parts) or "-"


def _plot(name: str, series: dict[str, list[tuple[datetime, float]]], unit: str | None,
          threshold: float | None) -> str:
    try:
        import matplotlib
    except ImportError:
        raise ConfigError("the report needs matplotlib: pip install 'datamonitor[report]'") from None

    matplotlib.use("Agg", force=True)
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 3.2), dpi=100)
    try:
        # the series that reach highest first: for a null ratio, the worst columns
        ranked = sorted(series.items(), key=lambda kv: (-max(v for _t, v in kv[1]), kv[0]))[:_MAX_SERIES]
        for subject, points in ranked:
            points.sort()
            xs = mdates.date2num([p[0] for p in points])  # type: ignore[no-untyped-call]
            ys = [p[1] for p in points]
            ax.plot(xs, ys, marker="o" if len(points) < 30 else None, markersize=3, linewidth=1.5, label=subject)
        if threshold is not None:
            ax.axhline(threshold, color="#d62728", linestyle="--", linewidth=1.5, label=f"threshold {threshold:g}")
        ax.set_title(name, fontsize=11, loc="left")
        ax.set_ylabel(unit or "value")
        ax.grid(True, alpha=0.3)
        ax.xaxis_date()
        locator = mdates.AutoDateLocator()  # type: ignore[no-untyped-call]
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
        if len(ranked) > 1 or threshold is not None:
            ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
    finally:
        plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def render(docs: Iterable[Mapping[str, Any]], *, thresholds: Mapping[str, float] | None = None,
           title: str = "datamonitor report", since: datetime | None = None) -> str:
    """The report as one HTML string, from KPI documents (as the store or Elasticsearch return them)."""
    thresholds = dict(thresholds or {})
    series: dict[str, dict[str, list[tuple[datetime, float]]]] = defaultdict(lambda: defaultdict(list))
    units: dict[str, str | None] = {}
    latest: dict[tuple[str, str], tuple[datetime, Any, str | None]] = {}
    count = 0
    for doc in docs:
        kpi = doc.get("kpi", {})
        name = kpi.get("name")
        if not name:
            continue
        count += 1
        when, subject = _when(doc), _subject(doc)
        value = kpi.get("value", kpi.get("text"))
        if isinstance(kpi.get("value"), (int, float)):
            series[name][subject].append((when, float(kpi["value"])))
            units.setdefault(name, kpi.get("unit"))
        key = (name, subject)
        if key not in latest or when > latest[key][0]:
            latest[key] = (when, value, kpi.get("unit"))

    families: dict[str, list[str]] = defaultdict(list)
    for name in sorted(series):
        families[name.split(".", 1)[0]].append(name)
    sections, plotted = [], 0
    for family in sorted(families):
        figures = []
        for name in families[family]:
            if plotted >= _MAX_PLOTS:
                break
            png = _plot(name, series[name], units.get(name), thresholds.get(name))
            plotted += 1
            figures.append(f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,{png}"></figure>')
        if figures:
            sections.append(f"<h2>{html.escape(family)}</h2>\n" + "\n".join(figures))

    rows = []
    for (name, subject), (when, value, unit) in sorted(latest.items()):
        shown = f"{value:,.6g}" if isinstance(value, (int, float)) else html.escape(str(value)[:80])
        limit = thresholds.get(name)
        over = isinstance(value, (int, float)) and limit is not None and value > limit
        row_class = ' class="over"' if over else ""
        rows.append(f"<tr{row_class}><td>{html.escape(name)}</td>"
                    f"<td>{html.escape(subject)}</td><td class=\"num\">{shown}</td>"
                    f"<td>{html.escape(unit or '')}</td><td>{when:%Y-%m-%d %H:%M:%S}Z</td></tr>")
    generated = datetime.now(timezone.utc)
    window = f"since {since:%Y-%m-%d %H:%M}Z" if since else "all time"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }}
h1 {{ margin-bottom: 0.2em; }} .meta {{ color: #666; margin-bottom: 2em; }}
h2 {{ border-bottom: 1px solid #ddd; padding-bottom: 0.2em; text-transform: capitalize; }}
figure {{ margin: 0 0 1.5em 0; }} img {{ max-width: 100%; }}
table {{ border-collapse: collapse; width: 100%; font-size: 0.9em; }}
td, th {{ border-bottom: 1px solid #eee; padding: 0.3em 0.6em; text-align: left; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }} tr.over td {{ background: #fde8e6; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<div class="meta">{count:,} documents, {window}; generated {generated:%Y-%m-%d %H:%M}Z</div>
{''.join(sections) or '<p>No numeric KPIs in this window.</p>'}
<h2>Latest values</h2>
<table><thead><tr><th>KPI</th><th>subject</th><th>value</th><th>unit</th><th>time</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table>
</body></html>
"""
