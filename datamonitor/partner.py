"""A per-column KPI's band given its partner: the column whose same KPI moved with it over the window.

A snowstorm cancels a tenth of the flights: every time column's null ratio goes
from 2 % to 12 % at once, and so does the mean delay of departures and of
arrivals. Each is far out of its own band, yet none is news given the others. A
column whose nulls jump *alone* is. So a per-column KPI (``column.*``) of a file
is also scored against its **partner**: among the dataset's other columns with
the same KPI, the one whose history correlates best with it (Pearson's ``|r|``
over the common window, at least :data:`MIN_R`). The expected value is the line
through the two histories at the partner's value today (Theil-Sen: the median of
the pairwise slopes, so one odd day does not tilt it) and the scale is that of the
residuals (1.4826 MAD), at least a tenth of the plain scale, widened as a
regression's prediction interval widens for a partner value far from the
window's. When the series is within its own band and its partner is out of its
own, the partner is the odd one out: the series keeps its own band (a fault in
dep_delay's nulls is then one anomaly, not two).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .bands import Band, robust_band, score

#: the least common history of a series and its partner for the partner's band
MIN_COMMON = 14
#: the least |Pearson r| between the two histories for one to be the other's partner
MIN_R = 0.8
#: the partner's residual scale is at least this share of the plain scale
SCALE_FLOOR = 0.1
MAD_SCALE = 1.4826


@dataclass(frozen=True)
class Partner:
    """The partner band of one series: its expected value given the partner's value, and the residual scale."""

    partner: str
    r: float
    expected: float
    scale: float
    partner_value: float


@dataclass(frozen=True)
class Series:
    """One series of a group: its history, the file number of each value, and its value in this file."""

    history: Sequence[float]
    at: Sequence[int]
    today: float


def partners(group: Mapping[str, Series]) -> dict[str, tuple[str, float]]:
    """Each series' best partner in its group and their correlation; series without one are left out.

    ``group`` is one KPI (say ``column.null_ratio``) of the columns of one dataset; only series whose
    last :data:`MIN_COMMON` values or more came from the same files are compared.
    """
    keys = [k for k, s in group.items() if len(s.history) >= MIN_COMMON]
    if len(keys) < 2:
        return {}
    first = list(group[keys[0]].at)
    if all(list(group[k].at) == first for k in keys[1:]):  # the usual case: every column in every file
        m = np.asarray([group[k].history for k in keys], dtype=float)
    else:  # the common files of the group: series seen in all of them are compared in one matrix
        common = set(first)
        for k in keys[1:]:
            common &= set(group[k].at)
        if len(common) < MIN_COMMON:
            return {}
        files = sorted(common)
        rows = []
        for k in keys:
            where = dict(zip(group[k].at, group[k].history, strict=True))
            rows.append([where[f] for f in files])
        m = np.asarray(rows, dtype=float)
    sd = m.std(axis=1)
    varied = sd > 1e-12 * np.maximum(1.0, np.abs(m).max(axis=1))
    if varied.sum() < 2:
        return {}
    z = (m[varied] - m[varied].mean(axis=1, keepdims=True)) / sd[varied, None]
    r = (z @ z.T) / z.shape[1]
    np.fill_diagonal(r, 0.0)
    names = [k for k, v in zip(keys, varied, strict=True) if v]
    out: dict[str, tuple[str, float]] = {}
    for i, k in enumerate(names):
        j = int(np.argmax(np.abs(r[i])))
        if abs(r[i, j]) >= MIN_R:
            out[k] = (names[j], float(r[i, j]))
    return out


def _median(values: np.ndarray) -> float:
    """The median of a small array (numpy's own costs 40 µs of overhead a call, measured)."""
    v = np.sort(values)
    n = len(v)
    return float(v[n // 2]) if n % 2 else float(v[n // 2 - 1] + v[n // 2]) / 2.0


@functools.lru_cache(maxsize=64)
def _pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The index pairs (i < j) of n values, made once per n."""
    i, j = np.triu_indices(n, 1)
    return i, j


def partner_band(target: Series, partner: Series, name: str, r: float, plain_scale: float) -> Partner | None:
    """The target's expected value and residual scale given the partner's value in this file; None if unusable."""
    if list(partner.at) == list(target.at):
        x, y = np.asarray(partner.history, dtype=float), np.asarray(target.history, dtype=float)
    else:
        where = dict(zip(partner.at, partner.history, strict=True))
        pairs = [(where[f], v) for f, v in zip(target.at, target.history, strict=True) if f in where]
        if len(pairs) < MIN_COMMON:
            return None
        xy = np.asarray(pairs, dtype=float)
        x, y = xy[:, 0], xy[:, 1]
    i, j = _pairs(len(x))
    dx = x[j] - x[i]
    moved = dx != 0
    if not moved.any():
        return None
    slope = _median((y[j] - y[i])[moved] / dx[moved])  # Theil-Sen
    residuals = y - slope * x
    intercept = _median(residuals)
    scale = max(MAD_SCALE * _median(np.abs(residuals - intercept)), SCALE_FLOOR * plain_scale)
    if not scale > 0.0:
        return None
    # a partner value far from those of the window is an extrapolation: widen as a regression's prediction
    # interval widens, by sqrt(1 + 1/n + (x0 - mean)^2 / Sxx)
    sxx = float(((x - x.mean()) ** 2).sum())
    scale *= math.sqrt(1.0 + 1.0 / len(x) + (partner.today - float(x.mean())) ** 2 / sxx) if sxx > 0 else 1.0
    # and in proportion to the partner's value beyond its usual size: the window's residuals say how far the line
    # misses at the usual values; at 25 times them (a storm's cancellations) it misses by about as many times more
    # (counts and shares that vary from day to day do so in proportion to their size, a constant coefficient of
    # variation: the usual reason to model them on a log scale)
    usual = _median(np.abs(x))
    if usual > 0.0:
        scale *= max(1.0, abs(partner.today) / usual)
    expected = intercept + slope * partner.today
    return Partner(name, r, expected, scale, partner.today)


def given(band: Band, x: float, k: float, series: Mapping[str, Series], partner: tuple[str, float], key: str) -> Band:
    """The band of ``series[key]`` given its ``partner`` (name, r) when that explains ``x`` better than its own
    ``band``; see the module's docstring."""
    name, r = partner
    assert band.median is not None and band.scale
    p = partner_band(series[key], series[name], name, r, band.scale)
    if p is None:
        return band
    if abs(x - band.median) <= k * band.scale:  # within its own band: is the partner the odd one out?
        other = series[name]
        z_other = score(other.today, robust_band(other.history, k))
        if z_other is not None and abs(z_other) > k:
            return band  # it is: this series keeps its own band, and only the partner is news
    return Band(band.n, p.expected, band.mad, p.scale, p.expected - k * p.scale, p.expected + k * p.scale,
                given=name.split("|")[1], given_value=p.partner_value)
