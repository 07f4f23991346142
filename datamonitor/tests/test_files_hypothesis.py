"""Property tests of the file engine's type truth (issue 10, item 8): random integer columns with a late change.

Each example writes a CSV (or JSON Lines) file whose integer columns hold, at a random place and most often
near the end, one float, one word or one null marker, and checks type, nulls, distinct and mean against
pandas on the whole file. The files are long enough (thousands of rows, sometimes past 1 MiB) that an
engine inferring types from a head sample, or from its first chunk, has to widen later.
"""

from __future__ import annotations

import json
import math
import random

import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import example as explicit_example
from hypothesis import strategies as st

from datamonitor.profiling import ProfileOptions, profile_file

#: no shrinking: each example is a file of up to a few MB, and the failing spec is in the assertion message
FAST = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow], "phases": [Phase.explicit, Phase.reuse,
                                                                                     Phase.generate]}
NULLS = ("", "NA", "N/A", "NULL", "null", "NaN", "nan", "-NaN", "-nan", "None")
CHANGES = ("none", "float", "word", "null")

column = st.fixed_dictionaries({
    "change": st.sampled_from(CHANGES),
    # where the odd value sits, as a fraction of the rows: mostly at the very end, sometimes anywhere
    "where": st.one_of(st.just(1.0), st.floats(0.9, 1.0), st.floats(0.0, 1.0)),
    "float_text": st.sampled_from(["2.5", "-0.125", "1e3", "3.0", "7.", ".5"]),
    "word": st.sampled_from(["unknown", "n/a", "-", "1,5", "12abc", "∞", "TRUE"]),
    "null_rate": st.sampled_from([0.0, 0.0, 0.01, 0.3]),
    "low": st.integers(-10**12, 10**6),
    "span": st.integers(0, 10**6),
})



def _options(chunk_bytes: int | None) -> ProfileOptions:
    """Default options, or small parse chunks so that a change of type falls in a later chunk of a small file."""
    if chunk_bytes is None or "chunk_bytes" not in getattr(ProfileOptions, "__dataclass_fields__", {}):
        return ProfileOptions()
    return ProfileOptions(chunk_bytes=chunk_bytes)  # type: ignore[call-arg]


example = st.fixed_dictionaries({
    "chunk_bytes": st.sampled_from([None, 4096, 65_536]),
    "rows": st.one_of(st.integers(1, 50), st.integers(2_000, 30_000), st.just(90_000)),
    "columns": st.lists(column, min_size=1, max_size=4),
    "seed": st.integers(0, 2**32 - 1),
})


def _cells(spec: dict, rows: int, rng: random.Random) -> list[str | None]:
    """One column's raw text; None for a null marker."""
    out: list[str | None] = [None if rng.random() < spec["null_rate"] else str(spec["low"] + rng.randint(0, spec["span"]))
                             for _ in range(rows)]
    at = min(rows - 1, int(spec["where"] * rows))
    change = spec["change"]
    if change == "float":
        out[at] = spec["float_text"]
    elif change == "word":
        out[at] = spec["word"]
    elif change == "null":
        out[at] = None
    return out


def _widest(non: pd.Series, text_booleans: bool = False) -> str:
    """The type every value fits, from the text the file holds (the odd value may have been drawn away).

    :param text_booleans: the file is text (CSV): a column whose only values are the word TRUE is boolean, as
        pandas reads it (hypothesis drew one: a single row, the late word its only value); in JSON it is a string.
    """
    text = non.astype(str)
    if text_booleans and text.str.lower().isin(["true", "false"]).all():
        return "boolean"
    if text.str.fullmatch(r"-?[0-9]+").all():
        return "integer"
    return "float" if pd.to_numeric(text, errors="coerce").notna().all() else "string"


def _frame(names: list[str], data: list[list[str | None]]) -> pd.DataFrame:
    """The oracle's rows as raw text (None for null), one object column per generated column."""
    rows = len(data[0]) if data else 0
    frame = pd.DataFrame(index=range(rows))  # rows of '{}' are rows too, with no column
    for n, col in zip(names, data, strict=True):
        frame[n] = pd.Series(col, dtype=object)
    return frame


def _check(prof, df: pd.DataFrame, specs: list[dict], text_booleans: bool = False) -> None:
    """Type, nulls, distinct and mean of each column against pandas on the whole file."""
    assert prof.rows == len(df) and prof.bad_rows == 0, prof.bad_row_examples
    assert sorted(c.name for c in prof.columns) == sorted(df.columns)  # a JSON key seen late may come last
    by_name = {c.name: c for c in prof.columns}
    for spec, name in zip(specs, df.columns, strict=True):
        col, s = by_name[name], df[name]
        non = s.dropna()
        want = _widest(non, text_booleans) if len(non) else col.type  # an all-null column may take any type
        assert col.type == want, f"{col.name}: {col.type} != {want} ({spec})"
        assert col.nulls == int(s.isna().sum()), col.name
        values = (non.astype(str) if want == "string" else non.astype(str).str.lower() if want == "boolean"
                  else pd.to_numeric(non).astype(float))
        assert col.distinct == values.nunique(), f"{col.name}: distinct {col.distinct} != {values.nunique()}"
        if want in ("integer", "float") and len(non):
            assert math.isclose(col.mean, values.mean(), rel_tol=1e-9, abs_tol=1e-9), col.name


@pytest.mark.slow
@settings(max_examples=25, **FAST)
@given(example)
@explicit_example({"seed": 1432, "rows": 1, "chunk_bytes": None,  # found by hypothesis: the one value is the word TRUE
          "columns": [{"where": 1.0, "span": 521, "low": 8281, "null_rate": 0.3, "float_text": "7.", "word": "TRUE",
                       "change": "word"}]})
def test_csv_late_change_widens_like_pandas(tmp_path_factory, ex: dict) -> None:
    rng = random.Random(ex["seed"])
    specs = ex["columns"]
    data = [_cells(spec, ex["rows"], rng) for spec in specs]
    # every null marker, but not "" in a one-column file: an empty line is a blank line, which readers skip
    markers = NULLS if len(specs) > 1 else NULLS[1:]
    names = [f"c{i}" for i in range(len(specs))]
    lines = [",".join(names)]
    for r in range(ex["rows"]):
        cells = [rng.choice(markers) if col[r] is None else col[r] for col in data]
        lines.append(",".join(f'"{c}"' if "," in c else c for c in cells))  # type: ignore[operator]
    path = tmp_path_factory.mktemp("hyp") / "late.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    prof = profile_file(path, _options(ex["chunk_bytes"]))
    # pandas reads the same file; dtype=str keeps each raw text, turned into numbers in _check
    df = pd.read_csv(path, keep_default_na=False, na_values=list(NULLS), low_memory=False, dtype=str)
    _check(prof, df, specs, text_booleans=True)


@pytest.mark.slow
@settings(max_examples=15, **FAST)
@given(example, st.floats(0.0, 1.0))
def test_jsonl_late_change_widens_like_pandas(tmp_path_factory, ex: dict, key_from: float) -> None:
    """The same columns as JSON values: a late float, string or null; the first key is absent before ``key_from``."""
    rng = random.Random(ex["seed"])
    specs = ex["columns"]
    data = [_cells(spec, ex["rows"], rng) for spec in specs]
    names = [f"c{i}" for i in range(len(specs))]
    first_key_row = int(key_from * ex["rows"])
    lines, first_seen = [], False
    for r in range(ex["rows"]):
        rec: dict = {}
        for i, (spec, col) in enumerate(zip(specs, data, strict=True)):
            raw = col[r]
            if i == 0 and r < first_key_row:
                col[r] = None  # an absent key is a null
                continue
            first_seen = first_seen or i == 0
            if raw is None:
                rec[names[i]] = None
            elif spec["change"] == "word" and raw == spec["word"]:
                rec[names[i]] = raw
            elif spec["change"] == "float" and raw == spec["float_text"]:
                rec[names[i]] = float(raw)
                col[r] = repr(float(raw))
            else:
                rec[names[i]] = int(raw)
        lines.append(json.dumps(rec))
    path = tmp_path_factory.mktemp("hyp") / "late.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    prof = profile_file(path, _options(ex["chunk_bytes"]))
    frame = _frame(names, data)
    if not first_seen:  # a key never seen is no column at all: compare the others
        frame, specs = frame.drop(columns=[names[0]]), specs[1:]
    _check(prof, frame, specs)
