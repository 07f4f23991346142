"""Polars types as the KPIs' type names, struct columns with their leaves beside them, and a chunk's column
of another kind than its first chunk (a type widened mid-pass) told and cast.

Every reader and the statistics name a column's type the same way: the names
of :data:`CATEGORIES`, from :func:`category`.
"""

from __future__ import annotations

import polars as pl

__all__ = ["CATEGORIES", "cast_lossy", "cat_has_no_distinct", "category", "flatten_structs", "other_kind",
           "unique_names"]

#: the type names a column can have in the KPIs
CATEGORIES = ("integer", "float", "decimal", "string", "boolean", "date", "datetime", "time", "duration", "binary",
              "list", "struct", "map", "other")

def category(dtype: pl.DataType) -> str:
    """The KPI type name of a Polars dtype."""
    if dtype.is_integer():
        return "integer"
    if dtype.is_float():
        return "float"
    if isinstance(dtype, pl.Decimal):
        return "decimal"
    if dtype in (pl.String, pl.Categorical) or isinstance(dtype, (pl.Categorical, pl.Enum)):
        return "string"
    if dtype == pl.Boolean:
        return "boolean"
    if dtype == pl.Date:
        return "date"
    if isinstance(dtype, pl.Datetime):
        return "datetime"
    if dtype == pl.Time:
        return "time"
    if isinstance(dtype, pl.Duration):
        return "duration"
    if dtype == pl.Binary:
        return "binary"
    if isinstance(dtype, (pl.List, pl.Array)):
        return "list"
    if isinstance(dtype, pl.Struct):
        return "struct"
    if type(dtype).__name__ == "Map":  # Polars 2's map type: its entries are not comparable
        return "map"
    if dtype == pl.Null:
        return "string"
    return "other"


def other_kind(dtype: pl.DataType, cat: str) -> bool:
    """A chunk's column of another kind than the column's first chunk (numbers of either kind merge)."""
    now = category(dtype)
    return now != cat and not {now, cat} <= {"integer", "float"}


def cast_lossy(s: pl.Series, dtype: pl.DataType) -> pl.Series:
    """A chunk's column in the type of the column's first chunk, lossy (only a pass measured again takes it)."""
    try:
        cast: pl.Series = s.cast(dtype, strict=False)
        return cast
    except Exception:  # noqa: BLE001 - no cast between the two
        return pl.Series(s.name, [None] * len(s), dtype=dtype)


def cat_has_no_distinct(cat: str) -> bool:
    return cat in ("struct", "map", "other")


def flatten_structs(df: pl.DataFrame) -> pl.DataFrame:
    """Struct columns kept, with each leaf beside them as ``parent.child`` (recursively)."""
    if not any(isinstance(dt, pl.Struct) for dt in df.dtypes):
        return df
    cols: list[pl.Series] = []

    def walk(s: pl.Series, name: str) -> None:
        cols.append(s.alias(name))
        if isinstance(s.dtype, pl.Struct):
            for f in s.dtype.fields:
                walk(s.struct.field(f.name), f"{name}.{f.name}")

    for s in df.get_columns():
        walk(s, s.name)
    # a leaf named like another column ({"a.b": 1, "a": {"b": 5}}) is measured too, renamed as a repeated CSV header
    # is (``a.b.1``): both sets of values are measured, neither is reported under the other's name
    names = unique_names([s.name for s in cols])
    return pl.DataFrame([s.alias(n) for s, n in zip(cols, names, strict=True)])


def unique_names(names: list[str]) -> list[str]:
    """Column names made unique as pandas 3 makes a CSV header's: a repeated name gets ``.1``, ``.2`` ..., skipping
    any suffix that is another column's own name (``a,a,a.1`` is ``a, a.2, a.1``: the column named ``a.1`` keeps its
    name, and no other column's KPIs are reported under it)."""
    taken, seen, out = set(names), set(), []
    counts: dict[str, int] = {}
    for name in names:
        if name in seen:
            k = counts.get(name, 0) + 1
            while f"{name}.{k}" in taken or f"{name}.{k}" in seen:
                k += 1
            counts[name] = k
            name = f"{name}.{k}"
        seen.add(name)
        out.append(name)
    return out
