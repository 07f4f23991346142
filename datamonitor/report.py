"""A self-contained HTML report of the KPIs, for people without Kibana.

One file, no scripts. It opens on an overview: datasets, files, rows, open
anomalies and threshold breaches first, then a table of the datasets. Then one
section per dataset: trend plots of its files (rows, size, bad rows, measuring
time, and the column KPIs that left their band) with the expected band drawn
and anomalies circled, and a card per column of its newest file (type, nulls,
distinct, range, a quantile strip). Disks, UDP listeners and the other KPIs
come after. Values that are points in time (a time column's min and max, a
file's modification time) are shown as dates, never plotted as numbers.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .records import DocumentFields
from .report_data import Dataset, Gathered, Obs, SeriesKey, gather
from .report_plots import drawable, fmt, trend_png

__all__ = ["render"]

#: plots drawn in one report at most; the datasets come in name order, so the last ones lose theirs first
MAX_PLOTS = 150
#: column KPIs drawn per dataset, the ones whose newest values left their band most
_MAX_COLUMN_PLOTS = 6
#: lines on one plot of the other KPIs
_MAX_LINES = 8
#: the dataset KPIs drawn first, with their titles
_FILE_PLOTS = (("file.rows", "Rows per file"), ("file.size", "File size"), ("file.bad_rows", "Bad rows per file"),
               ("file.columns", "Columns per file"), ("file.schema_drift", "Schema drift (columns)"),
               ("file.parse_seconds", "Measuring time"))


@dataclass
class _Budget:
    """Plots left to draw: each takes a fraction of a second, and a page of hundreds helps no one."""

    left: int = MAX_PLOTS
    skipped: int = 0


def _figure(budget: _Budget, title: str, lines: Sequence[tuple[str, Sequence[Obs]]], unit: str | None,
            threshold: float | None = None) -> str:
    points = [p for _label, pts in lines for p in pts]
    if not drawable(points):
        if not points:
            return ""
        p = points[-1]
        return (f'<div class="single"><b>{html.escape(title)}</b>: {html.escape(fmt(p.value, unit))} on '
                f"{p.when:%Y-%m-%d}, the only point so far</div>")
    if budget.left <= 0:
        budget.skipped += 1
        return ""
    budget.left -= 1
    png = trend_png(title, lines, unit, threshold)
    return f'<figure><img alt="{html.escape(title)}" src="data:image/png;base64,{png}"></figure>'


# ------------------------------------------------------------------ overview

def _newest(records: Iterable[tuple[datetime, DocumentFields]], key: Any) -> dict[Any, tuple[datetime, DocumentFields]]:
    out: dict[Any, tuple[datetime, DocumentFields]] = {}
    for when, r in records:
        k = key(r)
        if k not in out or when >= out[k][0]:
            out[k] = (when, r)
    return out


def _overview(g: Gathered, thresholds: Mapping[str, float]) -> tuple[str, Counter[str]]:
    from .baseline import dataset_name

    anomalies = _newest((wr for wr in g.records if wr[1].name == "anomaly"),
                        lambda r: (str(r.labels.get("dataset_key", "")), r.subject or ""))
    states = _newest((wr for wr in g.records if wr[1].name == "notification"),
                     lambda r: (str(r.labels.get("kind", "threshold")), r.subject or ""))
    # an anomaly is open while its series has not been reported back to normal since
    closed = {subject for (kind, subject), (_w, r) in states.items()
              if kind == "anomaly" and r.labels.get("state") == "ok"}
    open_items = sorted(((when, r.message or "", key) for (key, subject), (when, r) in anomalies.items()
                         if f"{dataset_name(key)} {subject}" not in closed), reverse=True)
    per_dataset = Counter(key for _w, _l, key in open_items)
    breaches = sorted(((when, r.message or "") for (kind, _s), (when, r) in states.items()
                       if kind == "threshold" and r.labels.get("state") == "alert"), reverse=True)
    for (name, subject), (when, value, unit) in sorted(g.latest.items()):
        limit = thresholds.get(name)
        if isinstance(value, (int, float)) and limit is not None and value > limit:
            breaches.append((when, f"{name} on {subject} is {value:,.6g}{' ' + unit if unit else ''}, "
                                   f"above {limit:g}"))
    datasets = [ds for ds in g.datasets.values() if ds.files]
    files = sum(len(ds.files) for ds in datasets)
    rows = sum(sum(ds.rows.values()) for ds in datasets)
    cards = [("datasets", f"{len(datasets):,}", False), ("files", f"{files:,}", False), ("rows", f"{rows:,.0f}", False),
             ("open anomalies", f"{len(open_items):,}", bool(open_items)),
             ("threshold breaches", f"{len(breaches):,}", bool(breaches))]
    out = ['<h2 id="overview">Overview</h2>\n<div class="cards">' + "".join(
        f'<div class="card{" bad" if bad else ""}"><b>{value}</b>{label}</div>' for label, value, bad in cards)
        + "</div>"]
    for title, items in (("Open anomalies", [(w, line) for w, line, _k in open_items]), ("Threshold breaches", breaches)):
        if items:
            shown = "".join(f"<li>{html.escape(line)}</li>" for _w, line in items[:50])
            more = f"<li>and {len(items) - 50:,} more</li>" if len(items) > 50 else ""
            out.append(f'<h3>{title}</h3>\n<ul class="alerts">{shown}{more}</ul>')
    if datasets:
        lines = []
        for ds in sorted(datasets, key=lambda d: (d.name, d.key)):
            newest = ds.newest()
            assert newest is not None
            lines.append(f'<tr><td><a href="#ds-{_anchor(ds.key)}">{html.escape(ds.name)}</a></td>'
                         f"<td>{html.escape(ds.key)}</td>"
                         f'<td class="num">{len(ds.files):,}</td><td class="num">{sum(ds.rows.values()):,.0f}'
                         f"</td><td>{html.escape(_base(newest))}</td><td class=\"num\">{ds.rows.get(newest, 0):,.0f}"
                         f'</td><td class="num">{per_dataset.get(ds.key, 0):,}</td></tr>')
        out.append("<h3>Datasets</h3>\n<table><thead><tr><th>dataset</th><th>key</th><th>files</th><th>rows</th>"
                   "<th>newest file</th><th>its rows</th><th>open anomalies</th></tr></thead><tbody>\n"
                   + "\n".join(lines) + "\n</tbody></table>")
    return "\n".join(out), per_dataset


def _base(path: str) -> str:
    return path.replace("\\", "/").rsplit("/", 1)[-1]


def _anchor(key: str) -> str:
    return re.sub(r"[^0-9A-Za-z]+", "-", key).strip("-")


# ------------------------------------------------------------------ datasets

def _dataset_html(ds: Dataset, thresholds: Mapping[str, float], n_open: int, budget: _Budget) -> str:
    from .report_cards import column_cards

    newest = ds.newest()
    assert newest is not None
    dates = sorted(ds.files.values())
    head = (f'<h2 id="ds-{_anchor(ds.key)}">{html.escape(ds.name)}</h2>\n<div class="meta">'
            f"{html.escape(ds.key)}: {len(ds.files):,} files from {dates[0]:%Y-%m-%d} to {dates[-1]:%Y-%m-%d}, "
            f"{sum(ds.rows.values()):,.0f} rows; {n_open:,} open anomalies</div>")
    figures = []
    for name, title in _FILE_PLOTS:
        points = ds.series.get((name, "", ()), [])
        if name in ("file.bad_rows", "file.schema_drift", "file.columns") and len({p.value for p in points}) <= 1:
            continue  # no bad rows, no drift, the same columns every time: nothing to see
        unit = points[0].unit if points else None
        figures.append(_figure(budget, title, [("", points)], unit, thresholds.get(name)))
    for (name, subject, _tags), points in _columns_to_plot(ds):
        figures.append(_figure(budget, f"{subject}: {name.split('.', 1)[1].replace('_', ' ')}", [("", points)],
                               points[0].unit, thresholds.get(name)))
    events = sorted(ds.anomalies, key=lambda e: (e[0], e[2]), reverse=True)
    listed = "".join(f"<li>{html.escape(line)}</li>" for _w, _k, line in events[:20])
    more = f"<li>and {len(events) - 20:,} more</li>" if len(events) > 20 else ""
    anomalies = f'<h3>Anomalies</h3>\n<ul class="alerts">{listed}{more}</ul>' if events else ""
    return (f'<section class="dataset">{head}\n<div class="grid">{"".join(f for f in figures if f)}</div>\n'
            f'{anomalies}\n<h3 id="cols-{_anchor(ds.key)}">Columns of {html.escape(_base(newest))}</h3>\n'
            f"{column_cards(ds, newest)}</section>")


def _columns_to_plot(ds: Dataset) -> list[tuple[SeriesKey, list[Obs]]]:
    """The column series with observations outside their band: for each KPI the one with the most first, then the
    next (a count, not the largest score: a history that never varied scores any change a million)."""
    by_kpi: dict[str, list[tuple[float, SeriesKey, list[Obs]]]] = {}
    for key, points in ds.series.items():
        if key[0].startswith("column."):
            outside = sum(1 for p in points if p.outside)
            if outside:
                by_kpi.setdefault(key[0], []).append((-outside, key, points))
    ranked = []
    for items in by_kpi.values():
        items.sort(key=lambda t: (t[0], t[1]))
        ranked += [(i, worst, key, points) for i, (worst, key, points) in enumerate(items)]
    ranked.sort(key=lambda t: (t[0], t[1], t[2]))
    return [(key, points) for _i, _w, key, points in ranked[:_MAX_COLUMN_PLOTS]]


# ------------------------------------------------------------------ disks, UDP, the rest

def _section_html(title: str, series: Mapping[SeriesKey, list[Obs]], thresholds: Mapping[str, float],
                  budget: _Budget) -> str:
    by_name: dict[str, list[tuple[SeriesKey, list[Obs]]]] = {}
    for key, points in sorted(series.items()):
        by_name.setdefault(key[0], []).append((key, points))
    figures, rows = [], []
    for name, items in by_name.items():
        lines = [(_label(key), pts) for key, pts in items[:_MAX_LINES]]
        if drawable([p for _l, pts in lines for p in pts]):  # a single value is in the table below
            figures.append(_figure(budget, name, lines, items[0][1][0].unit, thresholds.get(name)))
        for key, pts in items:
            last = pts[-1]
            over = name in thresholds and last.value > thresholds[name]
            rows.append(f'<tr{" class=over" if over else ""}><td>{html.escape(name)}</td>'
                        f"<td>{html.escape(_label(key))}</td><td class=\"num\">{html.escape(fmt(last.value, last.unit))}"
                        f"</td><td>{last.when:%Y-%m-%d %H:%M}Z</td></tr>")
    table = ("<table><thead><tr><th>KPI</th><th>series</th><th>latest</th><th>time</th></tr></thead><tbody>"
             + "".join(rows) + "</tbody></table>")
    return f'<h2>{html.escape(title)}</h2>\n<div class="grid">{"".join(f for f in figures if f)}</div>\n{table}'


def _label(key: SeriesKey) -> str:
    _name, subject, tags = key
    tag_text = ",".join(f"{k}={v}" for k, v in tags)
    return " ".join(part for part in (subject, f"{{{tag_text}}}" if tags else "") if part) or "(no subject, no tags)"


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1180px; color: #222; padding: 0 1em; }
h1 { margin-bottom: 0.2em; } .meta { color: #666; margin-bottom: 1em; }
h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 1.6em; }
figure { margin: 0; } img { max-width: 100%; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(480px, 1fr)); gap: 0.6em 1em; }
table { border-collapse: collapse; width: 100%; font-size: 0.9em; }
td, th { border-bottom: 1px solid #eee; padding: 0.3em 0.6em; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; } tr.over td { background: #fde8e6; }
.cards { display: flex; flex-wrap: wrap; gap: 1em; margin: 1em 0 1.5em 0; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: 0.6em 1em; min-width: 8em; }
.card b { display: block; font-size: 1.6em; } .card.bad { border-color: #d62728; background: #fde8e6; }
ul.alerts li { margin: 0.2em 0; } .single { padding: 1em; color: #444; }
.cols { display: grid; grid-template-columns: repeat(auto-fill, minmax(250px, 1fr)); gap: 0.6em; }
.col { border: 1px solid #ddd; border-radius: 6px; padding: 0.5em 0.7em; font-size: 0.85em; }
.col.bad { border-color: #d62728; } .col h4 { margin: 0 0 0.3em 0; font-size: 1.05em; }
.col .type { color: #666; font-weight: normal; } .col dl { display: grid; grid-template-columns: auto 1fr;
  gap: 0 0.6em; margin: 0.2em 0; } .col dt { color: #666; } .col dd { margin: 0; text-align: right; }
.col .note { color: #d62728; margin-top: 0.3em; }
"""


def render(docs: Iterable[Mapping[str, Any]], *, thresholds: Mapping[str, float] | None = None,
           title: str = "datamonitor report", since: datetime | None = None) -> str:
    """The report as one HTML string, from KPI documents (as the store or Elasticsearch return them)."""
    thresholds = dict(thresholds or {})
    g = gather(docs)
    overview, per_dataset = _overview(g, thresholds)
    budget = _Budget(MAX_PLOTS)
    parts = [_dataset_html(ds, thresholds, per_dataset.get(ds.key, 0), budget)
             for ds in sorted(g.datasets.values(), key=lambda d: (d.name, d.key)) if ds.files]
    for section, heading in (("disk", "Disks"), ("udp", "UDP listeners"), ("other", "Other KPIs")):
        if g.sections.get(section):
            parts.append(_section_html(heading, g.sections[section], thresholds, budget))
    generated = datetime.now(timezone.utc)
    window = f"since {since:%Y-%m-%d %H:%M}Z" if since else "all time"
    skipped = f", {g.skipped:,} unreadable left out" if g.skipped else ""
    if budget.skipped:
        skipped += f"; {budget.skipped:,} plots not drawn (at most {MAX_PLOTS:,} in one report)"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{_STYLE}</style></head><body>
<h1>{html.escape(title)}</h1>
<div class="meta">{g.count:,} documents{skipped}, {window}; generated {generated:%Y-%m-%d %H:%M}Z</div>
{overview}
{''.join(parts) or '<p>No numeric KPIs in this window.</p>'}
</body></html>
"""
