"""Readers: a text table or a JSON file as a stream of typed Polars chunks, with its bad rows counted.

Each reader parses a chunk (about 16 MiB of text) with Polars, typed by the
schema learned so far. A chunk that does not fit that schema is read again
as text and every column is cast on its own: a value that does not fit
widens its column (integer → float → string; date → datetime → string),
never alters it. Since chunks measured before a widening were measured under
the narrower type, :class:`Widened` tells the caller to measure the file
again with the final schema, which every value is then known to fit.

A row with more or fewer fields than the header is a bad row: it is left out
of every KPI, counted, and its line number kept. Blank lines are skipped, as
pandas does.
"""

from __future__ import annotations

import codecs
import csv
import json
import re
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from .errors import SourceError
from .tablestats import category

__all__ = ["BadRows", "CsvReader", "JsonReader", "Reencode", "Widened", "decode_blocks", "wider"]

CHUNK = 16 << 20
_MAX_FIELD = (1 << 31) - 1
_EXAMPLES = 5


#: a Polars type, as an instance (``Datetime("us")``) or a class (``Int64``)
DType = Any
#: what a chunk's fast parse depends on: the types to parse, the null markers, the time columns' layouts
_Plan = tuple[dict[str, DType], tuple[str, ...], tuple[tuple[str, DType, "str | None"], ...]]
#: a chunk's parse under a plan, started ahead
_Ahead = tuple[_Plan, "Future[pl.DataFrame]"]

#: what makes a chunk leave the fast path: Polars' parse errors, and a width or a line count that does not fit
_NOT_FAST = (pl.exceptions.PolarsError, ValueError)


class Widened(Exception):
    """A column's type widened after chunks were measured: measure again with ``schema``."""

    def __init__(self, schema: dict[str, DType]) -> None:
        super().__init__("schema widened")
        self.schema = schema


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
    if {ca, cb} == {"integer"}:
        return pl.Int128 if pl.Int128 in (a, b) else pl.Int64
    if {ca, cb} <= {"integer", "float"}:
        return pl.Float64
    if {ca, cb} <= {"date", "datetime"}:
        return a if ca == "datetime" else b
    return pl.String


_SURROGATE = re.compile("[\udc80-\udcff]")
_DATE_LIKE = re.compile(r"^\s*\d{4}[-/]\d{2}[-/]\d{2}")
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


def _to_time(s: pl.Series, fmt: str, dtype: DType) -> pl.Series:
    try:
        return _parse_time(s, fmt, dtype)
    except _NOT_FAST:  # spaces around the values: strip them (a copy of every value) only then
        return _parse_time(s.str.strip_chars(), fmt, dtype)


def _parse_time(s: pl.Series, fmt: str, dtype: DType) -> pl.Series:
    if dtype == pl.Date:
        return s.str.to_date(format=fmt, strict=True)
    out = s.str.to_datetime(format=fmt, time_unit="us", strict=True)
    if getattr(dtype, "time_zone", None) and out.dtype != dtype:
        out = out.dt.replace_time_zone("UTC") if getattr(out.dtype, "time_zone", None) is None else out
    return out


def date_format(values: pl.Series) -> tuple[str, DType] | None:
    """The layout every value of a text column has, when they are all dates or times in one layout."""
    values = values.drop_nulls()
    if not len(values) or not _DATE_LIKE.match(values[0]):
        return None
    for fmt, dtype in _DATE_FORMATS:
        try:
            _to_time(values, fmt, dtype)
            return fmt, dtype
        except (pl.exceptions.PolarsError, ValueError):
            continue
    return None


def _infer(s: pl.Series, decimal: str) -> tuple[DType, str | None]:
    """The narrowest type every value of a text column fits, and the layout of a time column."""
    values = s.drop_nulls()
    if not len(values):
        return pl.String, None
    found = date_format(values)
    if found is not None:
        return found[1], found[0]
    for dtype in (pl.Int64, pl.Float64, pl.Boolean):
        try:
            _cast(values, dtype, decimal, None)
            return dtype, None
        except _NOT_FAST:
            continue
    return pl.String, None


def _cast(s: pl.Series, dtype: DType, decimal: str, fmt: str | None) -> Any:
    """A text column as ``dtype``; raises when one value does not fit."""
    if dtype == pl.String:
        return s
    if dtype.is_integer():
        return s.str.strip_chars().cast(dtype, strict=True)
    if dtype.is_float():
        t = s.str.strip_chars()
        if decimal == ",":
            t = t.str.replace_all(".", "", literal=True).str.replace(",", ".", literal=True)
        return t.cast(pl.Float64, strict=True)
    if dtype == pl.Boolean:
        low = s.str.strip_chars().str.to_lowercase()
        if not low.drop_nulls().is_in(["true", "false"]).all():
            raise ValueError("not a boolean")
        return low == "true"
    if dtype == pl.Date or isinstance(dtype, pl.Datetime):
        if fmt is None:
            raise ValueError("no layout")
        return _to_time(s, fmt, dtype)
    return s.cast(dtype, strict=True)


def _type_columns(strings: pl.DataFrame, schema: dict[str, DType] | None, formats: dict[str, str],
                  decimal: str) -> tuple[pl.DataFrame, dict[str, DType]]:
    """Text columns cast to the schema, widening it where a column does not fit (``formats`` is updated)."""
    out, new_schema = [], {}
    for s in strings.get_columns():
        want = schema.get(s.name) if schema else None
        fmt = formats.get(s.name)
        if want is None:
            want, fmt = _infer(s, decimal)
        try:
            typed = _cast(s, want, decimal, fmt)
        except _NOT_FAST:  # does not fit: widen
            own, own_fmt = _infer(s, decimal)
            wide = wider(want, own)
            if wide != want and (wide == pl.Date or isinstance(wide, pl.Datetime)):
                fmt = own_fmt if wide == own and own_fmt is not None else None
                if fmt is None:
                    wide = pl.String
            want = wide
            typed = _cast(s, want, decimal, fmt)
        if fmt is not None and (want == pl.Date or isinstance(want, pl.Datetime)):
            formats[s.name] = fmt
        else:
            formats.pop(s.name, None)
        out.append(typed.alias(s.name))
        new_schema[s.name] = want
    return pl.DataFrame(out), new_schema


class _Lines:
    """Physical lines fed to csv.reader, skipping comment lines, remembering the current line number."""

    def __init__(self, text: str, first_line: int, comment: str | None) -> None:
        self._it = iter(text.splitlines(keepends=True))
        self.line = first_line - 1
        self.comment = comment

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        while True:
            line = next(self._it)
            self.line += 1
            if not (self.comment and line.startswith(self.comment)):
                return line


class CsvReader:
    """A delimited text file as typed Polars chunks.

    :param blocks: the decoded (UTF-8) bytes of the file, in blocks.
    """

    def __init__(self, blocks: Iterator[bytes], *, delimiter: str, header: bool | None, decimal: str,
                 comment: str | None, null_values: tuple[str, ...], schema: dict[str, DType] | None = None,
                 chunk_size: int = CHUNK, encoding: str = "utf-8", pool: Executor | None = None) -> None:
        self.blocks, self.delimiter, self.header = blocks, delimiter, header is not False
        self.decimal, self.comment, self.null_values = decimal, comment, null_values
        self.schema = dict(schema) if schema else None
        self.final = schema is not None
        self.chunk_size, self.encoding = chunk_size, encoding
        #: where the next chunk is parsed while this one is measured (None: one chunk at a time)
        self.pool = pool
        self.bad = BadRows()
        self.names: list[str] = []
        self.lines_done = 0
        #: the layout of each time column's text
        self.formats: dict[str, str] = {}
        #: a chunk so far held UTF-8 beyond ASCII, so bad bytes later are bad rows, not another encoding
        self.non_ascii = False
        #: bytes of text handed out so far
        self.bytes_read = 0
        #: the lines of the chunk just parsed, when known without counting them
        self.chunk_lines: int | None = None
        #: the chunk just handed out is ASCII
        self.chunk_ascii = False
        #: the null markers the parse itself maps (those the first rows use)
        self.markers: list[str] = list(null_values)

    # ----------------------------------------------------------- chunking

    def _chunks(self) -> Iterator[bytes]:
        """Runs of whole records, cut at a newline outside quotes, with one copy of the bytes."""
        pending: list[bytes] = []
        size = quotes = 0  # bytes and quote characters in the pending blocks
        for block in self.blocks:
            if size + len(block) < self.chunk_size:
                pending.append(block)
                size += len(block)
                quotes += _quotes(block)
                continue
            cut = self._cut(block, quotes)
            if cut < 0:  # no record ends in this block (a very long one): keep reading
                pending.append(block)
                size += len(block)
                quotes += _quotes(block)
                continue
            pending.append(block[:cut])
            yield b"".join(pending)
            rest = block[cut:]
            pending, size, quotes = [rest], len(rest), _quotes(rest)
        data = b"".join(pending)
        if data:
            yield data if data.endswith(b"\n") else data + b"\n"

    @staticmethod
    def _cut(block: bytes, quotes_before: int) -> int:
        """Where to cut ``block``: after its last newline outside quotes, or -1."""
        end = block.rfind(b"\n")
        if end < 0:
            return -1
        inside = (quotes_before + (block.count(b'"', 0, end) if b'"' in block else 0)) % 2
        while inside:
            prev = block.rfind(b"\n", 0, end)
            if prev < 0:
                return -1
            inside = (inside + block.count(b'"', prev, end)) % 2
            end = prev
        return end + 1

    # ------------------------------------------------------------ parsing

    def _header(self, chunk: bytes) -> bytes:
        """Read the header (or the first record's width) and return the chunk without it."""
        text = chunk[: 1 << 20].decode("utf-8", errors="replace")
        lines = _Lines(text, 1, self.comment)
        rows = csv.reader(lines, delimiter=self.delimiter)
        first: list[str] = []
        for first in rows:
            if first:
                break
        if not first:
            return b""
        if self.header:
            names, seen = [], set()
            for i, raw in enumerate(first):
                name = raw.strip() or f"Unnamed: {i}"
                base, k = name, 0
                while name in seen:
                    k += 1
                    name = f"{base}.{k}"
                seen.add(name)
                names.append(name)
            self.names = names
            consumed = 0
            for _ in range(lines.line):
                consumed = chunk.index(b"\n", consumed) + 1
            self.lines_done = lines.line
            return chunk[consumed:]
        self.names = [f"column_{i + 1}" for i in range(len(first))]
        return chunk

    def _options(self, markers: list[str] | None = None) -> dict[str, Any]:
        """Polars' CSV options; ``markers``: the null markers to pass (default: all of them)."""
        markers = list(self.null_values) if markers is None else markers
        return {"has_header": False, "separator": self.delimiter, "quote_char": '"',
                "null_values": markers or None, "empty_string_is_null": "" in self.null_values,
                "comment_prefix": self.comment, "decimal_comma": self.decimal == ",", "raise_if_empty": False,
                "encoding": "utf8"}

    def _learn(self, chunk: bytes) -> pl.DataFrame | None:
        """The schema, from the first rows of the first chunk: numbers and booleans by Polars, times by layout.

        When those rows are the whole chunk, the frame read to learn is returned, so it is not read twice.
        """
        head = chunk[: 1 << 20]
        head = head[: head.rfind(b"\n") + 1] or head
        opts = self._options()
        # each null marker costs Polars a comparison per field: the parse takes those the first rows use
        # (R's NA, say); the others are found after it, in the text columns only (a marker in a number
        # column fails the parse, and that chunk takes the path that knows every marker)
        self.markers = [m for m in self.null_values if m and m.encode() in head]
        try:
            df = pl.read_csv(head, new_columns=self.names, infer_schema_length=None, **opts)
        except _NOT_FAST:
            counted, self.bad = self.bad, BadRows()  # the head's bad rows are counted with their chunk
            try:
                df = self._slow(head, 1)
            finally:
                self.bad = counted
            df, schema = _type_columns(df, None, self.formats, self.decimal)
            self.schema = schema
            return None
        if df.width != len(self.names):
            raise ValueError("width")
        schema = dict(df.schema)
        for name, dtype in df.schema.items():
            if dtype == pl.String:  # times, decimal commas with thousands marks, True/TRUE: Polars keeps text
                col = df.get_column(name)
                first = next((v for v in col.head(100) if v is not None), None)
                if first is None or not (_DATE_LIKE.match(first) or first.strip().lower() in ("true", "false")
                                         or (self.decimal == "," and first.strip()[:1].isdigit())
                                         or first != first.strip()):  # " 2.5": a number, as pandas reads it
                    continue  # text that no other type could take: no cast is tried
                own, fmt = _infer(col, self.decimal)
                schema[name] = own
                if fmt is not None:
                    self.formats[name] = fmt
            elif dtype == pl.Null:
                schema[name] = pl.String
        self.schema = schema
        return df if len(head) == len(chunk) else None

    def _fast(self, chunk: bytes, ahead: _Ahead | None = None) -> pl.DataFrame:
        if self.schema is None:
            learned = self._learn(chunk)
            schema: dict[str, DType] = self.schema or {}
            if learned is not None:
                parsed = learned.schema  # built anew on each access: once, not once a column
                changed = [n for n, t in schema.items() if parsed[n] != t]
                return learned.with_columns(
                    _cast(learned.get_column(n).cast(pl.String), schema[n], self.decimal, self.formats.get(n))
                    for n in changed) if changed else learned
        plan = self._plan()
        assert plan is not None
        if ahead is not None and ahead[0] == plan:
            return ahead[1].result()  # parsed while the chunk before was measured (raises as the parse did)
        return self._parse(chunk, plan)

    def _plan(self) -> _Plan | None:
        """All that the fast parse of a chunk depends on and that may change between chunks."""
        if self.schema is None:
            return None
        parse = {n: pl.String if (t == pl.Date or isinstance(t, pl.Datetime)) else t for n, t in self.schema.items()}
        times = tuple((n, t, self.formats.get(n)) for n, t in self.schema.items() if parse[n] != t)
        return parse, tuple(self.markers), times

    def _parse(self, chunk: bytes, plan: _Plan) -> pl.DataFrame:
        """The fast parse: Polars under the schema; reads nothing that changes (it may run in another thread)."""
        parse, markers, times = plan
        df = pl.read_csv(chunk, schema=parse, **self._options(list(markers)))
        rest = [m for m in self.null_values if m not in markers]  # "" too: a quoted "" is text, not null
        text = [n for n, t in parse.items() if t == pl.String]
        if rest and text:
            df = df.with_columns(pl.when(pl.col(n).is_in(rest)).then(None).otherwise(pl.col(n)).alias(n)
                                 for n in text)
        if times:
            df = df.with_columns(_cast(df.get_column(n), t, self.decimal, fmt) for n, t, fmt in times)
        return df

    def _ahead(self, chunks: Iterator[bytes]) -> Iterator[tuple[bytes, _Ahead | None]]:
        """Each chunk with its fast parse, started (in ``pool``) while the chunk before it is measured."""
        if self.pool is None:
            for chunk in chunks:
                yield chunk, None
            return
        held: tuple[bytes, _Ahead | None] | None = None
        for chunk in chunks:
            plan = self._plan() if held is not None else None  # the first chunk holds the header
            current = (chunk, (plan, self.pool.submit(self._parse, chunk, plan)) if plan is not None else None)
            if held is not None:
                yield held
            held = current
        if held is not None:
            yield held

    def _strings(self, chunk: bytes) -> pl.DataFrame:
        schema = dict.fromkeys(self.names, pl.String)
        opts = self._options()
        opts["decimal_comma"] = False
        return pl.read_csv(chunk, schema=schema, **opts)

    def _drop_short(self, df: pl.DataFrame, chunk: bytes, first_line: int) -> pl.DataFrame:
        """Rows Polars filled with nulls: blank lines are dropped, rows with too few fields are bad."""
        if not df.width:
            return df
        last = df.get_column(df.columns[-1]).is_null()
        if not last.any():
            return df
        lines = chunk.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        numbers = list(range(first_line, first_line + len(lines)))
        if self.comment:
            mark = self.comment.encode()
            kept = [(n, line) for n, line in zip(numbers, lines, strict=True) if not line.startswith(mark)]
            numbers, lines = [n for n, _l in kept], [line for _n, line in kept]
        if len(lines) != df.height:
            raise ValueError("records span lines")
        sep, width = self.delimiter.encode(), df.width
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
                                                                     delimiter=self.delimiter)))
            if fields != width:
                self.bad.add(numbers[i], f"expected {width} fields, found {fields}")
                drop.append(i)
        if not drop:
            return df
        keep = pl.Series([True] * df.height)
        keep[drop] = False
        return df.filter(keep)

    def _slow(self, chunk: bytes, first_line: int) -> pl.DataFrame:
        """The chunk through Python's csv module: every record checked, line numbers exact."""
        try:
            text = chunk.decode("utf-8")
        except UnicodeDecodeError as exc:
            if not self.non_ascii and chunk[: exc.start].isascii():  # never was UTF-8: a legacy encoding
                bad = chunk[exc.start: exc.start + 200]
                raise Reencode("cp1252" if _decodes(bad, "cp1252") else "latin-1") from None
            text = chunk.decode("utf-8", "surrogateescape")  # UTF-8 with a few bad bytes: those rows are bad
        lines = _Lines(text, first_line, self.comment)
        width, nulls = len(self.names), set(self.null_values)
        if csv.field_size_limit() < _MAX_FIELD:  # a field may be as long as a chunk; the default is 128 KiB
            csv.field_size_limit(_MAX_FIELD)
        columns: list[list[str | None]] = [[] for _ in range(width)]
        start = first_line
        for row in csv.reader(lines, delimiter=self.delimiter):
            if not row or (len(row) == 1 and not row[0].strip() and width > 1):
                start = lines.line + 1
                continue
            if len(row) != width:
                self.bad.add(start, f"expected {width} fields, found {len(row)}")
            elif any(_SURROGATE.search(v) for v in row):
                self.bad.add(start, "bytes that are not UTF-8")
            else:
                for col, value in zip(columns, row, strict=True):
                    col.append(None if value in nulls else value)
            start = lines.line + 1
        return pl.DataFrame({n: pl.Series(n, c, dtype=pl.String) for n, c in zip(self.names, columns, strict=True)})

    def _typed(self, chunk: bytes, first_line: int, ahead: _Ahead | None = None) -> tuple[pl.DataFrame, bool]:
        """One chunk, typed; True when the schema widened."""
        try:
            raw = self._fast(chunk, ahead)
            if not self.comment and b'"' not in chunk:  # every line is a row (a blank one a row of nulls)
                self.chunk_lines = raw.height
            return self._drop_short(raw, chunk, first_line), False
        except _NOT_FAST:  # a value, a width or a byte the fast path cannot take: go slower
            pass
        before = len(self.bad.examples), self.bad.count
        try:
            strings = self._drop_short(self._strings(chunk), chunk, first_line)
        except _NOT_FAST:
            self.bad.examples, self.bad.count = self.bad.examples[: before[0]], before[1]
            strings = self._slow(chunk, first_line)
        typed, schema = _type_columns(strings, self.schema, self.formats, self.decimal)
        widened = self.schema is not None and schema != self.schema
        self.schema = schema
        return typed, widened

    def chunks(self) -> Iterator[pl.DataFrame]:
        """Typed chunks; raises :class:`Widened` at the end when a type widened after the first chunk."""
        widened_after_first = False
        first = True
        line = 1
        for chunk, ahead in self._ahead(self._chunks()):
            if first:
                rest = self._header(chunk)
                line = self.lines_done + 1
                chunk = rest
                if not self.names:
                    return
            self.bytes_read += len(chunk)
            self.chunk_lines = None
            if chunk:
                df, widened = self._typed(chunk, line, ahead)
                self.chunk_ascii = chunk.isascii()
                self.non_ascii = self.non_ascii or not self.chunk_ascii
                if widened and not first:
                    widened_after_first = True
                yield df
            line += self.chunk_lines if self.chunk_lines is not None else chunk.count(b"\n")
            first = False
        if first and not self.names:
            return
        if widened_after_first and not self.final and self.schema is not None:
            raise Widened(self.schema)


def _quotes(data: bytes) -> int:
    """How many quote characters: most files have none, and a search for one is much cheaper than a count."""
    return data.count(b'"') if b'"' in data else 0


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
        return True
    except UnicodeDecodeError as exc:
        return exc.start >= len(data) - 4


def decode_blocks(blocks: Iterator[bytes], encoding: str) -> Iterator[bytes]:
    """UTF-8 bytes from blocks in ``encoding`` (a BOM dropped); UTF-8 passes through untouched."""
    if encoding in ("utf-8", "utf8"):
        yield from blocks
        return
    if encoding == "utf-8-sig":
        first = True
        for block in blocks:
            if first and block.startswith(codecs.BOM_UTF8):
                block = block[3:]
            first = False
            yield block
        return
    try:
        decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    except LookupError:
        raise SourceError(f"unknown encoding {encoding!r}") from None
    first = True
    for block in blocks:
        try:
            text = decoder.decode(block)
        except UnicodeDecodeError as exc:
            raise SourceError(f"not {encoding}: {exc.reason} at byte {exc.start} of a block") from None
        if first and text.startswith("\ufeff"):
            text = text[1:]
        first = False
        yield text.encode("utf-8")
    tail = decoder.decode(b"", final=True)
    if tail:
        yield tail.encode("utf-8")


class JsonReader:
    """JSON Lines (or a JSON document holding records) as Polars chunks; malformed lines are bad rows."""

    def __init__(self, blocks: Iterator[bytes], *, document: bool, schema: dict[str, DType] | None = None,
                 chunk_size: int = CHUNK, loads: Callable[[bytes], Any] = json.loads) -> None:
        self.blocks, self.document, self.chunk_size = blocks, document, chunk_size
        self.schema = dict(schema) if schema else None
        self.final = schema is not None
        self.bad = BadRows()
        self.loads = loads
        self.bytes_read = 0

    def _records_chunks(self) -> Iterator[tuple[bytes, int]]:
        buf, line = bytearray(), 1
        for block in self.blocks:
            buf += block
            if len(buf) >= self.chunk_size:
                cut = buf.rfind(b"\n") + 1
                if cut:
                    chunk = bytes(buf[:cut])
                    yield chunk, line
                    line += chunk.count(b"\n")
                    del buf[:cut]
        if buf.strip():
            yield bytes(buf), line

    def _frame(self, records: list[Any]) -> pl.DataFrame:
        rows = [r if isinstance(r, dict) else {"value": r} for r in records]
        try:
            return pl.from_dicts(rows, schema=self.schema, infer_schema_length=None, strict=False) \
                if self.schema else pl.from_dicts(rows, infer_schema_length=None, strict=False)
        except Exception:  # noqa: BLE001 - mixed nested values: keep them as JSON text
            text = [{k: v if isinstance(v, (str, int, float, bool)) or v is None else json.dumps(v)
                     for k, v in r.items()} for r in rows]
            return pl.from_dicts(text, infer_schema_length=None, strict=False)

    def _slow(self, chunk: bytes, first_line: int) -> pl.DataFrame:
        records = []
        for n, raw in enumerate(chunk.split(b"\n"), start=first_line):
            if not raw.strip():
                continue
            try:
                value = self.loads(raw)
            except ValueError:
                self.bad.add(n, "malformed JSON")
                continue
            if not isinstance(value, dict):
                self.bad.add(n, f"a JSON {type(value).__name__}, not an object")
                continue
            records.append(value)
        return self._frame(records)

    def _merge_schema(self, df: pl.DataFrame) -> bool:
        if self.schema is None:
            self.schema = dict(df.schema)
            return False
        changed = False
        for name, dtype in df.schema.items():
            old = self.schema.get(name)
            new = dtype if old is None else _json_wider(old, dtype)
            if new != old:
                changed = changed or old is not None
                self.schema[name] = new
        return changed

    def chunks(self) -> Iterator[pl.DataFrame]:
        if self.document:
            yield from self._document()
            return
        widened, first = False, True
        for chunk, line in self._records_chunks():
            self.bytes_read += len(chunk)
            try:
                if self.schema is not None and self.final:
                    df = pl.read_ndjson(chunk, schema=self.schema)
                else:
                    df = pl.read_ndjson(chunk, infer_schema_length=None)
            except Exception:  # noqa: BLE001 - a malformed line: find it line by line
                df = self._slow(chunk, line)
                if self.final and self.schema:
                    df = _conform(df, self.schema)
            if not self.final and self._merge_schema(df) and not first:
                widened = True
            first = False
            yield df
        if widened and self.schema is not None:
            raise Widened(self.schema)

    def _document(self) -> Iterator[pl.DataFrame]:
        data = b"".join(self.blocks)
        try:
            value = self.loads(data)
        except ValueError as exc:
            where = f"line {exc.lineno}" if isinstance(exc, json.JSONDecodeError) else "somewhere"
            raise SourceError(f"not a valid JSON document ({where}): {str(exc).split(':')[0]}") from None
        records = value if isinstance(value, list) else [value]
        step = 100_000
        for i in range(0, len(records), step):
            part = records[i:i + step]
            for j, r in enumerate(part):
                if not isinstance(r, dict):
                    self.bad.add(i + j + 1, f"record {i + j + 1} is a JSON {type(r).__name__}, not an object")
            df = self._frame([r for r in part if isinstance(r, dict)])
            if not self.final:
                self._merge_schema(df)
            yield df if not self.final or not self.schema else _conform(df, self.schema)


def _json_wider(a: DType, b: DType) -> DType:
    if a == b:
        return a
    if category(a) in ("list", "struct") or category(b) in ("list", "struct"):
        return a if b == pl.Null else b if a == pl.Null else pl.String
    return wider(a, b)


def _conform(df: pl.DataFrame, schema: dict[str, DType]) -> pl.DataFrame:
    cols = []
    for name, dtype in schema.items():
        if name in df.columns:
            s = df.get_column(name)
            cols.append(s if s.dtype == dtype else s.cast(dtype, strict=False))
        else:
            cols.append(pl.Series(name, [None] * df.height, dtype=dtype))
    return pl.DataFrame(cols)

