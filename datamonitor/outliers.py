"""What a scored value teaches its series' history: an outlier its expected value, a lasting change its new level.

A baseline learns from its own history, so a value that was an anomaly would
teach it a wrong normal: the 20 % of nulls of one faulty file stays in the
window for 30 files, widens the MAD and breaks the correlation that made
another column its partner (:mod:`datamonitor.partner`); the files after it
then alarm on values that are normal. Robust filters keep such a value out:
the Hampel filter replaces an observation more than ``k`` scaled MADs from
the median by the median. Here an observation that was an anomaly (its
``|score|`` over ``k``, against its band or its partner's, and the change at
least the least worth telling, ``min_change``: the caller passes a score of 0
otherwise) enters the history as its **expected value**: an *additive
outlier* in the sense of Chen and Liu (1993), one odd value that says nothing
about the next. A value out of its band by less than the least change enters
as measured: a season's slow move (flights' rows, 5 % a month) is learned.

A *level shift* does: when ``level_shift`` observations in a row are outliers
on the same side, the series has a new level. The history is then moved to
it: the values before the run are shifted by the run's median less theirs
(their spread and weekly rhythm kept), and the run's own values replace the
expected values it was stored as. The next file is scored against the new
level; an anomaly that opened at the change closes. Without this a lasting
change would alarm on every file until half the window (15 files) held it.
So does a new *weekly rhythm*: when the files' names carry dates and
``level_shift`` values of one weekday in a row (three Saturdays) are outliers
on the same side, they are kept as measured, and the weekday's band
(:mod:`datamonitor.bands`) learns them.
"""

from __future__ import annotations

from collections.abc import Sequence

from .bands import Band, _median

__all__ = ["added"]

#: the key of the run of outliers in a row, whatever their weekday (the others are the weekday's number)
ALL = "all"


def _extended(run: Sequence[float] | None, side: float, x: float) -> list[float]:
    """A run (its side, then its values) with ``x`` added, or a new run if ``x`` is on the other side."""
    return [side, *run[1:], x] if run and run[0] == side else [side, x]


def added(history: Sequence[float], weekdays: Sequence[int], runs: dict[str, list[float]], x: float, weekday: int,
          band: Band, z: float | None, k: float, level_shift: int) -> list[float]:
    """The history with ``x`` added; ``runs`` is updated in place. See the module's docstring.

    ``weekdays`` are the history's (-1: not known) and ``weekday`` is ``x``'s; ``runs`` holds the current runs
    of outliers (each its side, 1 above and -1 below, then their values as measured): ``"all"``, in a row, and
    one per weekday (``"5"``: the Saturdays in a row). ``band`` and ``z`` are ``x``'s band and score (``z``
    None: no baseline yet, and ``x`` enters as it is).
    """
    day = str(weekday)
    if z is None or band.median is None or abs(z) <= k:
        runs.pop(ALL, None)
        runs.pop(day, None)
        return [*history, x]
    side = 1.0 if z > 0 else -1.0
    run = runs[ALL] = _extended(runs.get(ALL), side, x)
    if len(run) - 1 >= level_shift:  # a new level: the history moved to it
        runs.clear()
        raw = run[1:]
        before = list(history[:len(history) - (len(raw) - 1)])  # without the run's stand-ins
        if not before:
            return raw
        delta = _median(sorted(raw)) - _median(sorted(before))
        return [*(v + delta for v in before), *raw]
    if weekday < 0:
        return [*history, band.median]
    same = runs[day] = _extended(runs.get(day), side, x)
    if len(same) - 1 < level_shift:
        return [*history, band.median]
    # the same weekday out of its band, on the same side, week after week: a new rhythm, its values as measured
    del runs[day]
    kept = list(history)
    where = [i for i, wd in enumerate(weekdays[:len(kept)]) if wd == weekday][-(len(same) - 2):] if len(same) > 2 else []
    for i, v in zip(where, same[-1 - len(where):-1], strict=True):
        kept[i] = v
    return [*kept, x]
