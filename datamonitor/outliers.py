"""What a scored value teaches its series' history: an outlier its expected value, a lasting change its new level.

A baseline learns from its own history, so a value that was an anomaly would
teach it a wrong normal: the 20 % of nulls of one faulty file stays in the
window for 30 files, widens the MAD and breaks the correlation that made
another column its partner (:mod:`datamonitor.partner`); the files after it
then alarm on values that are normal. Robust filters keep such a value out:
the Hampel filter replaces an observation more than ``k`` scaled MADs from
the median by the median. Here an observation whose ``|score|`` is over ``k``
(its band's, the partner's when it had one; whether or not the change was
large enough to tell) enters the history as its **expected value**: an
*additive outlier* in the sense of Chen and Liu (1993), one odd value that
says nothing about the next.

A *level shift* does: when ``level_shift`` observations in a row are outliers
on the same side, the series has a new level. The history is then moved to
it: the values before the run are shifted by the run's median less theirs
(their spread and weekly rhythm kept), and the run's own values replace the
expected values it was stored as. The next file is scored against the new
level; an anomaly that opened at the change closes. Without this a lasting
change would alarm on every file until half the window (15 files) held it.
"""

from __future__ import annotations

from collections.abc import Sequence

from .bands import Band, _median

__all__ = ["added"]


def added(history: Sequence[float], run: Sequence[float], x: float, band: Band, z: float | None, k: float,
          level_shift: int) -> tuple[list[float], list[float]]:
    """(the history with ``x`` added, the run of outliers after it); see the module's docstring.

    ``run`` is the current run of outliers: its side (1 above, -1 below), then their values as measured;
    empty when the last value was not one. ``band`` and ``z`` are ``x``'s band and score (``z`` None: no
    baseline yet, ``x`` enters as it is).
    """
    if z is None or band.median is None or abs(z) <= k:
        return [*history, x], []
    side = 1.0 if z > 0 else -1.0
    raw = [*run[1:], x] if run and run[0] == side else [x]
    if len(raw) < level_shift:
        return [*history, band.median], [side, *raw]
    before = list(history[:len(history) - (len(raw) - 1)])  # without the run's stand-ins
    if not before:
        return raw, []
    delta = _median(sorted(raw)) - _median(sorted(before))
    return [*(v + delta for v in before), *raw], []
