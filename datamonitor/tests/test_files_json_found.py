"""JSON files and delimiter sniffing that a review found read wrong, each checked against pandas or Python's json.

Each file is written into ``tmp_path`` by its test. As in ``test_files_messy.py`` a KPI must equal what the oracle
computes on every row, or the row must be a bad row at its physical line, or the file must give a one-line error.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pandas as pd
import pytest

from datamonitor.errors import SourceError
from datamonitor.jsonreader import DEPTH
from datamonitor.profiling import ProfileOptions, profile_file
from datamonitor.sniff import sniff_delimiter, sniff_json

NULLS = ["", "NA", "N/A", "NULL", "null", "NaN", "nan", "-NaN", "-nan", "None"]


def test_json_document_type_change_after_100000_records_widens(tmp_path: Path) -> None:
    """The last of 100,001 records holds a float and a word: the columns widen as JSON Lines' do, nothing is a null."""
    rng = random.Random(1)
    records = [{"f": rng.randint(0, 1000), "s": rng.randint(0, 1000)} for _ in range(100_001)]
    records[-1] = {"f": 0.5, "s": "word"}
    path = tmp_path / "late.json"
    path.write_text(json.dumps(records))
    prof = profile_file(path, ProfileOptions())
    cols = {c.name: c for c in prof.columns}
    df = pd.read_json(path)
    assert prof.rows == len(df)
    assert (cols["f"].type, cols["f"].distinct, cols["f"].nulls) == ("float", df["f"].nunique(), 0)
    assert cols["f"].mean == pytest.approx(df["f"].mean())
    assert (cols["s"].type, cols["s"].distinct, cols["s"].nulls) == ("string", df["s"].astype(str).nunique(), 0)
    assert cols["s"].max == "word"


def test_json_document_bad_record_is_named_by_its_line(tmp_path: Path) -> None:
    text = json.dumps([{"x": 1}, {"x": 2}, 5, {"x": 3}, [6]], indent=2)
    path = tmp_path / "doc.json"
    path.write_text(text)
    lines = text.splitlines()
    want = [next(n for n, line in enumerate(lines, 1) if line.strip() == "5,"),
            next(n for n, line in enumerate(lines, 1) if n > 1 and line.strip() == "[")]  # line 1 opens the array
    prof = profile_file(path, ProfileOptions())
    assert prof.rows == len(json.loads(text)) - 2
    assert [line for line, _ in prof.bad_row_examples] == want


@pytest.mark.parametrize("name", ["rows.jsonl", "rows.ndjson", "rows.txt"])
@pytest.mark.parametrize("first", ['{"x": 1', "[1, 2]", '{"x": 1}}'])
def test_jsonl_with_a_bad_first_line_is_json_lines(tmp_path: Path, name: str, first: str) -> None:
    """A bad first line is one bad row at line 1, as a bad later line is, not a refused "JSON document"."""
    lines = [first, *(json.dumps({"x": i, "y": f"v{i}"}) for i in range(2, 6))]
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    good = [json.loads(line) for line in lines[1:]]
    prof = profile_file(path, ProfileOptions())
    assert (prof.rows, prof.bad_rows) == (len(good), 1)
    assert prof.bad_row_examples[0][0] == 1
    assert {c.name: c.distinct for c in prof.columns} == {k: len({r[k] for r in good}) for k in ("x", "y")}


def test_sniff_json_tells_documents_from_json_lines() -> None:
    pretty = json.dumps([{"x": 1}, {"x": 2}], indent=2)
    one_per_line = '[\n{"x": 1},\n{"x": 2}\n]\n'
    assert sniff_json(pretty) == sniff_json(pretty, "jsonl") == "json"
    assert sniff_json(one_per_line) == sniff_json(one_per_line, "jsonl") == "json"  # a valid document is one
    assert sniff_json('{"x": 1\n{"x": 2}\n{"x": 3}\n') == "jsonl"
    cut = '{"x": 1\n{"x": 2}\n]\n[\n'  # one object line of three: a document, unless named JSON Lines
    assert (sniff_json(cut), sniff_json(cut, "jsonl")) == ("json", "jsonl")
    assert sniff_json("[" * 5000 + "]" * 5000 + '\n{"x": 2}\n') == "jsonl"


@pytest.mark.parametrize("depth", [DEPTH - 1, 500, 5000])
def test_jsonl_deeply_nested_line_is_quick_and_no_traceback(tmp_path: Path, depth: int) -> None:
    """Python's json reads 500 levels (the value is kept as its JSON text past DEPTH); 5000 is a bad row."""
    deep = '{"x": 1, "y": ' + '{"a": ' * depth + "1" + "}" * depth + "}"
    path = tmp_path / "deep.jsonl"
    path.write_text(deep + '\n{"x": 2, "y": null}\n')
    try:
        json.loads(deep)
        rows, bad = 2, 0
    except RecursionError:
        rows, bad = 1, 1
    prof = profile_file(path, ProfileOptions())  # depth 500 hung in Polars' reader (minutes) before DEPTH
    assert (prof.rows, prof.bad_rows) == (rows, bad)
    cols = {c.name: c for c in prof.columns}
    assert (cols["x"].distinct, cols["y"].nulls) == (rows, 1)  # the second line holds the null
    if bad:
        assert prof.bad_row_examples[0][0] == 1


def test_json_document_nested_too_deeply_is_one_line(tmp_path: Path) -> None:
    """5,000 levels: one line of error where Python's parser cannot read it (3.10-3.12), else measured with the
    value kept as its JSON text (3.13 reads it). Never a traceback."""
    text = "[" + '{"a": ' * 5000 + "1" + "}" * 5000 + "]"
    path = tmp_path / "deep.json"
    path.write_text(text)
    try:
        json.loads(text)
    except RecursionError:
        with pytest.raises(SourceError, match="nested too deeply") as err:
            profile_file(path, ProfileOptions())
        assert "\n" not in str(err.value)
        return
    prof = profile_file(path, ProfileOptions())
    assert prof.rows == 1 and [(c.name, c.type) for c in prof.columns] == [("a", "string")]


@pytest.mark.parametrize("values", [[f"a={i};b={i % 3}" for i in range(100)], [f"x|{i}" for i in range(100)],
                                    [f"{i};{i}|{i}" for i in range(100)]])
def test_one_column_csv_whose_values_hold_delimiters(tmp_path: Path, values: list[str]) -> None:
    path = tmp_path / "one.csv"
    path.write_text("value\n" + "".join(v + "\n" for v in values))
    df = pd.read_csv(path, keep_default_na=False, na_values=NULLS)
    prof = profile_file(path, ProfileOptions())
    assert (prof.rows, prof.bad_rows, len(prof.columns)) == (len(df), 0, 1)
    assert prof.columns[0].distinct == df.iloc[:, 0].nunique()


def test_delimiter_the_header_splits_into_wins() -> None:
    assert sniff_delimiter("a;b\n1;2|3\n4;5|6\n7;8|9\n") == ";"  # not | though it splits as many data lines
    assert sniff_delimiter("a;b;c\n1;2;3;\n4;5;6;\n") == ";"  # a header short of the trailing delimiter
    assert sniff_delimiter("query\na=1;b=2\na=2;b=3\n") == ","


@pytest.mark.parametrize("chunk_bytes", [None, 64 << 10])
def test_jsonl_objects_that_gain_keys_and_lists_that_widen_later(tmp_path: Path, chunk_bytes: int | None) -> None:
    """An object that gains a key in a later chunk ({"a": 1}, then {"a": 2, "b": "x"}; one level down too) and a
    list of integers that later holds a float were made text columns: their leaves and list lengths were gone.
    They are an object of both keys and a list of floats, as pyarrow reads the file whole."""
    import pyarrow.json as pj

    rng = random.Random(3)
    lines = []
    for i in range(12_000):
        late = i >= 6_000
        u: dict[str, object] = {"a": i, "in": {"x": i % 5} if not late else {"x": i % 5, "y": f"y{i % 3}"}}
        if late:
            u["b"] = f"w{i % 7}"
        rec = {"id": i, "u": None if i % 97 == 0 else u, "l": [rng.randint(0, 9) for _ in range(i % 4)]}
        if late and i % 11 == 0:
            rec["l"] = [0.5, 2]
        lines.append(json.dumps(rec))
    path = tmp_path / "nest.jsonl"
    path.write_text("\n".join(lines) + "\n")
    opts = ProfileOptions(chunk_bytes=chunk_bytes) if chunk_bytes else ProfileOptions()
    prof = profile_file(path, opts)
    cols = {c.name: c for c in prof.columns}
    flat = pj.read_json(path).flatten().flatten()
    assert cols["u"].type == "struct" and cols["l"].type == "list"
    for leaf in ("u.a", "u.b", "u.in.x", "u.in.y"):
        want = flat.column(leaf).to_pandas()
        assert cols[leaf].nulls == int(want.isna().sum()), leaf
        assert cols[leaf].distinct == want.dropna().nunique(), leaf
    assert cols["u.a"].max == 11_999 and cols["u.b"].min == "w0"
    lengths = [len(json.loads(line)["l"]) for line in lines]
    assert (cols["l"].min_length, cols["l"].max_length) == (min(lengths), max(lengths))


@pytest.mark.parametrize("big", [2**127 - 1, 2**127, 2**128 - 1, -(2**127) - 1])
def test_jsonl_integer_past_int128_is_no_null(tmp_path: Path, big: int) -> None:
    """A whole number in [2**127, 2**128) was silently a null (Polars' from_dicts typed it Int128). Past Int128 it is
    a float, as one past UInt128 was already; within Int128 it stays exact."""
    path = tmp_path / "big.jsonl"
    path.write_text(json.dumps({"x": big}) + '\n{"x": 1}\n{"x": "malformed"\n')
    col = profile_file(path, ProfileOptions()).columns[0]
    assert col.nulls == 0
    if -(2**127) <= big < 2**127:
        assert col.type == "integer" and max(col.max, col.min, key=abs) == big
    else:
        assert col.type == "float" and max(abs(col.max), abs(col.min)) == float(abs(big))


def test_a_struct_leaf_named_like_a_flat_key_is_measured_under_a_name_of_its_own(tmp_path: Path) -> None:
    # {"a.b": 1, "a": {"b": 5}}: the leaf a.b of struct a was dropped (the flat key kept its name), so its values
    # were never measured; pandas' json_normalize keeps the nested values and drops the flat ones. Both are measured
    records = [{"a.b": i, "a": {"b": 10 * i + 5}} for i in range(50)]
    path = tmp_path / "flat_and_nested.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    cols = {c.name: c for c in profile_file(path, ProfileOptions()).columns}
    flat = pd.DataFrame({"v": [r["a.b"] for r in records]})["v"]
    nested = pd.json_normalize(records)["a.b"]  # the nested values, under the name they share
    assert list(cols) == ["a.b", "a", "a.b.1"]
    assert (cols["a.b"].mean, cols["a.b"].max) == (pytest.approx(flat.mean()), flat.max())
    assert (cols["a.b.1"].mean, cols["a.b.1"].max) == (pytest.approx(nested.mean()), nested.max())


@pytest.mark.parametrize("document", [False, True])
def test_a_lone_surrogate_escape_is_a_bad_row_and_a_pair_is_its_character(tmp_path: Path, document: bool) -> None:
    # "a\ud800b" was read as "a\x00b" (Polars), the same value as a real NUL; Python's json keeps a string no UTF-8
    # can hold. An escaped pair (an emoji) is one character, and an escaped backslash before "ud800" is text
    lines = [json.dumps({"s": f"ok{i}", "n": i}) for i in range(10)]
    lines[3] = '{"s": "a\\ud800b", "n": 3}'
    lines[5] = '{"s": "\\ud83d\\ude00", "n": 5}'
    lines[7] = '{"s": "x\\\\ud800", "n": 7}'
    lines[8] = '{"s": "\\udc00 alone", "n": 8}'
    path = tmp_path / ("doc.json" if document else "lines.jsonl")
    path.write_text("[\n" + ",\n".join(lines) + "\n]\n" if document else "\n".join(lines) + "\n")
    prof = profile_file(path, ProfileOptions())
    good = [json.loads(line) for i, line in enumerate(lines) if i not in (3, 8)]
    df = pd.DataFrame(good)
    cols = {c.name: c for c in prof.columns}
    assert (prof.rows, prof.bad_rows) == (8, 2)
    assert [line for line, _why in prof.bad_row_examples] == ([5, 10] if document else [4, 9])
    assert all("lone surrogate" in why for _line, why in prof.bad_row_examples)
    assert cols["s"].distinct == df["s"].nunique() and "😀" in df["s"].tolist()
    assert cols["n"].mean == pytest.approx(df["n"].mean())
