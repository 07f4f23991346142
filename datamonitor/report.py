"""A self-contained HTML report of the KPIs, for people without Kibana.

One file. It opens on an overview: datasets, files, rows, open anomalies and
threshold breaches first, then a table of the datasets. Then a plot per numeric
KPI (matplotlib PNGs embedded as base64), grouped by family (``file``,
``column``, ``disk``...), with thresholds drawn, and a table of the latest value
of every KPI and subject.
"""

from __future__ import annotations

import base64
import html
import io
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from .errors import ConfigError
from .records import DocumentFields, dataset_key, read

__all__ = ["render"]

_MAX_SERIES = 8
_MAX_PLOTS = 40


def _subject(doc: DocumentFields) -> str:
    """The series a document belongs to: its dataset (file name, digits as #) and its subject."""
    parts = [re.sub(r"\d+", "#", str(doc.file_name))] if doc.file_name else []
    if doc.subject:
        parts.append(str(doc.subject))
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


class _Overview:
    """What the overview needs, gathered in the same pass over the documents."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[datetime, float]] = {}  # path -> its newest row count
        self.anomalies: dict[tuple[str, str], tuple[datetime, str]] = {}  # (dataset, series) -> newest line
        self.states: dict[tuple[str, str], tuple[datetime, str, str]] = {}  # newest notification per line

    def add(self, doc: DocumentFields, when: datetime) -> bool:
        """Note a document; True when it belongs to the overview only (an anomaly, a notification)."""
        labels, name = doc.labels, doc.name
        if name == "file.rows" and doc.file_path is not None and isinstance(doc.value, (int, float)):
            path = doc.file_path
            if path not in self.files or when >= self.files[path][0]:
                self.files[path] = (when, float(doc.value))
            return False
        if name == "anomaly":
            key = (str(labels.get("dataset_key", "")), "" if doc.subject is None else str(doc.subject))
            if key not in self.anomalies or when >= self.anomalies[key][0]:
                self.anomalies[key] = (when, "" if doc.message is None else str(doc.message))
            return True
        if name == "notification":
            key = (str(labels.get("kind", "threshold")), "" if doc.subject is None else str(doc.subject))
            if key not in self.states or when >= self.states[key][0]:
                self.states[key] = (when, str(labels.get("state", "")), "" if doc.message is None else str(doc.message))
            return True
        return False

    def html(self, latest: Mapping[tuple[str, str], tuple[datetime, Any, str | None]],
             thresholds: Mapping[str, float]) -> str:
        from .baseline import dataset_name

        datasets: dict[str, list[tuple[datetime, float, str]]] = defaultdict(list)
        for path, (when, rows) in self.files.items():
            datasets[dataset_key(path)].append((when, rows, path.replace("\\", "/").rsplit("/", 1)[-1]))
        # an anomaly is open while its series has not been reported back to normal since
        closed = {subject for (kind, subject), (_w, state, _m) in self.states.items()
                  if kind == "anomaly" and state == "ok"}
        open_items = sorted(((when, line, key) for (key, subject), (when, line) in self.anomalies.items()
                             if f"{dataset_name(key)} {subject}" not in closed), reverse=True)
        open_lines = [(when, line) for when, line, _key in open_items]
        per_dataset = Counter(key for _w, _l, key in open_items)
        breaches = sorted(((when, message) for (kind, _s), (when, state, message) in self.states.items()
                           if kind == "threshold" and state == "alert"), reverse=True)
        for (name, subject), (when, value, unit) in sorted(latest.items()):
            limit = thresholds.get(name)
            if isinstance(value, (int, float)) and limit is not None and value > limit:
                breaches.append((when, f"{name} on {subject} is {value:,.6g}{' ' + unit if unit else ''}, "
                                       f"above {limit:g}"))
        rows = sum(r for _w, r in self.files.values())
        cards = [("datasets", f"{len(datasets):,}", False), ("files", f"{len(self.files):,}", False),
                 ("rows", f"{rows:,.0f}", False), ("open anomalies", f"{len(open_lines):,}", bool(open_lines)),
                 ("threshold breaches", f"{len(breaches):,}", bool(breaches))]
        out = ['<h2>Overview</h2>\n<div class="cards">' + "".join(
            f'<div class="card{" bad" if bad else ""}"><b>{value}</b>{label}</div>' for label, value, bad in cards)
            + "</div>"]
        for title, items in (("Open anomalies", open_lines), ("Threshold breaches", breaches)):
            if items:
                shown = "".join(f"<li>{html.escape(line)}</li>" for _w, line in items[:50])
                more = f"<li>and {len(items) - 50:,} more</li>" if len(items) > 50 else ""
                out.append(f'<h3>{title}</h3>\n<ul class="alerts">{shown}{more}</ul>')
        if datasets:
            lines = []
            for key in sorted(datasets, key=lambda k: dataset_name(k)):
                files = sorted(datasets[key])
                when, rows_last, name = files[-1]
                n_open = per_dataset.get(key, 0)
                lines.append(f"<tr><td>{html.escape(dataset_name(key))}</td><td>{html.escape(key)}</td>"
                             f'<td class="num">{len(files):,}</td><td class="num">{sum(f[1] for f in files):,.0f}'
                             f"</td><td>{html.escape(name)}</td><td class=\"num\">{rows_last:,.0f}</td>"
                             f'<td class="num">{n_open:,}</td></tr>')
            out.append("<h3>Datasets</h3>\n<table><thead><tr><th>dataset</th><th>key</th><th>files</th><th>rows</th>"
                       "<th>newest file</th><th>its rows</th><th>open anomalies</th></tr></thead><tbody>\n"
                       + "\n".join(lines) + "\n</tbody></table>")
        return "\n".join(out)


def render(docs: Iterable[Mapping[str, Any]], *, thresholds: Mapping[str, float] | None = None,
           title: str = "datamonitor report", since: datetime | None = None) -> str:
    """The report as one HTML string, from KPI documents (as the store or Elasticsearch return them)."""
    thresholds = dict(thresholds or {})
    series: dict[str, dict[str, list[tuple[datetime, float]]]] = defaultdict(lambda: defaultdict(list))
    units: dict[str, str | None] = {}
    latest: dict[tuple[str, str], tuple[datetime, Any, str | None]] = {}
    count = 0
    overview = _Overview()
    for source in docs:
        doc = read(source)
        name = doc.name
        if not name:
            continue
        count += 1
        when = datetime.fromisoformat(doc.timestamp.replace("Z", "+00:00"))
        if overview.add(doc, when):
            continue  # anomalies and notifications are in the overview, not plotted
        subject = _subject(doc)
        value = doc.text if doc.value is None else doc.value
        if isinstance(doc.value, (int, float)):
            series[name][subject].append((when, float(doc.value)))
            units.setdefault(name, doc.unit)
        key = (name, subject)
        if key not in latest or when > latest[key][0]:
            latest[key] = (when, value, doc.unit)

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
.cards {{ display: flex; gap: 1em; margin: 1em 0 1.5em 0; }}
.card {{ border: 1px solid #ddd; border-radius: 6px; padding: 0.6em 1em; min-width: 8em; }}
.card b {{ display: block; font-size: 1.6em; }} .card.bad {{ border-color: #d62728; background: #fde8e6; }}
ul.alerts li {{ margin: 0.2em 0; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<div class="meta">{count:,} documents, {window}; generated {generated:%Y-%m-%d %H:%M}Z</div>
{overview.html(latest, thresholds)}
{''.join(sections) or '<p>No numeric KPIs in this window.</p>'}
<h2>Latest values</h2>
<table><thead><tr><th>KPI</th><th>subject</th><th>value</th><th>unit</th><th>time</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table>
</body></html>
"""
