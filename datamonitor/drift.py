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

import itertools
import math
from collections.abc import Sequence

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
    n = len(summary) - 1
    if x < summary[0]:
        return 0.0
    if x >= summary[-1]:
        return 1.0
    # the last point at or under x: values tied at x count in full (a mass of equal values)
    i = max(j for j in range(n + 1) if summary[j] <= x)
    lo, hi = summary[i], summary[i + 1]
    return (i + (x - lo) / (hi - lo)) / n if hi > lo else i / n


def shares(summary: Sequence[float], edges: Sequence[float]) -> list[float]:
    """The share of a summary's values in each bin that the edges make: (-inf, e1], (e1, e2], ..., (ek, inf)."""
    cuts = [0.0, *(cdf(summary, e) for e in edges), 1.0]
    return [b - a for a, b in itertools.pairwise(cuts)]


def baseline(summaries: Sequence[Sequence[float]]) -> tuple[list[float], list[float]]:
    """The pooled baseline of several files' summaries: the bins' inner edges and each bin's expected share."""
    inner = len(summaries[0]) - 1
    edges = sorted({sum(s[j] for s in summaries) / len(summaries) for j in range(1, inner)})
    per_file = [shares(s, edges) for s in summaries]
    expected = [sum(col) / len(per_file) for col in zip(*per_file, strict=True)]
    return edges, expected


def psi(summary: Sequence[float], summaries: Sequence[Sequence[float]]) -> float:
    """The population stability index of a file's summary against the pooled baseline of ``summaries``."""
    edges, expected = baseline(summaries)
    actual = shares(summary, edges)
    total = 0.0
    for a, e in zip(actual, expected, strict=True):
        a, e = max(a, FLOOR), max(e, FLOOR)
        total += (a - e) * math.log(a / e)
    return total


def reading(value: float) -> str:
    """What a PSI says: ``stable``, ``a moderate change`` or ``a shift``."""
    return "stable" if value < STABLE else "a moderate change" if value <= SHIFT else "a shift"
