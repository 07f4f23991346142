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

__all__ = ["ValueSample", "quantiles"]


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
    if cat == "duration":
        c = c.dt.total_microseconds()
    return c.cast(pl.Float64).fill_nan(None).fill_null(float("nan")).alias(name)


def quantiles(kept: list[np.ndarray[Any, Any]], qs: tuple[float, ...]) -> dict[float, float]:
    """Quantiles with linear interpolation between the closest ranks, as pandas and numpy compute them."""
    n = sum(len(v) for v in kept)
    if not qs or not n:
        return {}
    pos = np.asarray(qs) * (n - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, n - 1)
    # only the ranks asked for are put in place (a selection, linear), not the whole array sorted; numpy
    # releases the GIL here, so the columns can be done in threads side by side
    ranks = np.unique(np.concatenate([lo, hi]))
    if len(kept) > 1:
        values = np.concatenate(kept)
        values.partition(ranks)  # in place: the joined array is this call's own
    else:
        values = np.partition(kept[0], ranks)
    below, above = values[lo], values[hi]
    if np.isinf(below).any() or np.isinf(above).any():  # a column holding inf (numpy would warn)
        with np.errstate(invalid="ignore"):  # an interpolation between infinities is no number
            # a quantile on a rank is that value (an infinity times nothing would be NaN)
            found = np.where(pos == lo, below, below + (above - below) * (pos - lo))
    else:
        found = below + (above - below) * (pos - lo)
    return {q: float(v) for q, v in zip(qs, found, strict=True)}
