"""When a dataset's next file is due, from the times its files arrived: a file that did not come is news too.

A dataset's arrival times are its files' modification times (when they were
delivered, kept by a copy that preserves them, and the same whether the watcher
saw the file at once or caught up on it later), the last :data:`WINDOW` of them.
Their intervals give the usual interval (the median) and its spread
(1.4826 MAD, at least a tenth of the interval and a minute): the next file is
expected at the last arrival plus the usual interval, at the time of day the
files usually come, and it is **late** once ``k`` spreads past that. A dataset
with fewer than ``min_history`` arrivals has no expectation yet.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

#: arrival times kept per dataset
WINDOW = 30
MAD_SCALE = 1.4826
#: the least spread, as a share of the usual interval and in seconds: a feed is not late for a minute
RELATIVE_FLOOR = 0.1
SECONDS_FLOOR = 60.0


@dataclass(frozen=True)
class Due:
    """When a dataset's next file is expected and when it is late (epoch seconds), from its usual interval."""

    last: float
    interval: float
    spread: float
    expected: float
    late: float


def _median(values: Sequence[float]) -> float:
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2.0


def due(arrivals: Sequence[float], k: float, min_history: int) -> Due | None:
    """When the next file is due after these arrival times (epoch seconds, any order); None: too few yet."""
    times = sorted(arrivals)
    if len(times) < min_history:
        return None
    intervals = [b - a for a, b in itertools.pairwise(times) if b > a]
    if len(intervals) < min_history - 1:
        return None
    interval = _median(intervals)
    mad = _median([abs(i - interval) for i in intervals])
    spread = max(MAD_SCALE * mad, RELATIVE_FLOOR * interval, SECONDS_FLOOR)
    expected = times[-1] + interval
    return Due(times[-1], interval, spread, expected, expected + k * spread)


def added(arrivals: Sequence[float], when: float) -> list[float]:
    """The arrival times with one more, the last :data:`WINDOW`, oldest first."""
    return sorted({*arrivals, when})[-WINDOW:]


def duration(seconds: float) -> str:
    """``1 day``, ``6 hours``, ``25 minutes``, ``2.5 days``: the unit people use for it."""
    for size, unit in ((86_400, "day"), (3_600, "hour"), (60, "minute")):
        if seconds >= size:
            n = seconds / size
            shown = f"{n:.0f}" if abs(n - round(n)) < 0.05 else f"{n:.1f}"
            return f"{shown} {unit}" + ("" if shown == "1" else "s")
    return f"{seconds:.0f} seconds"


def stamp(epoch: float) -> str:
    """``2013-06-15 10:32 UTC``."""
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def late_line(dataset: str, d: Due) -> str:
    """``flights: no file since 2013-06-14 10:02 UTC; one comes every 1 day, expected 2013-06-15 10:02 UTC, late since ...``."""
    return (f"{dataset}: no file since {stamp(d.last)}; one comes every {duration(d.interval)}, "
            f"expected {stamp(d.expected)}, late since {stamp(d.late)}")
