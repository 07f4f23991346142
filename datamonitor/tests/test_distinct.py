"""Distinct counts through the bitmap of whole numbers equal pandas, and equal the hash-set path's counts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest

from datamonitor import distinct, tablestats
from datamonitor.tablestats import TableStats


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    n = 60_000
    late = rng.integers(-50, 50, n).astype(float)
    late[n // 2:] += 0.5  # whole numbers first, halves after: the bitmap turns into a hash set
    wide = rng.integers(0, 1000, n)
    wide[-10:] = rng.integers(10**12, 10**13, 10)  # past the bitmap's range at the end
    with_nan = rng.integers(0, 300, n).astype(float)
    with_nan[::7] = np.nan
    return pd.DataFrame({
        "small": rng.integers(-20, 20, n),
        "minutes": rng.integers(0, 2400, n).astype(float),
        "late_halves": late,
        "wide": wide,
        "with_nan": with_nan,
        "int32": pl.Series(rng.integers(0, 70_000, n)).cast(pl.Int32).to_numpy(),
        "neg_zero": np.where(rng.random(n) < 0.5, -0.0, 0.0),
    })


def _measure(df: pd.DataFrame, budget: int = 1 << 30, step: int = 7_000) -> dict[str, tuple[int | None, bool]]:
    frame = pl.from_pandas(df, nan_to_null=False)
    stats = TableStats(distinct_budget=budget)
    for start in range(0, frame.height, step):
        stats.add(frame.slice(start, step))
    return {name: stats.distinct(st) for name, st in stats.columns.items()}


def test_bitmap_counts_equal_pandas() -> None:
    df = _frame()
    got = _measure(df)
    for name, (count, exact) in got.items():
        assert exact and count == df[name].nunique(), name


def test_bitmap_and_hash_set_give_the_same_counts_exact_and_sketched(monkeypatch: pytest.MonkeyPatch) -> None:
    """Exact: the same counts either way. Past the exact budget (a sketch from the second chunk on) the hash sets
    become sketches, the same either way for the columns whose counts stopped; the columns still counted value by
    value stay exact (their counts are bounded apart), where a hash set of theirs would be a sketch."""
    df = _frame()
    for budget in (1 << 30, 500):
        with_bitmap = _measure(df, budget)
        monkeypatch.setattr(tablestats, "takes_bitmap", lambda dtype: False)
        without = _measure(df, budget)
        monkeypatch.undo()
        counted = {"small", "minutes", "with_nan", "int32", "neg_zero"}  # whole numbers of a small range throughout
        for name in df.columns:
            if budget < 1 << 30 and name in counted:
                assert with_bitmap[name] == (df[name].nunique(), True), name
            else:
                assert with_bitmap[name] == without[name], (budget, name)
        if budget == 500:
            assert not without["int32"][1]  # as a hash set, its ~40,000 values became a sketch


def test_a_range_past_the_budget_falls_back_to_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tablestats, "BITMAP_BUDGET", 3000)  # room for "small" and "minutes" only
    df = _frame()
    stats = TableStats()
    stats.add(pl.from_pandas(df))
    kinds = {name: st.bitmap is not None for name, st in stats.columns.items()}
    assert kinds["small"] and not kinds["wide"] and not kinds["late_halves"]
    assert stats._bitmap_bytes <= 3000
    for name, st in stats.columns.items():
        assert stats.distinct(st) == (df[name].nunique(), True), name


def test_a_bitmap_hashes_like_the_hash_set() -> None:
    bitmap = distinct.Bitmap(pl.Float64)
    values = pl.Series([3.0, -2.0, 7.0, 3.0, None])
    assert bitmap.add(values, -2.0, 7.0, 1 << 20)
    assert bitmap.count == 3
    assert sorted(bitmap.hashes(5).to_list()) == sorted(values.drop_nulls().unique().hash(5).to_list())
    assert not bitmap.add(pl.Series([1.5]), 1.5, 1.5, 1 << 20)
    assert not bitmap.add(pl.Series([1], dtype=pl.Int64), 1, 1, 1 << 20)  # another type: not this bitmap


def test_nan_counts_as_a_null_in_every_aggregate() -> None:
    df = _frame()
    frame = pl.from_pandas(df, nan_to_null=False)  # NaN stays NaN in Polars: the chunk is measured again
    stats = TableStats()
    for start in range(0, frame.height, 7_000):
        stats.add(frame.slice(start, 7_000))
    st = stats.columns["with_nan"]
    series = df["with_nan"]
    assert st.nulls == series.isna().sum() > 0
    assert (st.min, st.max) == (series.min(), series.max())
    assert abs(st.mean - series.mean()) < 1e-9 and abs(stats.std(st) - series.std()) < 1e-9


@pytest.mark.parametrize("distinct_budget", [1 << 30, 500])  # 500: past the exact distinct budget (found by review)
@pytest.mark.parametrize("budget", [1 << 30, 20_000])
def test_quantiles_from_counts_and_from_counts_turned_into_the_sample(budget: int, distinct_budget: int) -> None:
    """Columns counted to the end take exact quantiles from their counts; columns whose counts stop (a half, a value
    past the range) pour them into the sample as if sampled from the first row: exact while everything fits, within
    one percentile rank past the budget."""
    from datamonitor.tests.test_sources_files import assert_quantiles_within_one_rank

    df = _frame()
    frame = pl.from_pandas(df, nan_to_null=True)
    stats = TableStats(quantiles=(0.01, 0.5, 0.95, 0.99), quantile_budget=budget, distinct_budget=distinct_budget)
    for start in range(0, frame.height, 7_000):
        stats.add(frame.slice(start, 7_000))
    counted = {name for name, st in stats.columns.items() if st.bitmap is not None}
    assert {"small", "minutes", "int32"} <= counted and not {"late_halves", "wide"} & counted
    found = {name: stats.quantile_values(st) for name, st in stats.columns.items()}
    for name in df.columns:
        for q, est in found[name].items():
            if name in counted or budget > len(df) * len(df.columns):
                assert est == df[name].quantile(q), (name, q)

    class Prof:
        columns = [type("C", (), {"name": n, "type": "float", "quantiles": found[n]}) for n in df.columns]

    assert assert_quantiles_within_one_rank(Prof, df) == 4 * len(df.columns)


def test_counted_and_sampled_quantiles_equal_numpy_to_the_last_bit() -> None:
    """From counts and from the values themselves, the same bits as numpy (and pandas): numpy interpolates from the
    nearer end, and one form for all positions differed in the last bit in 219 of 3,000 cases (found by review)."""
    from datamonitor.sample import counted_quantiles, quantiles

    rng = np.random.default_rng(5)
    qs = (0.0, 0.01, 0.1, 0.25, 0.3, 0.5, 0.7, 0.9, 0.95, 0.99, 1.0)
    for _ in range(3000):
        k = int(rng.integers(1, 40))
        values = np.sort(rng.choice(np.arange(-10**6, 10**6), size=k, replace=False)).astype(float)
        counts = rng.integers(0, 5, k)
        counts[rng.integers(0, k)] += 1
        want = list(np.quantile(np.repeat(values, counts), qs))
        got = counted_quantiles(values, counts, qs)
        kept = quantiles([np.repeat(values, counts)], qs)
        assert [got[q] for q in qs] == want == [kept[q] for q in qs], (values, counts)


def test_whole_number_floats_do_not_make_a_table_that_fits_the_sample_sampled(tmp_path) -> None:
    """A big file's first chunk hints its size; the columns counted value by value (here floats written ``3.0``, as
    pandas writes an integer column with a NaN) take no room in the sample, so they must not count in that hint: the
    one real float column fits the budget and its quantiles stay exact (found by review)."""
    from datamonitor.profiling import ProfileOptions, profile_file

    rng = np.random.default_rng(5)
    n = 200_000
    data = {"g": rng.normal(size=n), **{f"w{k}": rng.integers(0, 100, n).astype(float) for k in range(5)}}
    path = tmp_path / "whole.csv"
    pl.DataFrame(data).write_csv(path)
    prof = profile_file(path, ProfileOptions(chunk_bytes=1 << 20, quantile_values=250_000))
    g = next(c for c in prof.columns if c.name == "g")
    want = np.quantile(data["g"], (0.5, 0.95, 0.99))
    assert [g.quantiles[q] for q in (0.5, 0.95, 0.99)] == list(want)


@pytest.mark.parametrize("runs", [1, 7, 180, 3_000, 60_000, 170_000])
def test_values_in_runs_are_counted_as_bincount_counts_them(runs: int) -> None:
    """A sorted file's month or day comes in long runs of one value, counted run by run (bincount is slowest there);
    the counts, distinct count, mean, variance and quantiles are those of the values, whatever the runs."""
    from datamonitor.distinct import Bitmap, _run_counts

    rng = np.random.default_rng(runs)
    n = 170_000
    cuts = np.sort(rng.choice(np.arange(1, n), size=runs - 1, replace=False)) if runs > 1 else np.array([], int)
    lengths = np.diff(np.concatenate(([0], cuts, [n])))
    values = np.repeat(rng.integers(-40, 1200, size=runs), lengths)
    if runs == 60_000:  # probes that all fall on one value, with short runs between them
        values = np.where(np.arange(n) % 2 == 0, 5, values)
    lo, hi = int(values.min()), int(values.max())
    # the long runs take the count per run; many runs, and short ones hidden between the probes, bincount
    assert (_run_counts(values, lo, hi - lo + 1) is not None) == (runs <= 180)
    bitmap = Bitmap(pl.Int64)
    fits, counts = bitmap.mark(values, lo, hi, 1 << 30)
    want = np.bincount(values - lo, minlength=hi - lo + 1)
    assert fits and bitmap.base == lo
    assert bitmap.counts is not None and (bitmap.counts == want).all()
    assert bitmap.count == len(np.unique(values))
    if counts is not None:
        assert (counts == want).all()
    stats = TableStats(quantiles=(0.5, 0.95, 0.99))
    stats.add(pl.DataFrame({"x": values}))
    st = stats.columns["x"]
    assert stats.distinct(st) == (len(np.unique(values)), True)
    assert st.mean == pytest.approx(values.mean(), rel=1e-12)
    assert stats.quantile_values(st) == {q: float(np.quantile(values, q)) for q in (0.5, 0.95, 0.99)}
