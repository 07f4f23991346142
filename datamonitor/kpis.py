"""Every KPI datamonitor measures: its name, unit, source and meaning, in one table.

``datamonitor kpis`` prints this table and ``docs/kpis.rst`` holds its
reStructuredText rendering (``datamonitor kpis --rst``); a test requires the two
to be equal, and another that every KPI the sources emit is here with its unit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["KPIS", "Kpi", "find", "to_rst"]


@dataclass(frozen=True)
class Kpi:
    """One KPI: ``unit`` None means the value has the unit of the data it describes (or is text)."""

    name: str
    unit: str | None
    source: str
    meaning: str


_FILE, _COL, _DISK, _UDP, _OWN = "file", "file (per column)", "disk", "udp", "datamonitor"

KPIS: tuple[Kpi, ...] = (
    Kpi("file.rows", "rows", _FILE, "rows read"),
    Kpi("file.columns", "columns", _FILE, "columns"),
    Kpi("file.bad_rows", "rows", _FILE, "rows that could not be parsed (ragged, undecodable)"),
    Kpi("file.parse_seconds", "s", _FILE, "time of the measuring pass"),
    Kpi("file.schema", None, _FILE, "column names and types as JSON text; labels.fingerprint is its hash"),
    Kpi("file.sha256", None, _FILE, "SHA-256 of the file's content, as text"),
    Kpi("file.mtime", "s", _FILE, "modification time: epoch seconds, ISO text in kpi.text"),
    Kpi("file.age", "s", _FILE, "seconds since the last modification, when measured"),
    Kpi("file.schema_drift", "columns", _FILE, "columns added, removed and retyped against the dataset's baseline schema"),
    Kpi("column.nulls", "rows", _COL, "rows without a value"),
    Kpi("column.null_ratio", "ratio", _COL, "share of rows without a value, 0 to 1"),
    Kpi("column.type", None, _COL, "integer, float, string, boolean, date or datetime, as text"),
    Kpi("column.distinct", "values", _COL, "distinct values; labels.approximate says whether it is exact"),
    Kpi("column.min", None, _COL, "smallest value (lexicographic for text; epoch seconds for times)"),
    Kpi("column.max", None, _COL, "largest value (lexicographic for text; epoch seconds for times)"),
    Kpi("column.mean", None, _COL, "mean of a numeric column"),
    Kpi("column.std", None, _COL, "sample standard deviation of a numeric column"),
    Kpi("column.p50", None, _COL, "median of a numeric column (exact; from a uniform sample past 8 Mi values)"),
    Kpi("column.p95", None, _COL, "95th percentile of a numeric column (exact; from a uniform sample past 8 Mi values)"),
    Kpi("column.p99", None, _COL, "99th percentile of a numeric column (exact; from a uniform sample past 8 Mi values)"),
    Kpi("column.deciles", None, _COL, "minimum, nine deciles and maximum in kpi.deciles (stored, not indexed)"),
    Kpi("column.psi", None, _COL, "population stability index against the column's last 10 files: "
        "< 0.1 stable, 0.1-0.25 moderate, > 0.25 a shift"),
    Kpi("column.min_length", "chars", _COL, "shortest text of a string column"),
    Kpi("column.max_length", "chars", _COL, "longest text of a string column"),
    Kpi("disk.total_bytes", "bytes", _DISK, "size of the filesystem"),
    Kpi("disk.used_bytes", "bytes", _DISK, "bytes in use"),
    Kpi("disk.free_bytes", "bytes", _DISK, "bytes available to an ordinary user (df's Avail)"),
    Kpi("disk.used_pct", "percent", _DISK, "used share of the space a user can have, as df computes it"),
    Kpi("disk.inodes_total", "inodes", _DISK, "inodes of the filesystem"),
    Kpi("disk.inodes_free", "inodes", _DISK, "inodes available to an ordinary user"),
    Kpi("disk.inodes_used_pct", "percent", _DISK, "used share of the inodes"),
    Kpi("udp.received", "datagrams", _UDP, "datagrams received in the interval"),
    Kpi("udp.accepted", "datagrams", _UDP, "datagrams accepted in the interval"),
    Kpi("udp.rejected", "datagrams", _UDP, "datagrams rejected in the interval (malformed, too big, bad signature)"),
    Kpi("udp.accepted_per_second", "datagrams/s", _UDP, "accepted datagrams per second over the interval"),
    Kpi("udp.rejected_per_second", "datagrams/s", _UDP, "rejected datagrams per second over the interval"),
    Kpi("udp.dropped", "records", _UDP, "records dropped because the store could not keep up"),
    Kpi("udp.unsupported", "lines", _UDP, "StatsD event (_e{) and service-check (_sc|) lines skipped in the interval"),
    Kpi("udp.kernel_drops", "datagrams", _UDP, "datagrams the kernel dropped in the interval (receive buffer full)"),
    Kpi("notification", None, _OWN, "a threshold crossed (labels.state alert) or cleared (ok); value is the KPI's"),
    Kpi("anomaly", None, _OWN, "a value outside its learned band; kpi.expected/lower/upper/score, message"),
    Kpi("datamonitor.store.dropped", "documents", _OWN, "undelivered documents a full store dropped, in all"),
)


def find(name: str) -> Kpi | None:
    """The table's entry for a KPI name, or None (a KPI sent with ``send`` or StatsD is not in the table)."""
    return next((k for k in KPIS if k.name == name), None)


def to_rst(kpis: Iterable[Kpi] = KPIS) -> str:
    """The table as a reStructuredText simple table: what docs/kpis.rst holds."""
    rows = [(f"``{k.name}``", k.unit or "-", k.source, k.meaning) for k in kpis]
    head = ("KPI", "unit", "source", "meaning")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(4)]
    rule = "  ".join("=" * w for w in widths)

    def fmt(row: tuple[str, ...]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()

    return "\n".join([rule, fmt(head), rule, *map(fmt, rows), rule]) + "\n"
