"""``datamonitor show FILE|DATASET``: one file or dataset at a glance, in the terminal or as JSON.

A FILE is measured now (nothing is stored). A DATASET is named by its key
(``/in/flights_#-#-#.csv``) or its name (``flights``), and shown from its
newest file in the store. Either way the summary holds one line per column
(type, null %, distinct, min, max, mean, p50, p95), the bad rows with their
line numbers, the dataset's recent rows per file, and its open anomalies.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .baseline import dataset_name
from .errors import SourceError
from .notify import human
from .profiling import ProfileOptions, TableProfile
from .records import DocumentFields, dataset_key, read

if TYPE_CHECKING:
    from .monitor import DataMonitor

__all__ = ["render", "summarize"]

#: rows per file shown in the trend
TREND_FILES = 10
_COLUMN_KPIS = ("column.type", "column.null_ratio", "column.distinct", "column.min", "column.max", "column.mean",
                "column.p50", "column.p95")


def summarize(dm: DataMonitor, target: str, *, trend: int = TREND_FILES) -> dict[str, Any]:
    """The summary of a file (measured now) or a dataset (its newest file in the store), JSON-ready."""
    from .sources.files import file_kpis

    path = Path(target)
    if path.is_file():
        key = dataset_key(path.resolve())
        result = file_kpis(path, ProfileOptions())
        assert result.profile is not None
        summary = _from_profile(result.profile)
        summary.update(file=str(path.resolve()), measured="now")
    else:
        key = _find_dataset(dm, target)
        summary = _from_store(dm, key)
    summary.update(dataset=key, name=dataset_name(key), trend=_trend(dm, key, trend),
                   anomalies=sorted(dm.baselines.open_anomalies(key).values()))
    return summary


def _column(name: str, type_: str, null_ratio: float | None, distinct: int | None, lo: Any, hi: Any,
            mean: float | None, p50: float | None, p95: float | None) -> dict[str, Any]:
    return {"name": name, "type": type_, "null_pct": None if null_ratio is None else 100.0 * null_ratio,
            "distinct": distinct, "min": lo, "max": hi, "mean": mean, "p50": p50, "p95": p95}


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (int, float, str, bool)):
        return value
    return str(value)


def _from_profile(profile: TableProfile) -> dict[str, Any]:
    rows = profile.rows
    columns = [_column(c.name, c.type, (c.nulls / rows) if rows else 0.0, c.distinct, _plain(c.min), _plain(c.max),
                       c.mean, c.quantiles.get(0.5), c.quantiles.get(0.95)) for c in profile.columns]
    return {"rows": rows, "bad_rows": profile.bad_rows,
            "bad_row_lines": [{"line": line, "why": why} for line, why in profile.bad_row_examples],
            "columns": columns}


def _file_docs(dm: DataMonitor) -> list[DocumentFields]:
    return [read(h["_source"]) for h in dm.search(name="file.rows", limit=100_000, local=True)]


def _find_dataset(dm: DataMonitor, target: str) -> str:
    keys: dict[str, None] = {}
    for doc in _file_docs(dm):
        keys.setdefault(dataset_key(str(doc.file_path)), None)
    matches = [k for k in keys if target in (k, dataset_name(k))]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise SourceError(f"{target}: several datasets have that name; give one key: {', '.join(sorted(matches))}")
    known = ", ".join(sorted({dataset_name(k) for k in keys})) or "none yet"
    raise SourceError(f"{target}: no such file, and no dataset of that name in the store (known: {known})")


def _dataset_files(dm: DataMonitor, key: str) -> list[DocumentFields]:
    """The ``file.rows`` documents of a dataset, newest first, one per measurement."""
    pattern = re.sub(r"#", "*", key).replace("[", "[[]")
    docs = [read(d.source) for d in dm.store.search(name="file.rows", limit=100_000, fields={"file": pattern})]
    return [d for d in docs if dataset_key(str(d.file_path)) == key]


def _from_store(dm: DataMonitor, key: str) -> dict[str, Any]:
    docs = _dataset_files(dm, key)
    if not docs:
        raise SourceError(f"{key}: no file of this dataset in the store")
    newest = docs[0]
    path, when = str(newest.file_path), newest.timestamp
    kpis: dict[tuple[str, str], DocumentFields] = {}
    bad: DocumentFields | None = None
    order: dict[str, int] = {}
    for stored in dm.store.search(limit=100_000, since=when, fields={"file": path.replace("*", "?")}):
        kpi = read(stored.source)
        if kpi.timestamp != when or kpi.file_path != path:
            continue
        if kpi.name == "file.bad_rows":
            bad = kpi
        elif kpi.name == "file.schema" and kpi.text:
            try:
                order = {name: i for i, (name, _type) in enumerate(json.loads(kpi.text))}
            except (ValueError, TypeError):  # a schema cut at 1,024 characters: the store's order then
                pass
        elif kpi.name in _COLUMN_KPIS and kpi.subject is not None:
            kpis[(kpi.subject, kpi.name)] = kpi
    subjects = sorted((s for s, name in kpis if name == "column.type"), key=lambda s: order.get(s, len(order)))

    def val(subject: str, name: str) -> Any:
        kpi = kpis.get((subject, name))
        if kpi is None:
            return None
        return kpi.text if kpi.text is not None and name in ("column.min", "column.max") else kpi.value

    types = {s: kpis[(s, "column.type")].text for s in subjects}
    columns = [_column(s, "?" if types[s] is None else str(types[s]), val(s, "column.null_ratio"),
                       val(s, "column.distinct"), val(s, "column.min"), val(s, "column.max"), val(s, "column.mean"),
                       val(s, "column.p50"), val(s, "column.p95")) for s in subjects]
    lines = [{"line": int(m.group(1)), "why": m.group(2)}
             for m in re.finditer(r"line (\d+): ([^;]*)(?:; |$)", (bad.text if bad else None) or "")]
    return {"rows": newest.value, "bad_rows": bad.value if bad and bad.value is not None else 0, "bad_row_lines": lines,
            "columns": columns, "file": path, "measured": when}


def _trend(dm: DataMonitor, key: str, n: int) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for doc in _dataset_files(dm, key):
        name = str(doc.file_name)
        if name not in seen:  # the newest measurement of each file
            seen[name] = {"file": name, "rows": doc.value, "measured": doc.timestamp,
                          "expected": [doc.lower, doc.upper] if doc.lower is not None else None,
                          "score": doc.score}
        if len(seen) >= n:
            break
    return sorted(seen.values(), key=lambda t: (t["measured"], t["file"]))


def _num(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, float) and abs(value) >= 1e12:  # epoch milliseconds and the like: no commas soup
        return f"{value:.6g}"
    return human(value, None)


def _band(ends: Sequence[float], rows: Any) -> str:
    """A band of row counts as its whole numbers (88.14 to 111.86 is 89-111)."""
    lo, hi = ends
    if isinstance(rows, (int, float)) and float(rows).is_integer() and math.ceil(lo - 1e-9) <= math.floor(hi + 1e-9):
        lo, hi = math.ceil(lo - 1e-9), math.floor(hi + 1e-9)
    return f"{_num(lo)}\u2013{_num(hi)}"


def _table(rows: Sequence[Sequence[str]], head: Sequence[str]) -> list[str]:
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    numeric = [i > 1 for i in range(len(head))]
    return ["  ".join((c.rjust(w) if num else c.ljust(w)) for c, w, num in zip(r, widths, numeric, strict=True)).rstrip()
            for r in [head, *rows]]


def render(summary: Mapping[str, Any]) -> str:
    """The summary as text for a terminal: a header, one line per column, bad rows, trend, anomalies."""
    out = [f"{summary['name']}: {summary['file']} ({_num(summary['rows'])} rows, {len(summary['columns'])} columns, "
           f"measured {summary['measured']})"]
    rows = [[c["name"], c["type"], "-" if c["null_pct"] is None else f"{c['null_pct']:.1f}%", _num(c["distinct"]),
             _num(c["min"]), _num(c["max"]), _num(c["mean"]), _num(c["p50"]), _num(c["p95"])]
            for c in summary["columns"]]
    out += _table(rows, ["column", "type", "null %", "distinct", "min", "max", "mean", "p50", "p95"])
    bad = summary["bad_rows"] or 0
    if bad:
        shown = "; ".join(f"line {b['line']}: {b['why']}" for b in summary["bad_row_lines"])
        more = int(bad) - len(summary["bad_row_lines"])
        out.append(f"bad rows: {_num(bad)}" + (f" ({shown})" if shown else "")
                   + (f" and {more:,} more" if more > 0 and shown else ""))
    else:
        out.append("bad rows: none")
    if summary["trend"]:
        out.append(f"rows per file (last {len(summary['trend'])}):")
        for t in summary["trend"]:
            band = f"  expected {_band(t['expected'], t['rows'])}" if t["expected"] else ""
            out.append(f"  {t['measured'][:10]}  {t['file']}  {_num(t['rows'])}{band}")
    else:
        out.append("rows per file: nothing stored yet for this dataset")
    if summary["anomalies"]:
        out.append("open anomalies:")
        out += [f"  {line}" for line in summary["anomalies"]]
    else:
        out.append("open anomalies: none")
    return "\n".join(out) + "\n"
