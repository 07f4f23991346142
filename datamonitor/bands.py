"""A series' robust band: median and scaled MAD over its history, the weekday's when the week has a rhythm.

See :mod:`datamonitor.baseline` for what a series is and how its band is used;
the rules (the MAD's fallbacks and floors, the weekly rhythm) are described
there and on the quality page.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["CONSTANT_SCORE", "Band", "robust_band", "score"]

#: scales the MAD to the standard deviation of normally distributed data
MAD_SCALE = 1.4826
#: scales the mean absolute deviation likewise; used when the MAD is 0
MEANAD_SCALE = 1.2533
#: the least scale, as a share of the median: a series that barely varied is not news for a 1 % change
RELATIVE_FLOOR = 0.01
#: the score of a value that differs from a history that never varied
CONSTANT_SCORE = 1e6


@dataclass(frozen=True)
class Band:
    """A series' baseline: its median, MAD, scale and expected band, or not enough history yet."""

    n: int
    median: float | None = None
    mad: float | None = None
    scale: float | None = None
    lower: float | None = None
    upper: float | None = None
    #: the partner column the band is conditioned on (see :mod:`datamonitor.partner`), and its value in this file
    given: str | None = None
    given_value: float | None = None

    @property
    def enough(self) -> bool:
        return self.median is not None

    @property
    def state(self) -> str:
        return "baseline" if self.enough else "not enough history yet"


def _median(sorted_values: Sequence[float]) -> float:
    n = len(sorted_values)
    mid = n // 2
    return float(sorted_values[mid]) if n % 2 else (sorted_values[mid - 1] + sorted_values[mid]) / 2.0


def _scale(deviations: Sequence[float], m: float) -> tuple[float, float]:
    """(MAD, scale) of sorted absolute deviations, with the mean-deviation fallback; floors apart (:func:`_floor`)."""
    mad = _median(deviations)
    scale = MAD_SCALE * mad
    if scale <= _tiny(m):
        mean_ad = sum(deviations) / len(deviations)
        scale = MEANAD_SCALE * mean_ad if MEANAD_SCALE * mean_ad > _tiny(m) else 0.0
    return mad, scale


def _floor(scale: float, m: float, values: Sequence[float]) -> float:
    """At least one step (values that come in steps, such as whole numbers) and 1 % of the median; 0 stays 0."""
    if scale <= 0.0:
        return scale
    scale = max(scale, RELATIVE_FLOOR * abs(m))
    if not all(float(v).is_integer() for v in values):  # the step is that of whole numbers
        return scale
    distinct = sorted(set(values))
    step = min((b - a for a, b in itertools.pairwise(distinct)), default=0.0)
    return max(scale, float(step))


def robust_band(history: Sequence[float], k: float = 4.0, min_history: int = 7, *,
                weekdays: Sequence[int] | None = None, weekday: int | None = None,
                value: float | None = None) -> Band:
    """The median, MAD and band ``median ± k·scale`` of a history; see the module's docstring.

    With ``weekdays`` (one per value, -1 for unknown) and the new value's ``weekday``, the band is the
    weekday's when the week has a rhythm: see :func:`_weekly`; and, given the new ``value``, also when the
    weekday's band explains it better than the plain one (a Saturday of a summer without a weekly rhythm).
    """
    n = len(history)
    if n < min_history:
        return Band(n)
    m = _median(sorted(history))
    mad, raw = _scale(sorted(abs(x - m) for x in history), m)
    scale = _floor(raw, m, history)
    if weekdays is not None and weekday is not None and weekday >= 0:
        weekly = _weekly(history, weekdays, weekday, raw)
        if weekly is not None:
            wm, wmad, weekly_raw, rhythm = weekly
            wscale = _floor(max(weekly_raw, 0.5 * raw), wm, history)
            if rhythm or (value is not None and wscale > 0 and scale > 0
                          and abs(value - wm) / wscale < abs(value - m) / scale):
                m, mad, scale = wm, wmad, wscale
    return Band(n, m, mad, scale, m - k * scale, m + k * scale)


def _weekly(history: Sequence[float], weekdays: Sequence[int], weekday: int,
            plain_scale: float) -> tuple[float, float, float, bool] | None:
    """(median, MAD, scale, rhythm) of the same weekday; None without 21 values, 3 of them on the weekday.

    The expected value is the median of the history's values of the same weekday (at least 3 of them, and 21
    values in all); the scale is that of the residuals (each value less its weekday's median), and at least
    half the plain scale. ``rhythm`` says the rhythm is real: the residuals' scale is under 0.7 times the
    plain scale.
    """
    if len(history) < 21 or len(weekdays) != len(history):
        return None
    by_day: list[list[float]] = [[], [], [], [], [], [], []]
    for x, wd in zip(history, weekdays, strict=True):
        if wd >= 0:
            by_day[wd].append(x)
    if len(by_day[weekday]) < 3:
        return None
    medians = [_median(sorted(v)) if len(v) >= 2 else None for v in by_day]
    residuals = [x - medians[wd] for x, wd in zip(history, weekdays, strict=True)  # type: ignore[operator]
                 if wd >= 0 and medians[wd] is not None]
    m = medians[weekday]
    assert m is not None
    mad, scale = _scale(sorted(abs(r) for r in residuals), m)
    # residuals from medians of 4 or 5 values are too small: the caller keeps half the plain scale at least
    return m, mad, scale, plain_scale > 0.0 and scale < 0.7 * plain_scale


def _tiny(m: float) -> float:
    return 1e-9 * max(1.0, abs(m))


def score(x: float, band: Band) -> float | None:
    """How many scaled MADs ``x`` is from the median; None without a baseline."""
    if band.median is None or band.scale is None:
        return None
    diff = x - band.median
    if band.scale == 0.0:
        return 0.0 if abs(diff) <= _tiny(band.median) else (CONSTANT_SCORE if diff > 0 else -CONSTANT_SCORE)
    return diff / band.scale
