"""Column statistics that merge across chunks, computed with Polars: one ``select`` per chunk.

Every chunk of a table (a block of a CSV, a row group of a Parquet file, a
DataFrame) goes through :meth:`TableStats.add`. Each column keeps a small,
mergeable state: counts, min and max, a mean and a sum of squared deviations
(Chan's parallel formula, so the standard deviation does not lose precision),
the set of distinct value hashes, and a uniform sample of its numeric values.
While the values seen fit the budgets the distinct counts and quantiles are
exact; past them the distinct set becomes a k-minimum-values sketch and the
sample is thinned uniformly (docs/files.rst states the errors).

Cost is linear in rows and in columns: the expressions of one chunk are
evaluated in one Polars call, in groups of columns, never as one query whose
planning grows with the square of its width.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from .columntypes import CATEGORIES, cast_lossy, cat_has_no_distinct, category, flatten_structs, other_kind
from .distinct import Bitmap, countable, takes_bitmap
from .profiling import KMV_K as PROFILING_KMV_K
from .sample import ValueSample, counted_quantiles, quantiles

__all__ = ["CATEGORIES", "ColumnState", "TableStats", "category", "flatten_structs"]

_SEED = 0x5EED
#: distinct counts stay exact while every column's hash set together holds at most this many hashes
EXACT_DISTINCT_BUDGET = 8 << 20
#: the k of the k-minimum-values sketch used past the budget: relative standard error 1/sqrt(k-2), 0.8%
KMV_K = PROFILING_KMV_K
#: quantiles stay exact while the numeric values kept hold at most this many values, sampled above
QUANTILE_BUDGET = 8 << 20
#: the bytes all the columns' counts of whole numbers (``distinct.Bitmap``, 8 bytes a value of a range) may hold together
BITMAP_BUDGET = 32 << 20
_HASH_SPACE = float(1 << 64)
#: from this many rows a chunk's bitmap columns take their min, max, mean and variance from numpy (``_ints``)
_NUMPY_ROWS = 5_000
#: a text column's distinct values of a chunk are looked at in Python up to this many (``_marked``, ``_from_distinct``)
_IN_PYTHON = 256
#: hash sets are merged by numpy up to this many hashes together (``_merge``)
_IN_NUMPY = 1 << 16


@dataclass
class ColumnState:
    """What the chunks so far taught about one column."""

    name: str
    cat: str
    count: int = 0
    nulls: int = 0
    min: Any = None
    max: Any = None
    mean: float = 0.0
    m2: float = 0.0
    min_length: int | None = None
    max_length: int | None = None
    hashes: pl.Series | None = None
    #: while the column holds whole numbers of a small range: how many times each came (its distinct values and
    #: quantiles; such a column has no place in the quantile sample)
    bitmap: Bitmap | None = None
    #: past the exact budget: the sketch keeps hashes under this threshold
    threshold: int | None = None
    #: the column's type in its first chunk
    dtype: Any = None
    #: integers past 2**53: ``mean`` is of the values less this (a float would round a value, and a spread of a
    #: few units near 2**63 would be measured in steps of 2048)
    shift: int = 0

    @property
    def numeric(self) -> bool:
        return self.cat in ("integer", "float", "decimal")


def _row(frame: pl.DataFrame) -> dict[str, Any]:
    """The one row of a chunk's aggregates; list values (hashes, distinct values) stay Polars Series."""
    lists = [n for n, dt in frame.schema.items() if isinstance(dt, pl.List)]
    out: dict[str, Any] = frame.drop(lists).row(0, named=True) if len(lists) < frame.width else {}
    for name in lists:
        out[name] = frame.get_column(name)[0]
    return out


def _huge(lo: Any, hi: Any) -> bool:
    """Integers a float does not hold exactly."""
    return lo is not None and max(abs(lo), abs(hi)) >= 1 << 53


def _lt(a: Any, b: Any) -> bool:
    try:
        return bool(a < b)
    except TypeError:
        return str(a) < str(b)


class TableStats:
    """Mergeable statistics of a table's columns, fed one Polars DataFrame chunk at a time."""

    def __init__(self, quantiles: tuple[float, ...] = (0.5, 0.95, 0.99), *,
                 distinct_budget: int = EXACT_DISTINCT_BUDGET, quantile_budget: int = QUANTILE_BUDGET,
                 seed: int = 0) -> None:
        self.quantiles = quantiles
        self.distinct_budget, self.quantile_budget = distinct_budget, quantile_budget
        self.columns: dict[str, ColumnState] = {}
        self.rows = 0
        #: the numeric values kept for the quantiles
        self.sample = ValueSample(quantile_budget, seed)
        self._kept_hashes = 0
        self._bitmap_bytes = 0
        self.sketched = False
        self.ascii = False

    # ------------------------------------------------------------- feeding

    def add(self, df: pl.DataFrame, *, ascii_text: bool = False, nulls: tuple[str, ...] = (),
            times: Mapping[str, Callable[[pl.Series], pl.Series]] | None = None) -> None:
        """Merge one chunk; its column names and types must be the ones of the first chunk.

        :param ascii_text: the chunk's text is known to be ASCII (string lengths are then byte lengths).
        :param nulls: text values that stand for null (null markers a CSV parse left in text columns). They are
            looked for among a text column's distinct values, which its statistics compute anyway, and a column
            that holds one is measured again with them as nulls (a check of every value cost a fifth of a CSV's
            statistics).
        :param times: time columns the chunk holds as text, with their parse (which raises on a value not in the
            column's layout). Only their distinct values are parsed (:meth:`_text_times`).
        """
        self.ascii = ascii_text
        deferred: dict[str, Callable[[pl.Series], pl.Series]] = {}
        if times:
            df, deferred = self._text_times(df, times)
        df = flatten_structs(df)
        schema = df.schema
        odd = [n for n, dt in schema.items() if dt in (pl.Null, pl.Object) or isinstance(dt, (pl.Categorical, pl.Enum))]
        if odd:  # no value yet, categories, or Python objects: measured as text
            df = df.with_columns(pl.col(n).map_elements(str, return_dtype=pl.String) if schema[n] == pl.Object
                                 else pl.col(n).cast(pl.String) for n in odd)
        arrays = {n: dt for n, dt in schema.items() if isinstance(dt, pl.Array)}
        if arrays:  # a fixed-size list (Arrow's fixed_size_list) is measured as the list it is
            df = df.with_columns(pl.col(n).cast(pl.List(dt.inner)) for n, dt in arrays.items())
        retyped = []
        for s in df.get_columns():
            if s.name in deferred:
                continue
            if s.name not in self.columns:
                # a column first seen now (a JSON key) was null in the rows before
                st = self.columns[s.name] = ColumnState(s.name, category(s.dtype), dtype=s.dtype, nulls=self.rows)
                if takes_bitmap(s.dtype):
                    st.bitmap = Bitmap(s.dtype)
            elif s.dtype != self.columns[s.name].dtype and other_kind(s.dtype, self.columns[s.name].cat):
                retyped.append(s.name)
        if retyped:  # a type widened in this pass (a word among numbers): the reader measures the file again
            df = df.with_columns(cast_lossy(df.get_column(n), self.columns[n].dtype) for n in retyped)
        if df.height == 0:
            return
        if len(self.columns) > df.width:  # columns this chunk does not hold (a JSON key absent from it): null here
            present = set(df.columns)
            for st in self.columns.values():
                if st.name not in present:
                    st.nulls += df.height
        self.rows += df.height
        names = df.columns
        step = 256
        for start in range(0, len(names), step):
            part = names[start:start + step]
            exprs: list[pl.Expr] = []
            # numpy's calls cost more than Polars' aggregates on a few rows (a small file): Polars there
            counted = ({n for n in part if self._counted(self.columns[n], df.schema[n])} if df.height >= _NUMPY_ROWS
                       else set())
            for name in part:
                exprs.extend(self._exprs(name, self.columns[name], name in counted, nulls, name in deferred))
            out = _row(df.select(exprs))
            if nulls and (marked := self._marked(part, out, nulls)):
                df = df.with_columns(pl.when(pl.col(n).is_in(nulls)).then(None).otherwise(pl.col(n)).alias(n)
                                     for n in marked)
                out = _row(df.select(exprs))
            self._hash_distinct(part, out)
            for name in deferred.keys() & set(part):
                self._parsed(name, deferred[name], out)
            for name in part:
                if out.get(name + "\x00nan"):
                    self._without_nan(df, name, out)
            for name in part:
                st = self.columns[name]
                if name in counted:
                    self._ints(st, df.get_column(name), out)
                if st.cat == "integer" and (st.shift or _huge(out.get(name + "\x00min"), out.get(name + "\x00max"))):
                    self._shifted(df, st, out)
                self._merge(st, out)
                if st.bitmap is not None and name not in counted:
                    self._mark(st, df.get_column(name), out)
        if self.quantiles:
            self._sample(df)
        if not self.sketched and self._kept_hashes > self.distinct_budget:
            self._to_sketch()

    def _text_times(self, df: pl.DataFrame, times: Mapping[str, Callable[[pl.Series], pl.Series]]
                    ) -> tuple[pl.DataFrame, dict[str, Callable[[pl.Series], pl.Series]]]:
        """The time columns held as text whose distinct values alone are to be parsed (:meth:`_parsed`): those of a
        time column whose distinct values are kept. The others are parsed here, every value."""
        deferred = {}
        for name, parse in times.items():
            st = self.columns.get(name)
            if st is not None and st.cat in ("date", "datetime") and st.threshold is None and df.schema[name] == pl.String:
                deferred[name] = parse
        if len(deferred) < len(times):
            df = df.with_columns(parse(df.get_column(n)) for n, parse in times.items() if n not in deferred)
        return df, deferred

    def _parsed(self, name: str, parse: Callable[[pl.Series], pl.Series], out: dict[str, Any]) -> None:
        """A time column's min, max and hashes from its distinct texts, parsed (two texts may be one time)."""
        key = name + "\x00"
        values = parse(out.pop(key + "texts").alias(name)).unique()
        out[key + "min"], out[key + "max"] = values.min(), values.max()
        out[key + "hashes"] = values.hash(_SEED)

    @staticmethod
    def _counted(st: ColumnState, dtype: Any) -> bool:
        """An integer column whose distinct values a bitmap holds, read under the bitmap's type: its min, max, mean
        and variance are read off the values the bitmap marks (:meth:`_ints`), where Polars' four aggregates took
        four passes."""
        return st.cat == "integer" and st.bitmap is not None and not st.shift and dtype == st.bitmap.dtype

    def _exprs(self, name: str, st: ColumnState, counted: bool = False, nulls: tuple[str, ...] = (),
               text_time: bool = False) -> list[pl.Expr]:
        c = pl.col(name)
        cat = st.cat
        if text_time:  # a time column held as text: its distinct texts, to be parsed (_parsed)
            return [c.null_count().alias(name + "\x00nulls"), c.drop_nulls().unique().implode().alias(name + "\x00texts")]
        if cat == "decimal":
            c = c.cast(pl.Float64)
        elif cat == "duration":
            c = c.dt.total_microseconds().cast(pl.Float64) / 1e6
        key = name + "\x00"
        exprs = [c.null_count().alias(key + "nulls")]
        if cat == "float":  # NaN counts as a null: a chunk that holds one is measured again (_without_nan)
            exprs.append(c.is_nan().sum().alias(key + "nan"))
        if cat in ("other", "map"):
            return exprs
        if cat == "string" and st.threshold is None:
            # the distinct values first: min, max, lengths and hashes are then read off them (_from_distinct)
            return [*exprs, c.drop_nulls().unique().implode().alias(key + "distinct")]
        if cat == "string" and nulls:  # past the exact budget there are no distinct values to look among
            exprs.append(c.is_in(nulls).any().alias(key + "marked"))
        if cat in ("integer", "float", "decimal", "duration") and not counted:
            f = c if cat == "integer" else c.cast(pl.Float64)  # an integer column's mean is a float: no cast
            exprs += [c.min().alias(key + "min"), c.max().alias(key + "max"),
                      f.mean().alias(key + "mean"), f.var(ddof=0).alias(key + "var")]
        elif cat in ("string", "boolean", "date", "datetime", "time"):
            exprs += [c.min().alias(key + "min"), c.max().alias(key + "max")]
        if cat == "string":
            # in ASCII text a character is a byte: a length is then read, not counted
            length = c.str.len_bytes() if self.ascii else c.str.len_chars()
            exprs += [length.min().alias(key + "minlen"), length.max().alias(key + "maxlen")]
        elif cat == "binary":
            exprs += [c.bin.size().min().alias(key + "minlen"), c.bin.size().max().alias(key + "maxlen")]
        elif cat == "list":
            exprs += [c.list.len().min().alias(key + "minlen"), c.list.len().max().alias(key + "maxlen")]
        if not cat_has_no_distinct(cat) and st.bitmap is None:
            c = c.fill_nan(None) if cat == "float" else c
            if st.threshold is None:  # exact: the distinct values' hashes (unique first: fewer to hash)
                h = c.drop_nulls().unique().hash(_SEED)
            else:  # the sketch: only hashes under the threshold can enter it
                h = c.drop_nulls().hash(_SEED)
                h = h.filter(h < st.threshold).unique()
            exprs.append(h.implode().alias(key + "hashes"))
        return exprs

    def _marked(self, names: list[str], out: dict[str, Any], nulls: tuple[str, ...]) -> list[str]:
        """The text columns that hold a null marker: among their distinct values, or counted (``_exprs``)."""
        marked = []
        for name in names:
            if self.columns[name].cat != "string":
                continue
            distinct = out.get(name + "\x00distinct")
            if distinct is not None:
                # a few values are looked up in Python: a Polars call per column per chunk costs more
                if (not set(nulls).isdisjoint(distinct.to_list()) if len(distinct) <= _IN_PYTHON
                        else distinct.is_in(nulls).any()):
                    marked.append(name)
            elif out.get(name + "\x00marked"):
                marked.append(name)
        return marked

    def _merge(self, st: ColumnState, out: dict[str, Any], count: bool = True) -> None:
        key = st.name + "\x00"
        if key + "distinct" in out:
            self._from_distinct(out, key)
        hashes = out.get(key + "hashes")
        if count:
            self._count(st, out, key)
        if hashes is not None:
            if not isinstance(hashes, pl.Series):
                hashes = pl.Series(hashes, dtype=pl.UInt64)
            before = 0 if st.hashes is None else len(st.hashes)
            if st.hashes is None:
                st.hashes = hashes
            elif before + len(hashes) <= _IN_NUMPY:  # numpy's sorted union: no call to Polars' pool
                st.hashes = pl.Series(np.union1d(st.hashes.to_numpy(), hashes.to_numpy()), dtype=pl.UInt64)
            else:
                st.hashes = pl.concat([st.hashes, hashes]).unique()
            if st.threshold is not None and len(st.hashes) > KMV_K:
                st.hashes = st.hashes.bottom_k(KMV_K)
                st.threshold = int(st.hashes.max())  # type: ignore[arg-type]
            self._kept_hashes += len(st.hashes) - before

    @staticmethod
    def _shifted(df: pl.DataFrame, st: ColumnState, out: dict[str, Any]) -> None:
        """An integer column's mean and variance, of its values less a shift, in exact integers before any float."""
        key = st.name + "\x00"
        whole = df.schema[st.name].is_integer()
        if not st.shift:
            if not whole:  # floats in a pass about to widen the column (it is measured again): nothing to keep exact
                return
            st.shift = int(out[key + "min"])
            if st.count:  # the chunks before in the shifted frame (their spread is unchanged)
                st.mean -= st.shift
        c = pl.col(st.name)
        if whole:
            c = (c.cast(pl.Int128) - st.shift).cast(pl.Float64)
        else:
            c = c.cast(pl.Float64).fill_nan(None) - float(st.shift)
        out[key + "mean"], out[key + "var"] = df.select(c.mean().alias("m"), c.var(ddof=0).alias("v")).row(0)

    @staticmethod
    def _without_nan(df: pl.DataFrame, name: str, out: dict[str, Any]) -> None:
        """A float column's aggregates again, with its NaN as nulls (min and max skip NaN, a mean does not)."""
        c = pl.col(name).fill_nan(None).cast(pl.Float64)
        key = name + "\x00"
        kinds = ("nulls", "min", "max", "mean", "var")  # each named apart from every column (one named "a" clashed)
        row = df.select(c.null_count().alias("\x00nulls"), c.min().alias("\x00min"), c.max().alias("\x00max"),
                        c.mean().alias("\x00mean"), c.var(ddof=0).alias("\x00var")).row(0)
        for kind, value in zip(kinds, row, strict=True):
            out[key + kind] = value

    @staticmethod
    def _hash_distinct(names: list[str], out: dict[str, Any]) -> None:
        """The hashes of the text columns' distinct values, in one call for all of them (a call a column cost its
        dispatch to Polars' pool): one column of them all, hashed, cut back apart."""
        found = [(n, out[n + "\x00distinct"]) for n in names if n + "\x00distinct" in out]
        if len(found) < 2:
            return
        hashed = pl.concat([v for _n, v in found]).hash(_SEED)
        at = 0
        for name, values in found:
            out[name + "\x00hashes"] = hashed.slice(at, len(values))
            at += len(values)

    def _from_distinct(self, out: dict[str, Any], key: str) -> None:
        """A text column's min, max, lengths and hashes, from its distinct values: often far fewer than rows."""
        values: pl.Series = out[key + "distinct"]
        if 0 < len(values) <= _IN_PYTHON:  # a few values: in Python (a Polars call per column per chunk costs more);
            texts = values.to_list()  # code point order is UTF-8's byte order, and a str's len is its characters
            lengths = [len(t) for t in texts]
            out.update({key + "min": min(texts), key + "max": max(texts),
                        key + "minlen": min(lengths), key + "maxlen": max(lengths)})
        elif len(values):
            length = values.str.len_bytes() if self.ascii else values.str.len_chars()
            out.update({key + "min": values.min(), key + "max": values.max(),
                        key + "minlen": length.min(), key + "maxlen": length.max()})
        if key + "hashes" not in out:  # hashed with the other text columns' (_hash_distinct), or alone
            out[key + "hashes"] = values.hash(_SEED)

    def _count(self, st: ColumnState, out: dict[str, Any], key: str) -> None:
        nulls = int(out[key + "nulls"])
        rows = self.rows - st.count - st.nulls  # rows of this chunk
        n = rows - nulls
        st.nulls += nulls
        for kind in ("min", "max"):
            v = out.get(key + kind)
            if v is None or (isinstance(v, float) and math.isnan(v)):
                continue
            cur = getattr(st, kind)
            if cur is None or (_lt(v, cur) if kind == "min" else _lt(cur, v)):
                setattr(st, kind, v)
        mean = out.get(key + "mean")
        if mean is not None and n > 0:
            var = out.get(key + "var") or 0.0
            total = st.count + n
            delta = mean - st.mean
            st.m2 += var * n + delta * delta * st.count * n / total
            st.mean += delta * n / total
        st.count += n
        lo, hi = out.get(key + "minlen"), out.get(key + "maxlen")
        if lo is not None:
            st.min_length = lo if st.min_length is None else min(st.min_length, lo)
            st.max_length = hi if st.max_length is None else max(st.max_length, hi or 0)

    def _ints(self, st: ColumnState, s: pl.Series, out: dict[str, Any]) -> None:
        """A bitmap's integer column: min and max in numpy, the values marked, the mean and variance from how many
        times each value came (the bitmap's count, when it made one) or from the values."""
        bitmap = st.bitmap
        assert bitmap is not None
        key = st.name + "\x00"
        # a column without nulls is read in place (a Polars call on each column of each chunk costs its dispatch; its
        # values taken in the chunk's select instead held a copy of every column: +25 MB of peak memory)
        values = (s.drop_nulls() if out[key + "nulls"] else s).to_numpy()
        if not len(values):
            return
        lo, hi = int(values.min()), int(values.max())
        out[key + "min"], out[key + "max"] = lo, hi
        before, size = bitmap.count, bitmap.nbytes
        fits, counts = bitmap.mark(values, lo, hi, BITMAP_BUDGET - self._bitmap_bytes)
        self._bitmap_bytes += bitmap.nbytes - size
        if counts is not None:  # sums over the range, not the values: each from the bitmap's base, exact up to 2**53
            at = np.arange(len(counts), dtype=np.float64)
            mean = float(counts @ at) / len(values)
            out[key + "mean"] = bitmap.base + mean
            out[key + "var"] = float(counts @ np.square(at - mean)) / len(values)
        elif lo == hi:  # one value (counted without a pass)
            out[key + "mean"], out[key + "var"] = float(lo), 0.0
        else:
            out[key + "mean"], out[key + "var"] = float(values.mean()), float(values.var())
        if fits:
            self._kept_hashes += bitmap.count - before
            return
        self._unmap(st)
        self._merge(st, {key + "nulls": 0, key + "hashes": s.drop_nulls().unique().hash(_SEED)}, count=False)

    def _mark(self, st: ColumnState, s: pl.Series, out: dict[str, Any]) -> None:
        """Mark the chunk's values in the column's bitmap, or turn it into a hash set when they do not fit."""
        assert st.bitmap is not None
        key = st.name + "\x00"
        before, size = st.bitmap.count, st.bitmap.nbytes
        fits = st.bitmap.add(s, out.get(key + "min"), out.get(key + "max"), BITMAP_BUDGET - self._bitmap_bytes)
        self._bitmap_bytes += st.bitmap.nbytes - size
        if fits:
            self._kept_hashes += st.bitmap.count - before
            return
        self._unmap(st)
        chunk = s.fill_nan(None) if s.dtype.is_float() else s
        self._merge(st, {key + "nulls": 0, key + "hashes": chunk.drop_nulls().unique().hash(_SEED)}, count=False)

    def _unmap(self, st: ColumnState) -> None:
        """The column's counts as the hash set they stand for (a sketch of it past the exact budget), and their
        values into the quantile sample."""
        assert st.bitmap is not None
        st.hashes = st.bitmap.hashes(_SEED)
        if self.quantiles:
            self.sample.pour(st.name, *st.bitmap.values())
        self._bitmap_bytes -= st.bitmap.nbytes
        st.bitmap = None
        if self.sketched:
            self._sketch(st)

    def _to_sketch(self) -> None:
        """Past the exact budget: every hash set becomes a k-minimum-values sketch. The columns counted value by
        value keep their counts (bounded by ``BITMAP_BUDGET``): their distinct counts and quantiles stay exact."""
        self.sketched = True
        for st in self.columns.values():
            if st.bitmap is None:
                self._sketch(st)

    @staticmethod
    def _sketch(st: ColumnState) -> None:
        if st.hashes is not None and len(st.hashes) > KMV_K:
            st.hashes = st.hashes.bottom_k(KMV_K)
            st.threshold = int(st.hashes.max())  # type: ignore[arg-type]
        elif st.hashes is not None:
            st.threshold = (1 << 64) - 1

    def _sample(self, df: pl.DataFrame) -> None:
        """The chunk's values of the numeric columns that keep no counts (those have exact quantiles apart)."""
        self.sample.add(df, {n: st.cat for n in df.columns
                             if ((st := self.columns[n]).numeric or st.cat == "duration") and st.bitmap is None})

    def expect_rows(self, first: pl.DataFrame, rows: float) -> None:
        """A hint of the table's size, given its first chunk (:meth:`ValueSample.expect`). Only the numeric columns
        that will take room in the sample count: not those whose values the first chunk shows to be whole numbers
        of a range the counts may cover (``distinct.Bitmap``; a float column of ``3.0``s is one)."""
        self.sample.expect(sum(1 for s in first.get_columns()
                               if category(s.dtype) in ("integer", "float", "decimal", "duration") and not countable(s)),
                           rows)

    # ------------------------------------------------------------- results

    def distinct(self, st: ColumnState) -> tuple[int | None, bool]:
        """The distinct count, and whether it is exact."""
        if st.bitmap is not None:
            return st.bitmap.count, True
        if cat_has_no_distinct(st.cat):  # a map's values were not hashed: no count, not a count of 0
            return None, False
        if st.hashes is None:
            return 0, True
        if st.threshold is None or len(st.hashes) < KMV_K:
            return len(st.hashes), True
        kth = float(st.hashes.max())  # type: ignore[arg-type]
        return round((KMV_K - 1) / ((kth + 1) / _HASH_SPACE)), False

    def quantile_values(self, st: ColumnState) -> dict[float, float]:
        """The column's quantiles: exact from its counts, or from its sample (exact while every value fits)."""
        if st.bitmap is not None:
            return counted_quantiles(*st.bitmap.values(), self.quantiles)
        return quantiles(self.sample.values.get(st.name, []), self.quantiles)

    def std(self, st: ColumnState) -> float | None:
        if st.count < 2 or not (st.numeric or st.cat == "duration"):
            return None
        return math.sqrt(max(st.m2, 0.0) / (st.count - 1))
