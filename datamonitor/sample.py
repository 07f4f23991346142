"""A uniform sample of a table's numeric values, column by column, for their quantiles.

Every value is kept while all the columns' values fit the budget, and the
quantiles are then exact. Past it, each row's values are kept with a
probability that halves (and the values kept so far are thinned by half)
whenever the budget is exceeded, so the sample stays uniform: 4 to 8 Mi
values by default. A table known to be big (:meth:`ValueSample.expect`)
samples from its first row.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import polars as pl

__all__ = ["ValueSample", "counted_quantiles", "quantiles"]


class ValueSample:
    """The numeric values kept of each column: ``values[name]`` is a list of float arrays (NaN left out)."""

    def __init__(self, budget: int, seed: int = 0) -> None:
        self.budget = budget
        self.values: dict[str, list[np.ndarray[Any, Any]]] = {}
        self._rng = random.Random(seed)
        self._keep = 1.0  # the probability of keeping a row's values
        self._kept = 0

    def expect(self, numeric: int, rows: float) -> None:
        """A hint of the table's size (``rows``, estimated from its first chunk) with ``numeric`` numeric columns:
        when its values will not fit the budget, sample from the start. The probability stays a power of one half,
        so that later halvings keep the sample uniform."""
        if not numeric or self._kept:
            return
        if rows * numeric <= 4 * self.budget:
            # it fits, or may: exact until it does not (an estimate from a first chunk whose rows are narrower than
            # the rest overshoots; a file that fits the budget must not be sampled)
            return
        while self._keep * rows * numeric > self.budget / 2:  # half: room to grow before a halving
            self._keep /= 2

    def add(self, df: pl.DataFrame, columns: dict[str, str]) -> None:
        """Keep the chunk's values of ``columns`` (name: category) with the current probability."""
        names = list(columns)
        if not names:
            return
        if self._keep < 1.0:  # rows first: the casts then touch only the rows kept
            df = df.select(names)[self._rows(df.height, self._keep)]
        part = df.select(_as_float(n, cat) for n, cat in columns.items())
        for name in names:
            arr = part.get_column(name).to_numpy()
            arr = arr[~np.isnan(arr)]
            if len(arr):
                self.values.setdefault(name, []).append(arr)
                self._kept += len(arr)
        while self._kept > self.budget:
            self._halve()

    def pour(self, name: str, values: np.ndarray[Any, Any], counts: np.ndarray[Any, Any]) -> None:
        """A column counted apart until now (``distinct.Bitmap``: ``values`` each ``counts`` times) joins the
        sample as if it had been sampled from its first row: each row kept with the current probability, so a
        value's rows kept are binomial (the probability first halved while they would not fit)."""
        while self._kept + self._keep * float(counts.sum()) > self.budget:
            self._halve()
        if self._keep < 1.0:
            counts = np.random.default_rng(self._rng.getrandbits(64)).binomial(counts, self._keep)
        kept = np.repeat(values, counts)
        if len(kept):
            self.values.setdefault(name, []).append(kept)
            self._kept += len(kept)

    def _halve(self) -> None:
        """Keep each row with half the probability: the values kept so far are thinned by half."""
        self._keep /= 2
        self._kept = 0
        for name, kept in self.values.items():
            merged = np.concatenate(kept) if kept else np.empty(0)
            thinned = merged[self._mask(len(merged), 0.5)]
            self.values[name] = [thinned]
            self._kept += len(thinned)

    def _rows(self, n: int, p: float) -> Any:
        """Each of ``n`` rows kept with probability ``p``: how many is binomial, which is a uniform choice of that
        many (a choice costs what it keeps, a mask what it looks at)."""
        gen = np.random.default_rng(self._rng.getrandbits(64))
        return np.sort(gen.choice(n, size=gen.binomial(n, p), replace=False))

    def _mask(self, n: int, p: float) -> Any:
        gen = np.random.default_rng(self._rng.getrandbits(64))
        return gen.random(n) < p


def _as_float(name: str, cat: str) -> pl.Expr:
    c = pl.col(name)
    if cat == "duration":  # in seconds, as the column's min, max and mean (tablestats._exprs)
        c = c.dt.total_microseconds().cast(pl.Float64) / 1e6
    return c.cast(pl.Float64).fill_nan(None).fill_null(float("nan")).alias(name)


def quantiles(kept: list[np.ndarray[Any, Any]], qs: tuple[float, ...]) -> dict[float, float]:
    """Quantiles with linear interpolation between the closest ranks, as pandas and numpy compute them."""
    n = sum(len(v) for v in kept)
    if not qs or not n:
        return {}
    pos, lo, hi = _ranks(qs, n)
    # only the ranks asked for are put in place (a selection, linear), not the whole array sorted; numpy
    # releases the GIL here, so the columns can be done in threads side by side
    ranks = np.unique(np.concatenate([lo, hi]))
    if len(kept) > 1:
        values = np.concatenate(kept)
        values.partition(ranks)  # in place: the joined array is this call's own
    else:
        values = np.partition(kept[0], ranks)
    return _between(qs, pos, lo, values[lo], values[hi])


def counted_quantiles(values: np.ndarray[Any, Any], counts: np.ndarray[Any, Any],
                      qs: tuple[float, ...]) -> dict[float, float]:
    """The same quantiles of ``values`` (ascending) each taken ``counts`` times (a column's ``distinct.Bitmap``)."""
    n = int(counts.sum())
    if not qs or not n:
        return {}
    pos, lo, hi = _ranks(qs, n)
    ends = np.cumsum(counts)  # the rank after each value's last
    return _between(qs, pos, lo, values[np.searchsorted(ends, lo, side="right")],
                    values[np.searchsorted(ends, hi, side="right")])


def _ranks(qs: tuple[float, ...], n: int) -> tuple[Any, Any, Any]:
    pos = np.asarray(qs) * (n - 1)
    lo = np.floor(pos).astype(np.int64)
    return pos, lo, np.minimum(lo + 1, n - 1)


def _between(qs: tuple[float, ...], pos: Any, lo: Any, below: Any, above: Any) -> dict[float, float]:
    """The interpolation between the values at the ranks below and above each position, in numpy's form (from the
    nearer end: ``a + (b - a) t`` below a half, ``b - (b - a)(1 - t)`` from it), so that it equals numpy's and
    pandas' to the last bit (one form for all differed in the last bit in 219 of 3,000 cases: found by review)."""
    t = pos - lo
    with np.errstate(invalid="ignore"):  # an interpolation between infinities is no number
        diff = above - below
        found = np.where(t >= 0.5, above - diff * (1 - t), below + diff * t)
        if np.isinf(below).any() or np.isinf(above).any():  # a column holding inf
            found = np.where(pos == lo, below, found)  # a quantile on a rank is that value (inf times 0 is NaN)
    return {q: float(v) for q, v in zip(qs, found, strict=True)}
