"""Columns incomplete in a file: their mean and distinct count judged with what the missing values can explain.

A mean or a count of distinct values over a column's values says something
about the column as far as the values that are there stand for the ones that
are not. When a column's share of nulls in a file jumps beyond its own band,
they may not: the blizzard of 8 February 2013 cancelled the afternoon's
flights, so the departure times left are the morning's; their mean is six
hours early and their distinct count halved, yet no time moved. The nulls are
the finding (scored themselves, and given their partner column, see
:mod:`datamonitor.partner`); the mean and the distinct count are widened by
the most that the selection can explain, and are news only beyond it:

* a **mean** over a share ``q`` of the values is at most ``s * sqrt((1 - q) / q)``
  from the mean of them all, ``s`` their standard deviation (the between-groups
  part of the variance is ``q / (1 - q)`` times the squared difference), so the
  band's ends move out by that much. ``s`` is the column's standard deviation in
  the file, of the values that are there: that of them all is not known;
* a **distinct count** loses at most one distinct value per value that went
  missing, so the band's lower end moves down by the extra missing values
  (and its upper end up by the extra values, when the nulls fell).

``q`` is the share of the usual values that is there: the smaller of the
file's and the usual non-null shares over the larger one. A column is
*incomplete* when its null ratio is out of its plain band (``column_k`` scaled
MADs, no partner) by at least the least change worth telling for nulls
(``min_change``: 5 points by default). Its quantiles, minimum and maximum, if
scored, are not scored for that file.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .bands import Band
from .records import KpiRecord

__all__ = ["UNSCORED", "Missing", "columns", "widened"]

#: the KPIs of an incomplete column that are not scored for the file: no bound says how far a selection moves them
UNSCORED = frozenset({"column.p50", "column.p95", "column.p99", "column.min", "column.max"})


@dataclass(frozen=True)
class Missing:
    """How incomplete a column is in a file: its null ratio, the usual one (its band's median)."""

    nulls: float
    usual: float

    @property
    def share(self) -> float:
        """``q``: the share of the usual values (or of the file's, when the nulls fell) that is there."""
        present, usual = 1.0 - self.nulls, 1.0 - self.usual
        return min(present, usual) / max(present, usual) if max(present, usual) > 0 else 0.0


def columns(records: Iterable[KpiRecord], band: Callable[[KpiRecord], tuple[Band, float, float]]
            ) -> dict[tuple[str | None, str | None], Missing]:
    """The (file, column) pairs whose null ratio is out of its band, and how; ``band`` gives a
    ``column.null_ratio`` record's plain band, its ``k`` and the least change for it."""
    out: dict[tuple[str | None, str | None], Missing] = {}
    for r in records:
        if r.name != "column.null_ratio" or r.value is None or r.file_path is None:
            continue
        b, k, least = band(r)
        if b.median is None or b.scale is None:
            continue
        change = abs(float(r.value) - b.median)
        if change > k * b.scale and change >= least:
            out[(r.file_path, r.subject)] = Missing(float(r.value), b.median)
    return out


def widened(band: Band, x: float, name: str, missing: Missing, spread: float | None,
            rows: float | None) -> tuple[Band, float] | None:
    """The band of a mean or distinct count of an incomplete column, widened by what the missing values explain,
    and the score of ``x`` beyond it; None when there is no bound (another KPI, no spread or rows known)."""
    if band.median is None or not band.scale or band.lower is None or band.upper is None:
        return None
    if name == "column.mean" and spread is not None and missing.share > 0:
        below = above = spread * math.sqrt((1.0 - missing.share) / missing.share)
    elif name == "column.distinct" and rows is not None:
        extra = rows * (missing.nulls - missing.usual)  # values missing beyond the usual (negative: more values)
        below, above = max(extra, 0.0), max(-extra, 0.0)
    else:
        return None
    m = band.median
    beyond = x - (m + above) if x > m + above else x - (m - below) if x < m - below else 0.0
    return dataclasses.replace(band, lower=band.lower - below, upper=band.upper + above), beyond / band.scale
