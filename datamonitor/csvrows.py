"""CSV rows judged one at a time: the short rows and blank lines a Polars parse filled with nulls, and the text
path through Python's csv module, which checks every record and knows every line number.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator

import polars as pl

from .texttypes import BadRows, Reencode

__all__ = ["Lines", "drop_short", "missing_fields", "physical_lines", "slow_rows"]

_MAX_FIELD = (1 << 31) - 1
_SURROGATE = re.compile("[\udc80-\udcff]")


def physical_lines(text: str) -> Iterator[str]:
    """The text's lines as a CSV file has them: ended by ``\\n`` alone (with its ``\\r``), each ending kept.

    ``str.splitlines`` also ends a line at a lone ``\\r``, a form feed, ``\\x1c``-``\\x1e``, ``\\x85``, U+2028 and
    U+2029, all of which are data inside a field; Polars and the byte offsets of a chunk count ``\\n`` only.
    """
    start = 0
    while (end := text.find("\n", start)) >= 0:
        yield text[start:end + 1]
        start = end + 1
    if start < len(text):
        yield text[start:]


class Lines:
    """Physical lines fed to csv.reader, skipping comment lines, remembering the current line number."""

    def __init__(self, text: str, first_line: int, comment: str | None) -> None:
        self._it = iter(physical_lines(text))
        self.line = first_line - 1
        self.comment = comment
        #: the last physical line handed out
        self.last = ""

    def __iter__(self) -> Lines:
        return self

    def __next__(self) -> str:
        while True:
            line = next(self._it)
            self.line += 1
            if not (self.comment and line.startswith(self.comment)):
                self.last = line
                return line


def missing_fields(column: pl.Series, empty_is_text: bool) -> pl.Series | None:
    """The rows whose field in ``column`` may be missing (a short row, a blank line), None when none may be: a
    missing field is null, or empty text when ``empty_is_text`` ("" is no null marker: Polars fills it so)."""
    empty = empty_is_text and bool((column == "").any())
    if not column.null_count() and not empty:  # a null count Polars keeps: no pass
        return None
    return (column.is_null() | (column == "")).fill_null(True) if empty else column.is_null()


def drop_short(df: pl.DataFrame, chunk: bytes, first_line: int, *, delimiter: str, comment: str | None,
               null_values: tuple[str, ...], bad: BadRows) -> pl.DataFrame:
    """Rows Polars filled with nulls: blank lines are dropped, rows with too few fields are bad."""
    if not df.width:
        return df
    column = df.get_column(df.columns[-1])
    last = missing_fields(column, column.dtype == pl.String and "" not in null_values)
    if last is None:
        return df
    lines = chunk.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    numbers = list(range(first_line, first_line + len(lines)))
    if comment:
        mark = comment.encode()
        kept = [(n, line) for n, line in zip(numbers, lines, strict=True) if not line.startswith(mark)]
        numbers, lines = [n for n, _l in kept], [line for _n, line in kept]
    if len(lines) != df.height:
        raise ValueError("records span lines")
    sep, width = delimiter.encode(), df.width
    drop = []
    for i in last.arg_true().to_list():
        line = lines[i].rstrip(b"\r")
        if not line.strip():
            drop.append(i)
            continue
        n = line.count(sep)
        if n >= width - 1 and b'"' not in line:
            continue
        fields = n + 1 if n < width - 1 else len(next(csv.reader([line.decode("utf-8", "replace")],
                                                                 delimiter=delimiter)))
        if fields != width:
            bad.add(numbers[i], f"expected {width} fields, found {fields}")
            drop.append(i)
    if not drop:
        return df
    keep = pl.Series([True] * df.height)
    keep[drop] = False
    return df.filter(keep)


def slow_rows(chunk: bytes, first_line: int, *, names: list[str], delimiter: str, comment: str | None,
              null_values: tuple[str, ...], bad: BadRows, utf8_seen: bool) -> pl.DataFrame:
    """The chunk through Python's csv module: every record checked, line numbers exact."""
    try:
        text = chunk.decode("utf-8")
    except UnicodeDecodeError as exc:
        if not utf8_seen and chunk[: exc.start].isascii():  # never was UTF-8: a legacy encoding
            odd = chunk[exc.start: exc.start + 200]
            raise Reencode("cp1252" if _decodes(odd, "cp1252") else "latin-1") from None
        text = chunk.decode("utf-8", "surrogateescape")  # UTF-8 with a few bad bytes: those rows are bad
    lines = Lines(text, first_line, comment)
    width, nulls = len(names), set(null_values)
    if csv.field_size_limit() < _MAX_FIELD:  # a field may be as long as a chunk; the default is 128 KiB
        csv.field_size_limit(_MAX_FIELD)
    columns: list[list[str | None]] = [[] for _ in range(width)]
    start = first_line
    for row in csv.reader(lines, delimiter=delimiter):
        if not row or (len(row) == 1 and not lines.last.strip() and width > 1):  # a blank line, not '""'
            start = lines.line + 1
            continue
        if len(row) != width:
            bad.add(start, f"expected {width} fields, found {len(row)}")
        elif any(_SURROGATE.search(v) for v in row):
            bad.add(start, "bytes that are not UTF-8")
        else:
            for col, value in zip(columns, row, strict=True):
                col.append(None if value in nulls else value)
        start = lines.line + 1
    return pl.DataFrame({n: pl.Series(n, c, dtype=pl.String) for n, c in zip(names, columns, strict=True)})


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
        return True
    except UnicodeDecodeError as exc:
        return exc.start >= len(data) - 4
