"""Regressions found by the differential test (test_files_differential.py): one minimal file each, with its oracle.

Each of these gave a wrong KPI, or failed the whole file, before its fix. Some need a file past one 8 MiB
read block (the size at which the engine's chunks were cut before ``chunk_bytes`` cut smaller ones), a few
seconds at most.
"""

from __future__ import annotations

import json
import math
import statistics
from fractions import Fraction
from pathlib import Path

import pandas as pd
import pytest

from datamonitor.chunking import chunked
from datamonitor.profiling import ColumnProfile, ProfileOptions, profile_file
from datamonitor.sources.files import file_kpis

NULLS = ["", "NA", "N/A", "NULL", "null", "NaN", "nan", "-NaN", "-nan", "None"]
#: a file past one read block (8 MiB) is cut into chunks of this size even by the code before the fixes
MIB = ProfileOptions(chunk_bytes=1 << 20)


def cols(path: Path, options: ProfileOptions | None = None) -> dict[str, ColumnProfile]:
    return {c.name: c for c in profile_file(path, options).columns}


def test_chunk_bytes_cuts_a_file_smaller_than_a_read_block(tmp_path: Path) -> None:
    """``chunk_bytes=4096`` parsed 8 MiB at a time (the read block), so no small file was ever cut."""
    data = b"".join(b'%d,"a\nb",x\n' % i for i in range(5000))
    chunks = list(chunked(iter([data]), 4096, quoted=True))
    assert b"".join(chunks) == data and len(chunks) >= len(data) // 4096 - 1
    assert all(c.endswith(b"\n") and c.count(b'"') % 2 == 0 and len(c) < 4096 + 64 for c in chunks)
    path = tmp_path / "small.csv"
    path.write_bytes(b"i,s,t\n" + data)
    whole, small = profile_file(path), profile_file(path, ProfileOptions(chunk_bytes=4096))
    assert small.rows == whole.rows == 5000 and small.columns == whole.columns


def test_a_late_widening_keeps_the_layout_of_time_columns(tmp_path: Path) -> None:
    """A CSV of several chunks with a datetime column and one late float failed whole ("ValueError: no layout"):
    the second pass, under the widened types, had lost the layout of the times."""
    rows = ["i,when,amount", *(f"{i},2024-01-01 {i % 24:02d}:00:00,{i % 500}" for i in range(330_000))]
    rows[-5] = "7,2024-01-02 00:00:00,2.5"
    path = tmp_path / "times.csv"
    path.write_text("\n".join(rows) + "\n")
    got = cols(path, MIB)
    truth = pd.read_csv(path)
    assert got["amount"].type == "float" and math.isclose(got["amount"].mean, truth["amount"].mean(), rel_tol=1e-12)
    assert got["when"].type == "datetime" and got["when"].max.isoformat() == "2024-01-02T00:00:00+00:00"


def test_signed_and_spelled_out_numbers_are_numbers_as_pandas_reads_them(tmp_path: Path) -> None:
    """"+5" and "Infinity" made text columns (Polars' inference); pandas reads numbers."""
    path = tmp_path / "signs.csv"
    path.write_text("delta,ratio\n+5,1.5\n-3,Infinity\n+12,+0.25\n")
    truth = pd.read_csv(path)
    assert str(truth["delta"].dtype) == "int64" and str(truth["ratio"].dtype) == "float64"
    got = cols(path)
    assert got["delta"].type == "integer" and (got["delta"].min, got["delta"].max) == (-3, 12)
    assert got["delta"].mean == truth["delta"].mean()
    assert got["ratio"].type == "float" and got["ratio"].min == 0.25 and got["ratio"].distinct == 3


def test_a_column_holding_inf_is_measured_and_stored(tmp_path: Path) -> None:
    """A float column with inf failed the whole file when its KPIs were stored ("nan is not a finite number",
    after numpy warnings): a quantile on a rank is that value, and a KPI that is not finite is not reported."""
    path = tmp_path / "inf.csv"
    path.write_text("x,n\ninf,1\n1.5,2\n-inf,3\n")
    got = cols(path)["x"]
    assert got.type == "float" and got.distinct == 3 and got.nulls == 0
    assert got.quantiles == {0.5: 1.5} and got.mean is None and got.min is None and got.deciles == ()
    result = file_kpis(path)
    assert result.error is None, result.error
    records = result.records
    names = {(r.name, r.subject) for r in records}
    assert ("column.p50", "x") in names and ("column.p95", "x") not in names and ("column.mean", "x") not in names
    assert all(r.value is None or math.isfinite(r.value) for r in records)


def test_a_json_key_holding_true_and_5_is_text_not_ones_and_zeros(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_text('{"f": true}\n{"f": false}\n{"f": 5}\n{"f": {"x": 1}, "oops"\n')
    prof = profile_file(path)
    f = {c.name: c for c in prof.columns}["f"]
    assert prof.bad_rows == 1 and prof.rows == 3
    assert f.type == "string" and (f.min, f.max, f.distinct) == ("5", "true", 3)


def test_a_json_chunk_with_a_malformed_line_keeps_its_values_and_new_keys(tmp_path: Path) -> None:
    """A chunk holding a malformed line was read under the types so far: 2.5 was cut to 2, a new key dropped."""
    lines = [json.dumps({"a": i}) for i in range(640_000)]  # 8.9 MB: a second chunk even with 8 MiB ones
    lines[-100] = json.dumps({"a": 2.5, "new": 7})
    lines[-50] = '{"a": 1, oops'
    path = tmp_path / "slow.jsonl"
    path.write_text("\n".join(lines) + "\n")
    prof = profile_file(path, MIB)
    got = {c.name: c for c in prof.columns}
    values = [json.loads(line)["a"] for n, line in enumerate(lines) if n != len(lines) - 50]
    assert prof.rows == len(values) and prof.bad_row_examples == ((len(lines) - 49, "malformed JSON"),)
    assert got["a"].type == "float" and math.isclose(got["a"].mean, math.fsum(values) / len(values), rel_tol=1e-12)
    assert got["new"].type == "integer" and got["new"].nulls == len(values) - 1 and got["new"].max == 7


def test_whole_numbers_past_int64_on_both_sides_stay_integers(tmp_path: Path) -> None:
    """2**64 - 1 among values under -2**63 became floats where a ragged row sent the chunk to the text path (its
    types tried Int64, then Float64), which rounds them: 18446744073709551615 and ...614 were one value."""
    values = [2**64 - 1, 2**64 - 2, -(2**63) - 1, 5]
    path = tmp_path / "huge.csv"
    path.write_text("a,b\n" + "".join(f"{v},x\n" for v in values) + "1,2,3\n")
    prof = profile_file(path)
    got = prof.columns[0]
    assert prof.bad_rows == 1 and got.type == "integer"
    assert (got.min, got.max, got.distinct) == (min(values), max(values), 4)


def test_a_column_with_no_value_in_the_first_mebibyte_is_typed_by_its_values(tmp_path: Path) -> None:
    """A column empty in the first rows was text for good: its floats later were measured as text. (Its datetime,
    once typed, kept its layout through the chunks read as text after it: a late word in ``w`` sends them there.)"""
    rows = ["i,x,t,w", *(f"{i},,,{i}" for i in range(200_000)), *(f"{i},{i / 4},,{i}" for i in range(1000))]
    rows[-500] = "7,2.5,2024-03-01 10:00:00,8"
    rows[-3] = "7,2.5,,word"
    path = tmp_path / "late.csv"
    path.write_text("\n".join(rows) + "\n")
    truth = pd.read_csv(path, keep_default_na=False, na_values=NULLS, low_memory=False)
    for options in (ProfileOptions(), ProfileOptions(chunk_bytes=1 << 16)):
        got = cols(path, options)
        x, t = got["x"], got["t"]
        assert x.type == "float" and x.nulls == 200_000 and math.isclose(x.mean, truth["x"].mean(), rel_tol=1e-12)
        assert t.type == "datetime" and t.nulls == len(rows) - 2 and t.min.isoformat() == "2024-03-01T10:00:00+00:00"
        assert got["w"].type == "string" and got["w"].distinct == truth["w"].nunique()


def test_dates_after_more_than_a_hundred_empty_rows_are_dates(tmp_path: Path) -> None:
    """The first 100 rows decided whether a text column was tried as times: 150 empty ones made dates text."""
    rows = ["i,d", *(f"{i}," for i in range(150)), *(f"{i},2024-01-{i % 28 + 1:02d}" for i in range(150, 400))]
    path = tmp_path / "dates.csv"
    path.write_text("\n".join(rows) + "\n")
    d = cols(path)["d"]
    assert d.type == "date" and d.nulls == 150 and d.distinct == 28
    assert (d.min.date().isoformat(), d.max.date().isoformat()) == ("2024-01-01", "2024-01-28")


@pytest.mark.parametrize("layout", ["dates first", "datetimes first"])
def test_dates_among_datetimes_make_text_however_the_file_is_cut(tmp_path: Path, layout: str) -> None:
    """docs/files.rst: a time column has one layout; dates in a column of datetimes make it text, in one chunk or
    in many (a widening to datetimes failed the parse of the dates after it)."""
    a, b = ["2024-01-01"] * 3000, ["2024-01-02 10:00:00"] * 3000
    rows = ["d", *(a + b if layout == "dates first" else b + a), "2024-01-03"]
    path = tmp_path / "mixed.csv"
    path.write_text("\n".join(rows) + "\n")
    for options in (ProfileOptions(), ProfileOptions(chunk_bytes=4096)):
        d = cols(path, options)["d"]
        assert (d.type, d.distinct, d.min, d.max) == ("string", 3, "2024-01-01", "2024-01-03")


@pytest.mark.parametrize("rest", ["3,4\n", "3,4,5\n6,7\n"])
def test_a_line_of_one_empty_quoted_field_is_a_bad_row_on_every_path(tmp_path: Path, rest: str) -> None:
    """'""' is one field, not a blank line: a bad row whether Polars parsed the chunk or Python's csv module did (a
    row too long sends the chunk there); the second path skipped it without a word."""
    path = tmp_path / "q.csv"
    path.write_text('a,b\n1,2\n""\n' + rest)
    prof = profile_file(path)
    ragged = rest.count(",") != rest.count("\n")
    assert prof.rows == 2 and prof.bad_rows == 1 + ragged
    assert prof.bad_row_examples[0] == (3, "expected 2 fields, found 1")


def test_json_keys_and_numbers_measured_alike_in_every_chunk(tmp_path: Path) -> None:
    """Past the first chunk, a key first seen late had its nulls undercounted (the rows before it were counted as
    values), and integers after a float in the first chunk were hashed as integers, the float chunk's 5.0 and a
    later 5 two distinct values."""
    lines = [json.dumps({"a": 0.5}), *(json.dumps({"a": i % 1000}) for i in range(900_000))]
    lines[-10:] = [json.dumps({"a": i, "b": i % 3}) for i in range(10)]
    path = tmp_path / "keys.jsonl"
    path.write_text("\n".join(lines) + "\n")
    prof = profile_file(path, MIB)
    got = {c.name: c for c in prof.columns}
    assert prof.rows == len(lines) and got["a"].type == "float" and got["a"].distinct == 1001
    assert got["b"].nulls == len(lines) - 10 and got["b"].distinct == 3
    assert got["b"].std is not None and math.isclose(got["b"].std, pd.Series([i % 3 for i in range(10)]).std())


def test_a_short_row_does_not_type_the_columns(tmp_path: Path) -> None:
    """A bad row (too few fields) is left out of every KPI, its type too: its 2.5 and its word typed the columns
    of the first rows (Polars' inference read it, filling the missing field with a null)."""
    path = tmp_path / "short.csv"
    path.write_text("n,flag,x\n1,true,a\n2,false,b\n2.5,word\n3,true,c\n")
    prof = profile_file(path)
    got = {c.name: c for c in prof.columns}
    assert prof.rows == 3 and prof.bad_row_examples == ((4, "expected 3 fields, found 2"),)
    assert (got["n"].type, got["n"].mean, got["flag"].type) == ("integer", 2.0, "boolean")


@pytest.mark.parametrize("start", [2**63 - 2500, -(2**63), 10**18])
def test_the_spread_of_integers_past_2_53_is_measured_exactly(tmp_path: Path, start: int) -> None:
    """Values near 2**63 were turned into floats before their variance: 5,000 consecutive integers, whose standard
    deviation is 1,443.5, measured 0 in one chunk and 2,862 in several (floats there are 2,048 apart)."""
    values = [start + i for i in range(5000)]
    path = tmp_path / "ids.csv"
    path.write_text("id\n" + "".join(f"{v}\n" for v in values))
    exact = statistics.stdev(values)
    for options in (ProfileOptions(), ProfileOptions(chunk_bytes=4096)):
        got = cols(path, options)["id"]
        assert got.type == "integer" and (got.min, got.max, got.distinct) == (values[0], values[-1], 5000)
        assert math.isclose(got.std, exact, rel_tol=1e-9), (got.std, exact)
        assert math.isclose(got.mean, float(Fraction(sum(values), len(values))), rel_tol=1e-15)


def test_with_decimal_commas_a_dot_only_marks_thousands_on_every_path(tmp_path: Path) -> None:
    """With ``--decimal ,``, "2.5" was 2.5 where Polars parsed the chunk and 25 where the chunk went to the text path
    (a "1.234,5" sends it there), and "1.000" was 1.0 or 1000 the same way. A dot marks thousands, in groups of
    three (docs/files.rst); any other dot makes the value no number, and its column text."""
    thousands, odd = tmp_path / "thousands.csv", tmp_path / "odd.csv"
    thousands.write_text("a;b\n1.000;x\n2,5;y\n-3;z\n")
    odd.write_text("a;b\n1,5;x\n1.234,5;y\n2.5;z\n")
    comma = ProfileOptions(decimal=",")
    got = cols(thousands, comma)["a"]
    assert (got.type, got.min, got.max, got.mean) == ("float", -3.0, 1000.0, 999.5 / 3)
    assert cols(odd, comma)["a"].type == "string"
    late = tmp_path / "late.csv"  # decimal commas detected from the first rows; a late "2.5" in one chunk or many
    late.write_text("a;b\n" + "".join(f"{i},{i % 10};w\n" for i in range(3000)) + "2.5;z\n")
    for options in (ProfileOptions(), ProfileOptions(chunk_bytes=4096)):
        prof = profile_file(late, options)
        assert prof.decimal == "," and prof.columns[0].type == "string" and prof.columns[0].distinct == 3001


def test_integers_past_int64_with_a_late_float_widen_to_float(tmp_path: Path) -> None:
    """Past Int64 and a float later: the column is float (docs/files.rst: integer → float), whatever the chunks;
    it was text (the text path tried Int64, then floats, then gave up on the mix)."""
    values = [str(2**63 + i) for i in range(2000)] + ["-5"]
    values[1500] = "2.5"
    path = tmp_path / "wide.csv"
    path.write_text("a\n" + "".join(f"{v}\n" for v in values))
    floats = [float(v) for v in values]
    for options in (ProfileOptions(), ProfileOptions(chunk_bytes=4096)):
        got = cols(path, options)["a"]
        assert (got.type, got.nulls, got.min, got.max) == ("float", 0, -5.0, max(floats))
        assert math.isclose(got.mean, math.fsum(floats) / len(floats), rel_tol=1e-12)


@pytest.mark.parametrize("options", [ProfileOptions(null_values=("NA",)),
                                     ProfileOptions(null_values=("NA",), chunk_bytes=4096)])
def test_a_short_row_is_bad_when_empty_text_is_no_null_marker(tmp_path: Path, options: ProfileOptions) -> None:
    """Found reading the code (fourth session), not by the differential test: with null markers that leave out
    "", Polars fills a short row's missing text field with "" (not null), and the short-row check looked at nulls
    only, so the row counted as good with an empty last value."""
    body = "".join(f"{i},{i},x{i}\n" for i in range(2000))
    path = tmp_path / "short.csv"
    path.write_text("a,b,c\n" + body + "7,8\n" + "7,8,\n" + '9,9,""\n' + body)
    prof = profile_file(path, options)
    assert prof.bad_rows == 1 and prof.bad_row_examples[0][0] == 2002  # the header is line 1
    assert prof.rows == 4002
    c = {col.name: col for col in prof.columns}["c"]
    assert c.nulls == 0 and c.min_length == 0  # the two empty fields are values: "" is no null marker here
