"""The same file through the one-chunk path and the pipelined path (parse ahead, statistics aside): same KPIs."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from datamonitor.profiling import ProfileOptions, profile_file


def _messy(tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    rng = np.random.default_rng(3)
    n = 40_000
    df = pd.DataFrame({
        "id": np.arange(n),
        "amount": rng.integers(0, 500, n).astype(object),
        "code": rng.choice(["a", "b", "c", "NA"], n),
        "when": pd.date_range("2024-01-01", periods=n, freq="min").strftime("%Y-%m-%d %H:%M:%S"),
        "score": rng.normal(10, 3, n).round(3),
    })
    df.loc[n - 5, "amount"] = 2.5  # a late float: the column widens, the file is measured again
    path = tmp_path / "messy.csv"
    text = df.to_csv(index=False).splitlines(keepends=True)
    text.insert(30_000, "1,2,3,4,5,6,7\n")  # a row too long, deep in the file: a bad row at its line
    path.write_text("".join(text))
    truth = pd.read_csv(path, on_bad_lines="skip")
    return path, truth


@pytest.mark.parametrize("chunk", [64 << 10, 256 << 10])
def test_the_pipelined_path_measures_what_the_one_chunk_path_measures(tmp_path: Path, chunk: int) -> None:
    path, truth = _messy(tmp_path)
    whole = profile_file(path, ProfileOptions(chunk_bytes=1 << 30))
    piped = profile_file(path, ProfileOptions(chunk_bytes=chunk))
    assert whole.rows == piped.rows == len(truth)
    assert whole.bad_rows == piped.bad_rows == 1
    assert whole.bad_row_examples == piped.bad_row_examples
    assert whole.bad_row_examples[0][0] == 30_001  # the header is line 1
    assert whole.schema == piped.schema
    assert dict(whole.schema)["amount"] == "float"
    for a, b in zip(whole.columns, piped.columns, strict=True):
        assert (a.nulls, a.distinct, a.distinct_exact, a.min, a.max) == (b.nulls, b.distinct, b.distinct_exact, b.min,
                                                                          b.max), a.name
        assert a.quantiles == b.quantiles, a.name
        if a.mean is not None:
            assert math.isclose(a.mean, b.mean, rel_tol=1e-12) and math.isclose(a.std, b.std, rel_tol=1e-9), a.name
    amount = next(c for c in piped.columns if c.name == "amount")
    assert amount.distinct == truth["amount"].nunique() and math.isclose(amount.mean, truth["amount"].mean())


def test_quantiles_of_several_big_columns_computed_side_by_side_equal_pandas(tmp_path: Path) -> None:
    """Past a million sampled values the columns' quantiles are selected in two threads; they equal pandas'."""
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({"a": rng.normal(size=400_000), "b": rng.integers(0, 10**6, 400_000),
                          "c": rng.exponential(size=400_000)})
    path = tmp_path / "big.csv"
    frame.to_csv(path, index=False)
    quantiles = (0.5, 0.95, 0.99)
    profile = profile_file(path, ProfileOptions(quantiles=quantiles, chunk_bytes=1 << 20))
    for col in profile.columns:
        for q in quantiles:
            assert col.quantiles[q] == pytest.approx(float(frame[col.name].quantile(q)), rel=1e-12), (col.name, q)
