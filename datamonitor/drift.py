"""Distribution drift of a numeric column: PSI between a file's deciles and its dataset's baseline.

Each numeric column of a file carries a compact summary of its distribution,
``kpi.deciles``: its minimum, nine deciles and maximum (stored, not indexed).
Read as a distribution, the summary puts a tenth of the values between each two
neighbours, spread evenly (a piecewise-linear cumulative distribution).

The **baseline** of a column is its last :data:`WINDOW` files pooled: the bins are
the averages of their deciles (the nine inner values), and each bin's expected
share is the average share the files' own distributions put in it. The
**population stability index** of a file against it is

    PSI = Σ (a - e) · ln(a / e)

over the ten bins, ``a`` the file's share and ``e`` the baseline's (each at least
:data:`FLOOR`, so an empty bin counts and does not divide by zero). Its usual
reading: under 0.1 the distribution is stable, 0.1 to 0.25 a moderate change,
above 0.25 (:data:`SHIFT`) a shift worth a look.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: files pooled into a column's baseline distribution
WINDOW = 10
#: PSI under this is a stable distribution
STABLE = 0.1
#: PSI above this is a shift: an anomaly
SHIFT = 0.25
#: the least share of a bin, so that an empty one counts and ln() is defined
FLOOR = 1e-4


def cdf(summary: Sequence[float], x: float) -> float:
    """The share of values at or under ``x`` of a summary (minimum, nine deciles, maximum)."""
    return float(_cdf(np.asarray([[summary]], dtype=float), np.asarray([[x]], dtype=float))[0, 0, 0])


def _cdf(m: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """:func:`cdf` of columns' summaries ``m`` (columns x files x points) at each column's ``xs`` (columns x
    edges), in one pass: linear between a summary's points, the values tied at x counted in full."""
    n = m.shape[2] - 1
    x = xs[:, None, :]
    i = np.clip((m[:, :, :, None] <= x[:, :, None, :]).sum(axis=2) - 1, 0, n - 1)  # the last point at or under x
    lo = np.take_along_axis(m, i, axis=2)
    width = np.take_along_axis(m, i + 1, axis=2) - lo
    inside = np.where(width > 0, (i + np.clip(x - lo, 0, None) / np.where(width > 0, width, 1.0)) / n, (i + 1) / n)
    return np.where(x < m[:, :, :1], 0.0, np.where(x >= m[:, :, -1:], 1.0, inside))


def _shares(m: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Each summary's share of values in each bin the edges make: (-inf, e1], (e1, e2], ..., (ek, inf)."""
    cuts = _cdf(m, edges)
    zeros = np.zeros((*cuts.shape[:2], 1))
    return np.diff(np.concatenate((zeros, cuts, zeros + 1.0), axis=2), axis=2)


def shares(summary: Sequence[float], edges: Sequence[float]) -> list[float]:
    """The share of a summary's values in each bin that the edges make."""
    return [float(v) for v in _shares(np.asarray([[summary]], dtype=float), np.asarray([edges], dtype=float))[0, 0]]


def psi_many(summaries: np.ndarray, pasts: np.ndarray) -> np.ndarray:
    """The PSI of several columns at once: ``summaries`` (columns x points) against ``pasts`` (columns x files x
    points). The bins' edges are the averages of the files' inner deciles; equal edges make an empty bin, which
    counts 0 (both shares are floored alike)."""
    edges = pasts[:, :, 1:-1].mean(axis=1)
    expected = np.maximum(_shares(pasts, edges).mean(axis=1), FLOOR)
    actual = np.maximum(_shares(summaries[:, None, :], edges)[:, 0, :], FLOOR)
    out: np.ndarray = ((actual - expected) * np.log(actual / expected)).sum(axis=1)
    return out


def psi(summary: Sequence[float], summaries: Sequence[Sequence[float]]) -> float:
    """The population stability index of a file's summary against the pooled baseline of ``summaries``."""
    return float(psi_many(np.asarray([summary], dtype=float), np.asarray([summaries], dtype=float))[0])


def reading(value: float) -> str:
    """What a PSI says: ``stable``, ``a moderate change`` or ``a shift``."""
    return "stable" if value < STABLE else "a moderate change" if value <= SHIFT else "a shift"
