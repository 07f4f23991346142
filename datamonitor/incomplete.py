"""Columns too incomplete in a file for their mean and distinct count to be compared with their history.

A mean, a median or a count of distinct values over a column's values says
something about the column only when the values that are there stand for the
ones that are not: when they are missing *completely at random*, in the
language of missing data. When a column's share of nulls in a file jumps
beyond its own band, they are not: the blizzard of 8 February 2013 cancelled
the afternoon's flights, so the departure times that remain are the
morning's; their mean is six hours early and their distinct count halved, yet
no time moved. The nulls are the finding (scored themselves, and given their
partner column, see :mod:`datamonitor.partner`); the statistics of the
remaining values are not scored for that file, as the mean of a column with
one value in the file is not. A column is *incomplete* when its null ratio is
out of its plain band (``column_k`` scaled MADs, no partner) by at least the
least change worth telling for nulls (``min_change``: 5 points by default).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from .bands import Band
from .records import KpiRecord

__all__ = ["KPIS", "columns"]

#: the KPIs of a column that describe the values present, not scored for an incomplete column
KPIS = frozenset({"column.mean", "column.p50", "column.p95", "column.p99", "column.min", "column.max",
                  "column.distinct"})


def columns(records: Iterable[KpiRecord], band: Callable[[KpiRecord], tuple[Band, float, float]]
            ) -> set[tuple[str | None, str | None]]:
    """The (file, column) pairs of the records whose null ratio is out of its band; ``band`` gives a
    ``column.null_ratio`` record's plain band, its ``k`` and the least change for it."""
    out: set[tuple[str | None, str | None]] = set()
    for r in records:
        if r.name != "column.null_ratio" or r.value is None or r.file_path is None:
            continue
        b, k, least = band(r)
        if b.median is None or b.scale is None:
            continue
        change = abs(float(r.value) - b.median)
        if change > k * b.scale and change >= least:
            out.add((r.file_path, r.subject))
    return out
