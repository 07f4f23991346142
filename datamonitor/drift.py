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
    return float(_cdf(np.asarray([summary], dtype=float), np.asarray([x], dtype=float))[0, 0])


def _cdf(m: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """:func:`cdf` of each summary (a row of ``m``) at each of ``xs``, in one pass: linear between a summary's
    points, the values tied at x counted in full."""
    n = m.shape[1] - 1
    at_or_under = (m[:, :, None] <= xs[None, None, :]).sum(axis=1)  # summaries x points
    i = np.clip(at_or_under - 1, 0, n - 1)  # the last point at or under x
    lo = np.take_along_axis(m, i, axis=1)
    hi = np.take_along_axis(m, i + 1, axis=1)
    width = hi - lo
    safe = np.where(width > 0, width, 1.0)
    inside = np.where(width > 0, (i + np.clip(xs[None, :] - lo, 0, None) / safe) / n, (i + 1) / n)
    return np.where(xs[None, :] < m[:, :1], 0.0, np.where(xs[None, :] >= m[:, -1:], 1.0, inside))


def _shares(m: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Each summary's share of values in each bin the edges make: (-inf, e1], (e1, e2], ..., (ek, inf)."""
    cuts = _cdf(m, edges)
    rows = m.shape[0]
    return np.diff(np.hstack((np.zeros((rows, 1)), cuts, np.ones((rows, 1)))), axis=1)


def shares(summary: Sequence[float], edges: Sequence[float]) -> list[float]:
    """The share of a summary's values in each bin that the edges make."""
    return [float(v) for v in _shares(np.asarray([summary], dtype=float), np.asarray(edges, dtype=float))[0]]


def _baseline(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    edges = np.unique(m[:, 1:-1].mean(axis=0))
    return edges, _shares(m, edges).mean(axis=0)


def baseline(summaries: Sequence[Sequence[float]]) -> tuple[list[float], list[float]]:
    """The pooled baseline of several files' summaries: the bins' inner edges and each bin's expected share."""
    edges, expected = _baseline(np.asarray(summaries, dtype=float))
    return edges.tolist(), expected.tolist()


def psi(summary: Sequence[float], summaries: Sequence[Sequence[float]]) -> float:
    """The population stability index of a file's summary against the pooled baseline of ``summaries``."""
    edges, expected = _baseline(np.asarray(summaries, dtype=float))
    a = np.maximum(_shares(np.asarray([summary], dtype=float), edges)[0], FLOOR)
    e = np.maximum(expected, FLOOR)
    return float(((a - e) * np.log(a / e)).sum())


def reading(value: float) -> str:
    """What a PSI says: ``stable``, ``a moderate change`` or ``a shift``."""
    return "stable" if value < STABLE else "a moderate change" if value <= SHIFT else "a shift"
