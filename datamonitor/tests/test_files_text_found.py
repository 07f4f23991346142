"""CSV texts a review found read wrong (eighth session), each checked against pandas on the whole file.

Small files (one chunk) and files past the first 4 MiB (the streaming scan, or the chunk path) both: the odd value
comes last, where no sample sees it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from datamonitor.profiling import ProfileOptions, profile_file

NULLS = ["", "NA", "N/A", "NULL", "null", "NaN", "nan", "-NaN", "-nan", "None"]


def write(path: Path, header: str, rows: int, value: str, last: str) -> Path:
    """``rows`` rows of ``value`` (with a running number beside it), then ``last``."""
    with path.open("w") as f:
        f.write(header + "\n")
        f.writelines(f"{i},{value}\n" for i in range(rows))
        f.write(f"{rows},{last}\n")
    return path


def pandas_column(path: Path, name: str) -> pd.Series:
    return pd.read_csv(path, keep_default_na=False, na_values=NULLS, low_memory=False)[name]


@pytest.mark.parametrize("rows", [300, 700_000])
@pytest.mark.parametrize("last", [" true", "true ", " false "])
def test_a_boolean_with_spaces_around_it_is_text_as_pandas_keeps_it(tmp_path: Path, rows: int, last: str) -> None:
    # pandas strips numbers, not booleans: " true" beside true and false is a third value; it was made true
    path = write(tmp_path / "b.csv", "i,b", rows, "true", last)
    path.write_text(path.read_text().replace("true\n", "false\n", rows // 2))
    col = {c.name: c for c in profile_file(path, ProfileOptions()).columns}["b"]
    expected = pandas_column(path, "b")
    assert (col.type, col.distinct, col.nulls) == ("string", expected.nunique(), 0)
    assert str(expected.dtype) in ("str", "object", "string")


@pytest.mark.parametrize("rows", [300, 700_000])
@pytest.mark.parametrize("value, last", [
    ("2021-01-05 10:00:59", "2021-01-05 10:00:60"),  # a 60th second: Polars made it the next minute
    ("2021-01-05 10:00:00", "2021-01-05 10:60:00"),
    ("2020-01-05", "2020-1-5"),  # unpadded: Polars took it for 2020-01-05, one layout no longer
    ("2020-01-05", "2020-01-5"),
])
def test_a_time_not_written_in_its_columns_layout_makes_the_column_text(tmp_path: Path, rows: int, value: str,
                                                                         last: str) -> None:
    path = write(tmp_path / "t.csv", "i,t", rows, value, last)
    col = {c.name: c for c in profile_file(path, ProfileOptions()).columns}["t"]
    expected = pandas_column(path, "t")
    assert (col.type, col.distinct, col.nulls) == ("string", expected.nunique(), 0)
    assert (col.min, col.max) == (expected.min(), expected.max())


def test_header_names_keep_their_spaces_as_pandas_reads_them(tmp_path: Path) -> None:
    # "id, n ,n" was read as id, n, n.1: the column pandas calls n was reported as n.1, and n held " n "'s values
    path = tmp_path / "h.csv"
    path.write_text('id, n ,n," q",\n' + "".join(f"{i},{i * 10},{i * 100},{i % 7},{i}\n" for i in range(50)))
    prof = profile_file(path, ProfileOptions())
    df = pd.read_csv(path)
    assert [c.name for c in prof.columns] == list(df.columns) == ["id", " n ", "n", " q", "Unnamed: 4"]
    for c in prof.columns:
        assert c.mean == pytest.approx(df[c.name].mean()), c.name
