"""Types of text columns: what a column of text is, its cast, and how a type widens.

A text table's value that does not fit its column's type widens the column
(integer → float → string; a time column keeps one layout, else it is text), never alters it; since
chunks measured before a widening were measured under the narrower type,
:class:`Widened` tells the caller to measure the file again with the final
schema. Rows left out of the KPIs are :class:`BadRows`, counted with a few
line numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from .columntypes import category

__all__ = ["CHUNK", "DATE_LIKE", "NOT_FAST", "BadRows", "DType", "Reencode", "Rescan", "Widened", "cast", "date_format",
           "infer", "type_columns", "wider"]

#: bytes of text parsed at a time, by default
CHUNK = 16 << 20
_EXAMPLES = 5

#: a Polars type, as an instance (``Datetime("us")``) or a class (``Int64``)
DType = Any

#: what makes a chunk leave the fast path: Polars' parse errors, and a width or a line count that does not fit
NOT_FAST = (pl.exceptions.PolarsError, ValueError)


class Widened(Exception):
    """A column's type widened after chunks were measured: measure again with ``schema``."""

    def __init__(self, schema: dict[str, DType], formats: dict[str, str] | None = None) -> None:
        super().__init__("schema widened")
        self.schema = schema
        #: the layout of each time column's text (the pass again parses its times with them)
        self.formats = dict(formats or {})


class Rescan(Exception):
    """The streaming scan met a row it cannot judge (or failed): measure the file again on the chunk path."""


class Reencode(Exception):
    """Bytes that are not UTF-8 in a file read as UTF-8: read it again as ``encoding``."""

    def __init__(self, encoding: str) -> None:
        super().__init__(encoding)
        self.encoding = encoding


@dataclass
class BadRows:
    count: int = 0
    examples: list[tuple[int, str]] = field(default_factory=list)

    def add(self, line: int, message: str) -> None:
        self.count += 1
        if len(self.examples) < _EXAMPLES:
            self.examples.append((line, message[:200]))


def wider(a: DType, b: DType) -> DType:
    """The narrowest type both fit: integer → float → string, date → datetime → string."""
    if a == b:
        return a
    if a == pl.Null:
        return b
    if b == pl.Null:
        return a
    ca, cb = category(a), category(b)
    if {ca, cb} == {"integer"}:  # past Int64 (an unsigned 64-bit value among signed ones): Int128
        return pl.Int128 if pl.Int128 in (a, b) or pl.UInt64 in (a, b) else pl.Int64
    if {ca, cb} <= {"integer", "float"}:
        return pl.Float64
    if {ca, cb} <= {"date", "datetime"}:
        return a if ca == "datetime" else b
    return pl.String


#: bytes past which a text value is taken for text without trying a cast: every cast copies the column, and
#: a field of 64 MB took eight copies (a number pandas would read is never near this long)
LONGEST_SCALAR = 1024
_THOUSANDS = r"^[-+]?\d{1,3}(\.\d{3})+(,\d*)?$"
DATE_LIKE = re.compile(r"^\s*\d{4}[-/]\d{2}[-/]\d{2}")
_UTC = pl.Datetime("us", "UTC")
#: the layouts a column of times may have; an ambiguous day/month order is left as text
_DATE_FORMATS: tuple[tuple[str, DType], ...] = (
    ("%Y-%m-%d", pl.Date), ("%Y/%m/%d", pl.Date),
    ("%Y-%m-%dT%H:%M:%SZ", _UTC), ("%Y-%m-%dT%H:%M:%S%.fZ", _UTC),
    ("%Y-%m-%dT%H:%M:%S%#z", _UTC), ("%Y-%m-%dT%H:%M:%S%.f%#z", _UTC),
    ("%Y-%m-%d %H:%M:%S%#z", _UTC), ("%Y-%m-%d %H:%M:%S%.f%#z", _UTC),
    ("%Y-%m-%dT%H:%M:%S", pl.Datetime("us")), ("%Y-%m-%dT%H:%M:%S%.f", pl.Datetime("us")),
    ("%Y-%m-%d %H:%M:%S", pl.Datetime("us")), ("%Y-%m-%d %H:%M:%S%.f", pl.Datetime("us")),
    ("%Y-%m-%d %H:%M", pl.Datetime("us")), ("%Y-%m-%dT%H:%M", pl.Datetime("us")),
)


#: a fraction of a second with a digit past the microsecond that is not 0
_BELOW_MICROSECOND = r"[.,]\d{6}0*[1-9]"


def _to_time(s: pl.Series, fmt: str, dtype: DType) -> pl.Series:
    try:
        return _parse_time(s, fmt, dtype)
    except NOT_FAST:  # spaces around the values: strip them (a copy of every value) only then
        return _parse_time(s.str.strip_chars(), fmt, dtype)


#: each field of a layout as it must be written: Polars' parse also takes "2020-1-5" for 2020-01-05 and a 60th
#: second for the next minute, which would make two texts one value
_FIELDS = {"%Y": r"\d{4}", "%m": r"\d{2}", "%d": r"\d{2}", "%H": r"\d{2}", "%M": r"\d{2}", "%S": r"[0-5]\d",
           "%.f": r"(?:\.\d+)?", "%#z": r"[+-]\d{2}(?::?\d{2})?"}
_FIELD = re.compile("|".join(re.escape(f) for f in _FIELDS))


def _layout(fmt: str) -> str:
    """The regex of the texts a layout's parse takes as written: every field zero-padded, no 60th second."""
    parts, end = [], 0
    for m in _FIELD.finditer(fmt):
        parts += [re.escape(fmt[end:m.start()]), _FIELDS[m.group()]]
        end = m.end()
    return "^" + "".join([*parts, re.escape(fmt[end:])]) + "$"


def _written_as(values: pl.Series, fmt: str) -> bool:
    """Whether every value is written as the layout says (see ``_FIELDS``). A layout of fixed width is checked by
    the values' lengths and a search for ":60": 5 ms for 170,000 values, against 12 for the regex."""
    if not len(values):
        return True
    if "%.f" in fmt or "%#z" in fmt:
        return bool(values.str.contains(_layout(fmt)).all())
    width = len(_FIELD.sub("", fmt)) + sum(4 if f == "%Y" else 2 for f in _FIELD.findall(fmt))
    lengths = values.str.len_bytes()
    return bool(lengths.min() == width == lengths.max()) and not (
        "%M" in fmt and values.str.contains(":60", literal=True).any())


def _parse_time(s: pl.Series, fmt: str, dtype: DType) -> pl.Series:
    if not _written_as(s.drop_nulls(), fmt):
        raise ValueError(f"a time not written as {fmt}")
    if dtype == pl.Date:
        return s.str.to_date(format=fmt, strict=True)
    if "%.f" in fmt and s.str.contains(_BELOW_MICROSECOND).any():
        # times are kept to the microsecond: 05.123456789 would be cut to 05.123456 and two instants made one
        raise ValueError("a time finer than a microsecond")
    out = s.str.to_datetime(format=fmt, time_unit="us", strict=True)
    if getattr(dtype, "time_zone", None) and out.dtype != dtype:
        out = out.dt.replace_time_zone("UTC") if getattr(out.dtype, "time_zone", None) is None else out
    return out


def date_format(values: pl.Series) -> tuple[str, DType] | None:
    """The layout every value of a text column has, when they are all dates or times in one layout."""
    values = values.drop_nulls()
    if not len(values) or not DATE_LIKE.match(values[0]):
        return None
    for fmt, dtype in _DATE_FORMATS:
        try:
            _to_time(values, fmt, dtype)
            return fmt, dtype
        except (pl.exceptions.PolarsError, ValueError):
            continue
    return None


def infer(s: pl.Series, decimal: str) -> tuple[DType, str | None]:
    """The narrowest type every value of a text column fits, and the layout of a time column."""
    longest = s.str.len_bytes().max()  # a length is read, not counted: no copy
    if isinstance(longest, int) and longest > LONGEST_SCALAR:
        return pl.String, None  # no number, boolean or time is written this long: text, with no cast tried
    values = s.drop_nulls()
    if not len(values):
        return pl.String, None
    found = date_format(values)
    if found is not None:
        return found[1], found[0]
    first = values.head(1)
    for dtype in (pl.Int64, pl.Int128, pl.Float64, pl.Boolean):
        try:
            # every value must fit, the first too: tried alone first, a text column costs no copy of itself
            # per type (a 64 MB field took 8 of them)
            cast(first, dtype, decimal, None)
            cast(values, dtype, decimal, None)
            return dtype, None
        except NOT_FAST:
            continue
    return pl.String, None


def cast(s: pl.Series, dtype: DType, decimal: str, fmt: str | None) -> Any:
    """A text column as ``dtype``; raises when one value does not fit."""
    if dtype == pl.String:
        return s
    if dtype.is_integer():
        return s.str.strip_chars().cast(dtype, strict=True)
    if dtype.is_float():
        t = s.str.strip_chars()
        if decimal == ",":  # a dot marks thousands, in groups of three: 1.234,5; "2.5" is no number here
            dotted = t.str.contains(".", literal=True)
            if dotted.any():
                if not t.filter(dotted).str.contains(_THOUSANDS).all():
                    raise ValueError("a dot that marks no thousands")
                t = t.str.replace_all(".", "", literal=True)
            t = t.str.replace(",", ".", literal=True)
        out = t.cast(pl.Float64, strict=True)
        if out.is_nan().any():  # "NAN", "Nan", "-nan": text to pandas (the null markers were taken before)
            raise ValueError("NaN written as text that is no null marker")
        return out
    if dtype == pl.Boolean:
        low = s.str.to_lowercase()  # " true" is text to pandas, which strips numbers only
        if not low.drop_nulls().is_in(["true", "false"]).all():
            raise ValueError("not a boolean")
        return low == "true"
    if dtype == pl.Date or isinstance(dtype, pl.Datetime):
        if fmt is None:
            if s.null_count() == len(s):  # no value to parse
                return pl.Series(s.name, [None] * len(s), dtype=dtype)
            raise ValueError("no layout")
        return _to_time(s, fmt, dtype)
    return s.cast(dtype, strict=True)


def type_columns(strings: pl.DataFrame, schema: dict[str, DType] | None, formats: dict[str, str],
                  decimal: str) -> tuple[pl.DataFrame, dict[str, DType]]:
    """Text columns cast to the schema, widening it where a column does not fit (``formats`` is updated)."""
    out, new_schema = [], {}
    for s in strings.get_columns():
        want = schema.get(s.name) if schema else None
        fmt = formats.get(s.name)
        if want is None:
            want, fmt = infer(s, decimal)
        elif fmt is None and (want == pl.Date or isinstance(want, pl.Datetime)):
            found = date_format(s)  # a time column whose layout is not known yet: its values tell it
            fmt = found[0] if found is not None and found[1] == want else None
        try:
            typed = cast(s, want, decimal, fmt)
        except NOT_FAST:  # does not fit: widen
            own, _layout = infer(s, decimal)
            wide = wider(want, own)
            if wide == pl.Date or isinstance(wide, pl.Datetime):
                # times of another layout than the column's (dates among datetimes, "T" or " "): a time column
                # has one layout, as in one chunk (date_format), so the column is text
                wide = pl.String
            want = wide
            typed = cast(s, want, decimal, fmt)
        if fmt is not None and (want == pl.Date or isinstance(want, pl.Datetime)):
            formats[s.name] = fmt
        else:
            formats.pop(s.name, None)
        out.append(typed.alias(s.name))
        new_schema[s.name] = want
    return pl.DataFrame(out), new_schema
