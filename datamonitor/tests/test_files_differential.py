"""A differential test of the file engine (issue 10, items 1 and 8): random messy files, every KPI against an oracle.

Each example writes a CSV, TSV or JSON Lines file of several columns of mixed kinds (integers up to and
past ±2^63, with leading zeros and signs; floats with exponents, -0.0 and infinities; text with Unicode,
emoji, quotes, delimiters and newlines inside quotes; ISO dates and datetimes with and without offsets;
booleans in the spellings pandas reads; null markers), with blank lines, CRLF line ends, a BOM, a last
line without a newline, rows of the wrong width and, in some columns, one odd value placed late. Small
``chunk_bytes`` make a file of a few thousand rows span many chunks.

The oracle knows what it wrote: the cells of every good row, as text. pandas reads the same file back
(``dtype=str``, the engine's null markers) and must find those cells, so the file is a CSV file as pandas
understands it; then the oracle types each column by the rule of docs/files.rst and computes every KPI
itself, exactly (integers as Python integers, floats as fractions). The engine's profile must equal it:
rows, bad rows and their line numbers, and per column type, nulls, distinct, min, max, mean, std,
p50/p95/p99 and text lengths.

``DATAMONITOR_FUZZ_EXAMPLES=2000`` runs more examples (the hunt); CI runs a few.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import random
import re
from datetime import date, datetime, timedelta, timezone
from fractions import Fraction
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from datamonitor.profiling import ColumnProfile, ProfileOptions, TableProfile, profile_file

NULLS = ("", "NA", "N/A", "NULL", "null", "NaN", "nan", "-NaN", "-nan", "None")
EXAMPLES = int(os.environ.get("DATAMONITOR_FUZZ_EXAMPLES", "0"))
FAST = {"deadline": None, "suppress_health_check": list(HealthCheck),
        "phases": [Phase.explicit, Phase.reuse, Phase.generate]}  # no shrinking: the spec is in the message
KINDS = ("int", "bigint", "float", "text", "date", "datetime", "bool")
#: the layouts of a datetime column (docs/files.rst: "datetime in one ISO layout")
LAYOUTS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%f",
           "%Y-%m-%dT%H:%M:%S+02:00", "%Y-%m-%d %H:%M:%S-05:30")
WORDS = ["plain", "Zoë", "crème brûlée", "Москва", "東京", "😀 emoji", "a,b", "tab\there", "semi;colon", "pipe|x",
         'say "hi"', '"quoted"', "line\nbreak", "crlf\r\nbreak", " lead", "trail ", "12abc", "n/a", "-", "∞",
         "x" * 300, "", "0x1F", "1_000", "TRUE!", "2020-13-45"]
TEXT_WORDS = [w for w in WORDS if w]
SEPARATORS = {"csv": ",", "tsv": "\t", "ssv": ";"}
BOOLS = ("True", "False", "TRUE", "FALSE", "true", "false")  # pandas' default true_values/false_values

column = st.fixed_dictionaries({
    "kind": st.sampled_from(KINDS),
    # one odd value: none, or a value of another kind, most often near the end
    "odd": st.one_of(st.none(), st.sampled_from(KINDS)),
    "where": st.one_of(st.just(1.0), st.floats(0.9, 1.0), st.floats(0.0, 1.0)),
    "odd_count": st.sampled_from([1, 1, 2, 5]),
    "null_rate": st.sampled_from([0.0, 0.0, 0.02, 0.3, 1.0]),
    "layout": st.sampled_from(LAYOUTS),
    "distinct": st.sampled_from([2, 50, 10**6]),
})

example = st.fixed_dictionaries({
    # ssv: ";"-separated with decimal commas (2,5), as European exports are, read with ``--decimal ,``
    "format": st.sampled_from(["csv", "csv", "tsv", "ssv", "jsonl", "json"]),
    "gzip": st.sampled_from([False, False, False, True]),
    # the hunt (DATAMONITOR_FUZZ_EXAMPLES) also writes files of tens of thousands of rows: hundreds of chunks
    "rows": st.one_of(st.integers(1, 40), st.integers(300, 3000), *([st.integers(5000, 30000)] if EXAMPLES else [])),
    "columns": st.lists(column, min_size=1, max_size=5),
    "chunk_bytes": st.sampled_from([4096, 4096, 65_536, 16 << 20]),
    "crlf": st.booleans(),
    "bom": st.booleans(),
    "last_newline": st.booleans(),
    "blank_lines": st.sampled_from([0.0, 0.0, 0.05]),
    "ragged": st.sampled_from([0, 0, 3, 8]),
    "quote_all": st.booleans(),
    "seed": st.integers(0, 2**32 - 1),
})


# ---------------------------------------------------------------- values

def _value(kind: str, spec: dict, rng: random.Random) -> str:
    """One cell's text for a column of ``kind``."""
    n = spec["distinct"]
    if kind == "int":
        v = rng.randrange(-n, n)
        return rng.choice([str(v), str(v), f"{abs(v):03d}", f"+{abs(v)}", f" {v}"])
    if kind == "bigint":
        edge = rng.choice([2**63 - 1, -(2**63), 2**63, 2**64 - 1, -(2**63) - 1])
        return str(edge - rng.randrange(0, min(n, 10**4)) if edge > 0 else edge + rng.randrange(0, min(n, 10**4)))
    if kind == "float":
        r = rng.random()
        if r < 0.03:
            return rng.choice(["inf", "-inf", "-0.0", "0.0", "1e-300", "Infinity"])
        v = rng.randrange(n) / rng.choice([4, 100, 3])
        text = rng.choice([repr(v), f"{v:.3e}", f"{v:.2f}", f"{-v:.6g}", f"{v:E}"])
        return text if "." in text or "e" in text.lower() else text + ".5"
    if kind == "text":
        return rng.choice(TEXT_WORDS) if rng.random() < 0.5 else f"w{rng.randrange(n)}"
    if kind == "date":
        return (date(2000, 1, 1) + timedelta(days=rng.randrange(min(n, 20000)))).isoformat()
    if kind == "datetime":
        t = datetime(2001, 1, 1) + timedelta(seconds=rng.randrange(n) * 37, microseconds=rng.randrange(1000) * 1000)
        return t.strftime(spec["layout"])
    return rng.choice(BOOLS[:2] if n == 2 else BOOLS)


def _odd_row(spec: dict, rows: int) -> int:
    return min(rows - 1, int(spec["where"] * rows))


def _cells(spec: dict, rows: int, rng: random.Random, blank_ok: bool) -> list[str | None]:
    """One column's cells; None for a null (written as a null marker)."""
    out: list[str | None] = [None if rng.random() < spec["null_rate"] else _value(spec["kind"], spec, rng)
                             for _ in range(rows)]
    if spec["odd"] is not None and rows:
        out[_odd_row(spec, rows)] = _value(spec["odd"], spec, rng)
        for _ in range(spec["odd_count"] - 1):  # more odd values, anywhere after the first
            at = rng.randrange(_odd_row(spec, rows), rows)
            out[at] = _value(spec["odd"], spec, rng)
            spec.setdefault("more", set()).add(at)
    if not blank_ok:  # a one-column row of only spaces or nothing is a blank line, which readers skip
        out = [None if c is not None and not c.strip() else c for c in out]
    return out


# ---------------------------------------------------------------- writing

def _field(cell: str, sep: str, quote_all: bool) -> str:
    if quote_all or any(ch in cell for ch in (sep, '"', "\n", "\r")) or cell in NULLS:
        return '"' + cell.replace('"', '""') + '"'
    return cell


def _write_text(path: Path, ex: dict, names: list[str], data: list[list[str | None]],
                rng: random.Random) -> tuple[list[int], list[int]]:
    """A CSV or TSV file; returns the good rows kept and the line numbers of the bad rows."""
    sep = SEPARATORS[ex["format"]]
    nl = "\r\n" if ex["crlf"] else "\n"
    width = len(names)
    markers = NULLS if width > 1 else NULLS[1:]
    lines, kept, bad = [sep.join(names)], [], []
    line_no = 2
    ragged = set(rng.sample(range(ex["rows"]), min(ex["ragged"], ex["rows"]))) if width > 1 else set()
    for r in range(ex["rows"]):
        while rng.random() < ex["blank_lines"]:
            lines.append("")
            line_no += 1
        cells = [_field(rng.choice(markers) if col[r] is None else col[r], sep, ex["quote_all"]) for col in data]
        if r in ragged:  # a field more or a field less: a bad row at its first line
            cells = [*cells, "extra"] if rng.random() < 0.5 else cells[:-1]
        text = sep.join(cells)
        if r not in ragged:
            kept.append(r)
        elif text.strip():
            bad.append(line_no)
        # else: a row cut to one empty field is a blank line, which readers skip (docs/files.rst)
        lines.append(text)
        line_no += 1 + text.count("\n")
    body = nl.join(lines) + (nl if ex["last_newline"] else "")
    _write(path, ex, ("\ufeff" if ex["bom"] else "").encode() + body.encode("utf-8"))
    return kept, bad


def _json_value(kind: str, cell: str) -> Any:
    if kind in ("int", "bigint"):
        return int(cell)
    if kind == "float":
        v = float(cell)
        return v if math.isfinite(v) else math.copysign(1e150, v)  # JSON has no infinity: huge numbers
    if kind == "bool":
        return cell.lower() == "true"
    return cell


def _write_jsonl(path: Path, ex: dict, names: list[str], specs: list[dict], data: list[list[str | None]],
                 rng: random.Random) -> list[list[Any]]:
    """A JSON Lines file; returns each column's values (None for null or absent)."""
    nl = "\r\n" if ex["crlf"] else "\n"
    values: list[list[Any]] = [[] for _ in names]
    lines = []
    for r in range(ex["rows"]):
        while rng.random() < ex["blank_lines"]:
            lines.append("")
        rec: dict[str, Any] = {}
        for i, (spec, col) in enumerate(zip(specs, data, strict=True)):
            cell = col[r]
            odd = spec["odd"] is not None and (r == _odd_row(spec, ex["rows"]) or r in spec.get("more", ()))
            kind = spec["odd"] if odd and cell is not None else spec["kind"]
            v = None if cell is None else _json_value(kind, cell)
            if isinstance(v, float) and ({spec["kind"], spec["odd"]} & {"text", "date", "datetime", "bool"}):
                v = cell  # a float's text in a column of text: the text is written, as Polars' own would differ
            if v is not None or rng.random() < 0.5:  # a null is written, or its key left out
                rec[names[i]] = v
            values[i].append(v)
        lines.append(json.dumps(rec, ensure_ascii=rng.random() < 0.5))
    if ex["format"] == "json":  # a JSON document: an array of the same records, one a line or pretty-printed
        records = [json.loads(line) for line in lines if line]
        indent = 2 if ex["seed"] % 2 else None
        lines = [json.dumps(records, indent=indent, ensure_ascii=False)]
    _write(path, ex, ((nl.join(lines)) + (nl if ex["last_newline"] else "")).encode("utf-8"))
    return values


def _write(path: Path, ex: dict, data: bytes) -> None:
    path.write_bytes(gzip.compress(data) if ex["gzip"] else data)


# ---------------------------------------------------------------- the oracle's types (docs/files.rst)

_INT = re.compile(r"[-+]?\d+")
_FLOAT = re.compile(r"[-+]?(\d+\.?\d*([eE][-+]?\d+)?|\.\d+([eE][-+]?\d+)?|inf|infinity)", re.I)


def _time_layout(values: list[str]) -> tuple[str, str] | None:
    """docs/files.rst: "datetime in one ISO layout" (and a date); offsets are converted to UTC."""
    for layout in ("%Y-%m-%d", *LAYOUTS):
        fmt = layout.replace("+02:00", "%z").replace("-05:30", "%z")
        try:
            for v in values:
                datetime.strptime(v, fmt)
        except ValueError:
            continue
        return ("date" if layout == "%Y-%m-%d" else "datetime"), fmt
    return None


def _typed(values: list[str]) -> tuple[str, list[Any]]:
    """The narrowest type every value fits (integer, float, boolean, date, datetime, else string), and the values
    under it. docs/files.rst: "a column that does not fit widens: integer → float → string"."""
    stripped = [v.strip() for v in values]
    if all(_INT.fullmatch(v) for v in stripped):
        return "integer", [int(v) for v in stripped]
    if all(_FLOAT.fullmatch(v) for v in stripped):
        return "float", [float(v) for v in stripped]
    if all(v in BOOLS for v in values):
        return "boolean", [v.lower() == "true" for v in values]
    found = _time_layout(values)
    if found is not None:
        kind, fmt = found
        parsed = [datetime.strptime(v, fmt) for v in values]
        return kind, [p.astimezone(timezone.utc).replace(tzinfo=None) if p.tzinfo else p for p in parsed]
    return "string", values


def _typed_comma(values: list[str]) -> tuple[str, list[Any]]:
    """docs/files.rst: with ``--decimal ,`` a comma is the decimal mark (and a dot marks thousands, none written)."""
    if all(_FLOAT.fullmatch(v.strip().replace(",", ".")) and "." not in v for v in values) and \
            not all(_INT.fullmatch(v.strip()) for v in values):
        return "float", [float(v.strip().replace(",", ".")) for v in values]
    return _typed(values)


def _typed_json(values: list[Any]) -> tuple[str, list[Any]]:
    """JSON values: numbers widen integer → float, a string among them makes text of them all."""
    if all(isinstance(v, bool) for v in values):
        return "boolean", values
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "integer", values
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return "float", [float(v) for v in values]
    return "string", [v if isinstance(v, str) else json.dumps(v) for v in values]


# ---------------------------------------------------------------- the oracle's KPIs

def _quantile(ordered: list[float], q: float) -> float:
    """Linear interpolation between the closest ranks, as pandas and numpy compute it (an exact rank is that value)."""
    pos = q * (len(ordered) - 1)
    lo = math.floor(pos)
    if pos == lo:
        return ordered[lo]
    return ordered[lo] + (ordered[lo + 1] - ordered[lo]) * (pos - lo)


def _close(a: float | None, b: float | None, scale: float = 0.0) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12 * scale + 1e-12)


def _check_numeric(col: ColumnProfile, values: list[Any], where: str, kind: str) -> None:
    finite = all(math.isfinite(v) for v in values)
    lo, hi = min(values), max(values)
    # docs/files.rst: a KPI that is not a finite number (an infinite min, mean or quantile) is not reported
    assert col.min == (lo if math.isfinite(lo) else None), f"{where}: min {col.min!r} != {lo!r}"
    assert col.max == (hi if math.isfinite(hi) else None), f"{where}: max {col.max!r} != {hi!r}"
    scale = max(abs(float(lo)), abs(float(hi))) if finite else 0.0
    exact = [Fraction(v) for v in values] if finite else []
    mean = float(sum(exact) / len(exact)) if finite else None
    # means are as exact as float64 allows at the values' size; integers are exact before the variance (a spread of
    # a few units near 2**63 is measured as such, not in steps of 2048): their standard deviation owes nothing to it
    assert _close(col.mean, mean, scale), f"{where}: mean {col.mean!r} != {mean!r}"
    if len(values) > 1:
        std = None
        if finite:
            m = sum(exact) / len(exact)
            var = sum((x - m) ** 2 for x in exact) / (len(exact) - 1)
            std = math.exp((math.log(var.numerator) - math.log(var.denominator)) / 2) if var else 0.0
        assert _close(col.std, std, 0.0 if kind == "integer" else scale), f"{where}: std {col.std!r} != {std!r}"
    ordered = sorted(float(v) for v in values)
    want = {}
    for q in (0.5, 0.95, 0.99):
        v = _quantile(ordered, q)
        if math.isfinite(v):
            want[q] = v
    got = {q: v for q, v in col.quantiles.items()}
    assert got.keys() == want.keys() and all(_close(got[q], want[q], scale) for q in want), \
        f"{where}: quantiles {got} != {want}"


def _check_column(col: ColumnProfile, typed: tuple[str, list[Any]] | None, nulls: int, where: str) -> None:
    assert col.nulls == nulls, f"{where}: nulls {col.nulls} != {nulls}"
    if typed is None:  # every value null: any type, no value KPI
        assert col.distinct == 0 and col.min is None and col.mean is None, f"{where}: {col}"
        return
    kind, values = typed
    assert col.type == kind, f"{where}: type {col.type} != {kind}"
    assert col.distinct_exact and col.distinct == len(set(values)), f"{where}: distinct {col.distinct} != " \
                                                                    f"{len(set(values))}"
    if kind in ("integer", "float"):
        _check_numeric(col, values, where, kind)
    elif kind == "string":
        assert (col.min, col.max) == (min(values), max(values)), f"{where}: {col.min!r}..{col.max!r}"
        lengths = [len(v) for v in values]
        assert (col.min_length, col.max_length) == (min(lengths), max(lengths)), f"{where}: lengths"
    elif kind == "boolean":
        assert (col.min, col.max) == (min(values), max(values)), f"{where}: {col.min!r}..{col.max!r}"
    else:
        got = [pd.Timestamp(v).tz_convert("UTC").tz_localize(None) for v in (col.min, col.max)]
        assert got == [pd.Timestamp(min(values)), pd.Timestamp(max(values))], f"{where}: {got}"


def _check(prof: TableProfile, rows: int, bad: list[int], names: list[str],
           columns: list[list[Any]], typer: Any, where: str) -> None:
    assert prof.rows == rows, f"{where}: rows {prof.rows} != {rows}; bad {prof.bad_row_examples}"
    assert prof.bad_rows == len(bad), f"{where}: bad rows {prof.bad_rows} != {len(bad)}: {prof.bad_row_examples}"
    assert [line for line, _ in prof.bad_row_examples] == bad[:5], f"{where}: {prof.bad_row_examples} != {bad[:5]}"
    by_name = {c.name: c for c in prof.columns}
    for name, col in zip(names, columns, strict=True):
        non = [v for v in col if v is not None]
        if name not in by_name:  # a JSON key never written is no column
            assert not non, f"{where}: {name} missing"
            continue
        _check_column(by_name[name], typer(non) if non else None, len(col) - len(non), f"{where} {name}")


# ---------------------------------------------------------------- the test

def _run(tmp: Path, ex: dict) -> None:
    rng = random.Random(ex["seed"])
    specs, fmt = ex["columns"], ex["format"]
    names = [f"c{i}_{s['kind']}" for i, s in enumerate(specs)]
    data = [_cells(s, ex["rows"], rng, len(specs) > 1) for s in specs]
    where = f"{ex}"
    # ";" and the decimal comma are given, not sniffed: a file of ragged rows may fairly be sniffed otherwise
    opts = ProfileOptions(chunk_bytes=ex["chunk_bytes"], **({"decimal": ",", "delimiter": ";"} if fmt == "ssv" else {}))
    typer = _typed
    if fmt == "ssv":  # every float written with a decimal comma; the oracle reads it back with a point
        data = [[c.replace(".", ",") if c is not None and _FLOAT.fullmatch(c.strip()) else c for c in col]
                for col in data]
        typer = _typed_comma
    gz = ".gz" if ex["gzip"] else ""
    if fmt in ("jsonl", "json"):
        path = tmp / f"f.{fmt}{gz}"
        values = _write_jsonl(path, ex, names, specs, data, rng)
        _check(profile_file(path, opts), ex["rows"], [], names, values, _typed_json, where)
        return
    path = tmp / f"f.{fmt}{gz}"
    kept, bad = _write_text(path, ex, names, data, rng)
    columns = [[col[r] for r in kept] for col in data]
    if not bad:  # pandas reads the file back into the very cells written: it is a CSV file as pandas knows it
        df = pd.read_csv(path, sep=SEPARATORS[fmt], dtype=str,
                         keep_default_na=False, na_values=list(NULLS), encoding="utf-8-sig")
        assert list(df.columns) == names and len(df) == len(kept), where
        for name, col in zip(names, columns, strict=True):
            assert [None if pd.isna(v) else v for v in df[name]] == col, f"{where}: pandas reads {name} otherwise"
    _check(profile_file(path, opts), len(kept), bad, names, columns, typer, where)


@pytest.mark.slow
@settings(max_examples=EXAMPLES or 150, **FAST)
@given(example)
def test_random_messy_files_every_kpi_equals_the_oracle(tmp_path_factory: pytest.TempPathFactory, ex: dict) -> None:
    _run(tmp_path_factory.mktemp("diff"), ex)


# ---------------------------------------------------------------- Parquet: typed columns, the same KPIs

_ARROW = {"integer": "int64", "float": "float64", "boolean": "bool_", "string": "string", "date": "date32",
          "datetime": "timestamp"}


def _arrow_column(spec: dict, rows: int, rng: random.Random) -> tuple[str, list[Any]]:
    """A typed column: the kind's values as the CSV oracle types them (integers within Int64, or UInt64 past it)."""
    kind = spec["kind"] if spec["kind"] != "bigint" else rng.choice(["int", "bigint"])
    values: list[Any] = []
    typed_kind = None
    for _ in range(rows):
        if rng.random() < spec["null_rate"]:
            values.append(None)
            continue
        t, (v,) = _typed([_value(kind, spec, rng)])
        v = v.date() if t == "date" else v
        typed_kind = typed_kind or t
        values.append(v if t == typed_kind else None)
    return typed_kind or "string", values


@pytest.mark.slow
@settings(max_examples=EXAMPLES or 40, **FAST)
@given(st.lists(column, min_size=1, max_size=5), st.integers(1, 5000), st.integers(0, 2**32 - 1),
       st.sampled_from([1, 7, 1000]))
def test_random_parquet_files_every_kpi_equals_the_oracle(tmp_path_factory: pytest.TempPathFactory, specs: list[dict],
                                                          rows: int, seed: int, group: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = random.Random(seed)
    names, columns, arrays = [], [], []
    for i, spec in enumerate(specs):
        kind, values = _arrow_column(spec, rows, rng)
        non = [v for v in values if v is not None]
        if kind == "integer" and non and (max(non) >= 2**63 or min(non) < -(2**63)):
            if min(non) < 0 or max(non) >= 2**64:
                values = [v if v is None or -(2**63) <= v < 2**63 else None for v in values]
                arrow_type = pa.int64()
            else:
                arrow_type = pa.uint64()
        elif kind == "datetime":
            arrow_type = pa.timestamp("us")
        else:
            arrow_type = getattr(pa, _ARROW[kind])()
        names.append(f"c{i}_{kind}")
        columns.append(values)
        arrays.append(pa.array(values, type=arrow_type))
    path = tmp_path_factory.mktemp("pq") / "f.parquet"
    pq.write_table(pa.table(dict(zip(names, arrays, strict=True))), path, row_group_size=group)
    prof = profile_file(path)
    where = f"{specs} rows={rows} seed={seed} group={group}"
    kinds = {n: n.split("_", 1)[1] for n in names}
    _check_typed(prof, rows, names, columns, kinds, where)


def _check_typed(prof: TableProfile, rows: int, names: list[str], columns: list[list[Any]], kinds: dict[str, str],
                 where: str) -> None:
    assert prof.rows == rows and prof.bad_rows == 0, where
    by_name = {c.name: c for c in prof.columns}
    for name, col in zip(names, columns, strict=True):
        non = [v for v in col if v is not None and not (isinstance(v, float) and math.isnan(v))]
        typed = (kinds[name], non) if non else None
        _check_column(by_name[name], typed, len(col) - len(non), f"{where} {name}")
