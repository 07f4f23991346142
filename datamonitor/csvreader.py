"""The CSV (and TSV) reader: a delimited text file as typed Polars chunks, with its bad rows counted.

Each chunk (about 16 MiB of text, cut by :mod:`datamonitor.chunking`) is
parsed by Polars under the schema learned so far; a big file's next chunk is
parsed while this one is measured. A chunk that does not fit that schema is
read again as text and every column is cast on its own
(:mod:`datamonitor.texttypes`), widening where a value does not fit. A chunk
Polars cannot read at all goes through Python's csv module, line by line.

A row with more or fewer fields than the header is a bad row: it is left out
of every KPI, counted, and its line number kept. Blank lines are skipped, as
pandas does.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Executor, Future
from typing import Any

import polars as pl

from . import csvscan
from .chunking import chunked
from .columntypes import unique_names
from .csvrows import Lines, drop_short, missing_fields, slow_rows
from .errors import one_line
from .rawinput import Drain, close, identity, prefetch
from .texttypes import (
    CHUNK,
    DATE_LIKE,
    NOT_FAST,
    BadRows,
    DType,
    Rescan,
    Widened,
    cast,
    infer,
    type_columns,
)

__all__ = ["CsvReader"]

#: the parse's types, the null markers it maps, each time column's type and layout, and the text columns whose
#: other markers are mapped before they are typed (a text column's are found by the statistics: ``null_text``)
_Plan = tuple[dict[str, DType], tuple[str, ...], tuple[tuple[str, DType, "str | None"], ...], tuple[str, ...]]
#: a chunk's parse under a plan, started ahead
_Ahead = tuple[_Plan, "Future[pl.DataFrame]"]
#: text that may be a number Polars' inference leaves as text ("+5", "Infinity"): the column's casts are tried
_NUMBER_LIKE = re.compile(r"\s*[-+]?(\d|\.\d|inf)", re.IGNORECASE)


class CsvReader:
    """A delimited text file as typed Polars chunks.

    :param blocks: the decoded (UTF-8) bytes of the file, in blocks.
    """

    def __init__(self, blocks: Iterator[bytes], *, delimiter: str, header: bool | None, decimal: str,
                 comment: str | None, null_values: tuple[str, ...], schema: dict[str, DType] | None = None,
                 chunk_size: int = CHUNK, encoding: str = "utf-8", pool: Executor | None = None,
                 formats: dict[str, str] | None = None, scan: csvscan.Target | None = None) -> None:
        self.blocks, self.delimiter, self.header = blocks, delimiter, header is not False
        self.decimal, self.comment, self.null_values = decimal, comment, null_values
        self.schema = dict(schema) if schema else None
        self.final = schema is not None
        self.chunk_size, self.encoding = chunk_size, encoding
        #: where the next chunk is parsed while this one is measured (None: one chunk at a time)
        self.pool = pool
        #: the file, when the rest of it after a clean first chunk may go through Polars' streaming scan (csvscan)
        self.scan = scan
        #: the null markers the parse leaves in text columns: the statistics map them (TableStats.add's ``nulls``)
        self.null_text: tuple[str, ...] = ()
        #: the time columns the chunk just handed out holds as text, each with its parse (the scan's: TableStats.add's
        #: ``times`` parses their distinct values, not every value)
        self.text_times: dict[str, Callable[[pl.Series], pl.Series]] = {}
        self.bad = BadRows()
        self.names: list[str] = []
        self.lines_done = 0
        #: the layout of each time column's text (from the pass before, when ``schema`` is its final one)
        self.formats: dict[str, str] = dict(formats or {})
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
        #: columns read as text because the first rows held no value in them: their first values type them
        self.untyped: set[str] = set()
        #: the types those columns' values later showed (the file is then measured again under them), and layouts
        self.retyped: dict[str, DType] = {}
        self.retyped_formats: dict[str, str] = {}

    # ------------------------------------------------------------ parsing

    def _header(self, chunk: bytes) -> bytes:
        """Read the header (or the first record's width) and return the chunk without it."""
        text = chunk[: 1 << 20].decode("utf-8", errors="replace")
        lines = Lines(text, 1, self.comment)
        rows = csv.reader(lines, delimiter=self.delimiter)
        first: list[str] = []
        for first in rows:
            if first:
                break
        if not first:
            return b""
        if self.header:
            # names as pandas reads them: spaces kept (" n " and "n" are two columns), an empty one "Unnamed: i"
            self.names = unique_names([raw or f"Unnamed: {i}" for i, raw in enumerate(first)])
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
        # a chunk of up to 1 MiB is the head (the frame read to learn is then the chunk's); of a bigger one, the
        # first 256 KiB (Polars' inference reads ~10 MB/s: 0.1 s for 1 MiB of flights, on the path to the scan)
        head = chunk if len(chunk) <= 1 << 20 else chunk[: 1 << 18]
        head = head[: head.rfind(b"\n") + 1] or head
        opts = self._options()
        # each null marker costs Polars a comparison per field: the parse takes those the first rows use
        # (R's NA, say); the others are found after it, in the text columns only (a marker in a number
        # column fails the parse, and that chunk takes the path that knows every marker). Before a scan, whose
        # failure would send the whole file there, the whole first chunk is searched (4 MiB: 17 ms); else its
        # first MiB (a 16 MiB chunk took 80 ms)
        where = chunk if self.scan is not None else chunk[: 1 << 20]
        self.markers = [m for m in self.null_values if m and m.encode() in where]
        self.null_text = tuple(m for m in self.null_values if m not in self.markers)
        counted, self.bad = self.bad, BadRows()  # the head's bad rows are counted with their chunk
        try:
            df = pl.read_csv(head, new_columns=self.names, infer_schema_length=None, **opts)
            if df.width != len(self.names):
                raise ValueError("width")
            # a short row's values would type the columns (Polars' inference); a line of spaces, a blank line
            # dropped below, would make the first column text: the types are judged without either
            kept = self._drop_short(df, head, 1)
            short = self.bad.count
        except NOT_FAST:
            short = 1
        finally:
            self.bad = counted
        if short:  # rows Polars cannot read or too short: the schema from the good rows' text
            counted, self.bad = self.bad, BadRows()
            try:
                df = self._slow(head, 1)
            finally:
                self.bad = counted
            self.untyped = {s.name for s in df.get_columns() if s.null_count() == len(s)}
            df, schema = type_columns(df, None, self.formats, self.decimal)
            self.schema = schema
            return None
        schema = dict(df.schema)
        huge = [n for n, t in schema.items() if t == pl.Float64 and (
            self.decimal == "," or (kept.get_column(n).abs() >= 2**53).any() or kept.get_column(n).is_nan().any())]
        # whole numbers past 2**53 (Int64 and UInt64 mixed): Polars takes floats, which round them; with decimal
        # commas Polars also takes "2.5" for 2.5 where a dot can only mark thousands (texttypes.cast); a NaN is
        # text that is no null marker ("NAN"), which pandas keeps as text
        if huge:
            text = self._strings(head).select(huge)
            schema.update({n: infer(text.get_column(n), self.decimal)[0] for n in huge})
        for name, dtype in df.schema.items():
            if dtype == pl.String:  # times, decimal commas with thousands marks, True/TRUE: Polars keeps text
                col = kept.get_column(name)
                first = next((v for v in col.head(100) if v is not None), None)
                if first is None and col.null_count() < len(col):  # past more than a hundred leading nulls
                    first = col.drop_nulls()[0]
                if first is None:  # no value in the first rows: the first values type it
                    self.untyped.add(name)
                    continue
                if not (DATE_LIKE.match(first) or first.strip().lower() in ("true", "false")
                                         or _NUMBER_LIKE.match(first)  # "+5", "Infinity": numbers to pandas
                                         or first != first.strip()):  # " 2.5": a number, as pandas reads it
                    continue  # text that no other type could take: no cast is tried
                own, fmt = infer(col, self.decimal)
                schema[name] = own
                if fmt is not None:
                    self.formats[name] = fmt
            elif dtype == pl.Null:
                schema[name] = pl.String
                self.untyped.add(name)
        self.schema = schema
        return df if len(head) == len(chunk) and not huge else None

    def _fast(self, chunk: bytes, ahead: _Ahead | None = None) -> pl.DataFrame:
        if self.schema is None:
            learned = self._learn(chunk)
            schema: dict[str, DType] = self.schema or {}
            if learned is not None:
                parsed = learned.schema  # built anew on each access: once, not once a column
                changed = [n for n, t in schema.items() if parsed[n] != t]
                return learned.with_columns(
                    cast(learned.get_column(n).cast(pl.String), schema[n], self.decimal, self.formats.get(n))
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
        # times are parsed by layout, and numbers with decimal commas by texttypes.cast (Polars would take "2.5")
        parse = {n: pl.String if (t == pl.Date or isinstance(t, pl.Datetime) or (self.decimal == "," and t == pl.Float64))
                 else t for n, t in self.schema.items()}
        times = tuple((n, t, self.formats.get(n)) for n, t in self.schema.items() if parse[n] != t)
        typed = tuple(n for n, t in parse.items() if t == pl.String and (n in self.untyped or self.schema[n] != t))
        return parse, tuple(self.markers), times, typed

    def _parse(self, chunk: bytes, plan: _Plan) -> pl.DataFrame:
        """The fast parse: Polars under the schema; reads nothing that changes (it may run in another thread)."""
        parse, markers, _times, _typed = plan
        return self._complete(pl.read_csv(chunk, schema=parse, **self._options(list(markers))), plan)

    def _complete(self, df: pl.DataFrame, plan: _Plan, *, deferred: frozenset[str] = frozenset()) -> pl.DataFrame:
        """A frame parsed under the plan's schema: the times (but the ``deferred`` ones, left as text), and in the
        columns read as text to be typed, the null markers the parse did not take (a text column's are found among
        its distinct values: ``null_text``)."""
        _parse, markers, times, text = plan
        floats = [n for n, t in df.schema.items() if t == pl.Float64]
        if floats and df.select(pl.any_horizontal(pl.col(floats).is_nan().any())).item():
            # Polars reads "NAN" as NaN (and "-nan", a marker this parse was not given); pandas keeps "NAN" as text, the
            # path that knows every marker takes "-nan" for null (texttypes.cast)
            raise ValueError("NaN written as text that is no null marker")
        rest = [m for m in self.null_values if m not in markers]  # "" too: a quoted "" is text, not null
        if rest and text:  # a column is rewritten (a copy) only when one of its values is a marker
            hits = df.select(pl.col(n).is_in(rest).any().alias(n) for n in text).row(0, named=True)
            if any(hits.values()):
                df = df.with_columns(pl.when(pl.col(n).is_in(rest)).then(None).otherwise(pl.col(n)).alias(n)
                                     for n in text if hits[n])
        if times:
            df = df.with_columns(cast(df.get_column(n), t, self.decimal, fmt) for n, t, fmt in times
                                 if n not in deferred)
        return df

    def _time_parse(self, dtype: DType, fmt: str | None) -> Callable[[pl.Series], pl.Series]:
        """A scanned time column's parse, for its distinct values: a value not in the layout sends the file to the
        chunk path, which says which row holds it."""
        def parse(values: pl.Series) -> pl.Series:
            try:
                parsed: pl.Series = cast(values, dtype, self.decimal, fmt)
                return parsed
            except NOT_FAST as exc:
                raise Rescan(one_line(exc, 200)) from None
        return parse

    def _ahead(self, chunks: Iterator[bytes]) -> Generator[tuple[bytes, _Ahead | None], None, None]:
        """Each chunk with its fast parse, started (in ``pool``) while the chunk before it is measured."""
        if self.pool is None:
            for chunk in chunks:
                yield chunk, None
            return
        held: tuple[bytes, _Ahead | None] | None = None
        first = True
        for chunk in chunks:
            if first:  # it holds the header and teaches the types: nothing can be parsed ahead before it is read,
                first = False  # and the next chunk is not cut before the scan (csvscan) may take the rest
                yield chunk, None
                continue
            plan = self._plan()
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
        return drop_short(df, chunk, first_line, delimiter=self.delimiter, comment=self.comment,
                          null_values=self.null_values, bad=self.bad)

    def _slow(self, chunk: bytes, first_line: int) -> pl.DataFrame:
        return slow_rows(chunk, first_line, names=self.names, delimiter=self.delimiter, comment=self.comment,
                         null_values=self.null_values, bad=self.bad, utf8_seen=self.non_ascii)

    def _typed(self, chunk: bytes, first_line: int, ahead: _Ahead | None = None) -> tuple[pl.DataFrame, bool]:
        """One chunk, typed; True when the schema widened."""
        try:
            raw = self._fast(chunk, ahead)
            if not self.comment and b'"' not in chunk:  # every line is a row (a blank one a row of nulls)
                self.chunk_lines = raw.height
            return self._drop_short(raw, chunk, first_line), False
        except NOT_FAST:  # a value, a width or a byte the fast path cannot take: go slower
            pass
        before = len(self.bad.examples), self.bad.count
        try:
            strings = self._drop_short(self._strings(chunk), chunk, first_line)
        except NOT_FAST:
            self.bad.examples, self.bad.count = self.bad.examples[: before[0]], before[1]
            strings = self._slow(chunk, first_line)
        typed, schema = type_columns(strings, self.schema, self.formats, self.decimal)
        widened = self.schema is not None and schema != self.schema
        self.schema = schema
        return typed, widened

    def _scannable(self, df: pl.DataFrame | None) -> bool:
        """Whether the rest of the file may go through Polars' streaming scan (csvscan): a first chunk with no
        bad row and no empty field in its last column, its schema learned."""
        return (self.scan is not None and df is not None and self.schema is not None and not self.bad.count
                and self.pool is not None and csvscan.available() and not self.comment
                and missing_fields(df.get_column(self.names[-1]), df.schema[self.names[-1]] == pl.String) is None)

    def _scanned(self, skip_lines: int) -> Iterator[pl.DataFrame]:
        """The file after its first ``skip_lines`` lines, through the scan; the rest of the bytes are still read in a
        drain thread when the digest comes from this read (``csvscan.Target.drain``)."""
        target = self.scan
        assert target is not None
        drain = Drain(self.blocks) if target.drain else None
        if drain is None:  # the file was hashed apart: nothing more to read
            close(self.blocks)
        plan = self._plan()
        assert plan is not None
        parse, markers, times, _typed = plan
        self.chunk_ascii, self.chunk_lines = False, None
        # the times are parsed by the statistics, value by distinct value (``time_hour`` of the flights: 5 ms of a
        # batch's 170,000 values against under 1 ms for its ~1,000 distinct ones)
        self.text_times = {n: self._time_parse(t, fmt) for n, t, fmt in times if t == pl.Date or isinstance(t, pl.Datetime)}
        deferred = frozenset(self.text_times)
        per_row, done = self.bytes_read / max(1, skip_lines), float(self.bytes_read)  # bytes done: an estimate
        try:
            for df in csvscan.scan_batches(target.path, skip_lines=skip_lines, schema=parse,
                                           options=self._options(list(markers))):
                try:
                    df = self._complete(df, plan, deferred=deferred)
                except NOT_FAST as exc:  # a number with a decimal comma that is none: the chunk path says which row
                    raise Rescan(one_line(exc, 200)) from None
                if self.untyped and not self.final:
                    self._retype(df)
                yield df
                if target.progress is not None and drain is None:
                    done += df.height * per_row
                    target.progress(int(done))
        except BaseException:
            if drain is not None:
                drain.finish(wanted=False)
            raise
        if drain is not None:
            drain.finish()
        if identity(target.path) != target.identity:  # the scan read other bytes than the digest: judge one read
            raise Rescan("the file changed while it was measured")

    def _retype(self, df: pl.DataFrame) -> None:
        """The type of a column that held no value in the first rows, from its first values (it was read as text)."""
        for name in [n for n in self.untyped if df.get_column(n).null_count() < df.height]:
            self.untyped.discard(name)
            own, fmt = infer(df.get_column(name), self.decimal)
            if own != pl.String:
                self.retyped[name] = own
                if fmt is not None:  # kept aside: this pass reads the column as text and forgets its layout
                    self.retyped_formats[name] = fmt

    def _take_retyped(self, df: pl.DataFrame) -> pl.DataFrame:
        """The first chunk with its late-typed columns cast to their types, which the schema takes from now on."""
        assert self.schema is not None
        df = df.with_columns(cast(df.get_column(n), t, self.decimal, self.retyped_formats.get(n)).alias(n)
                             for n, t in self.retyped.items())
        self.schema.update(self.retyped)
        self.formats.update(self.retyped_formats)
        self.retyped, self.retyped_formats = {}, {}
        return df

    def chunks(self) -> Iterator[pl.DataFrame]:
        """Typed chunks; raises :class:`Widened` at the end when a type widened after the first chunk."""
        widened_after_first = False
        first = True
        line = 1
        # a file the streaming scan may take after its first chunk: that chunk is smaller (the scan's peak memory
        # keeps what the first chunk took: 405 MB after 16 MiB, 355 after 4 on the 1 GB file)
        first_size = min(self.chunk_size, csvscan.FIRST_CHUNK) if self.scan is not None and csvscan.available() else None
        chunks = chunked(self.blocks, self.chunk_size, quoted=True, first=first_size, delimiter=self.delimiter)
        if self.pool is not None:  # a big file: the next chunk is cut in a thread of its own as well
            chunks = _first_here(chunks) if first_size is not None else prefetch(chunks)
        cut = self._ahead(chunks)
        try:
            for chunk, ahead in cut:
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
                    if self.untyped and not self.final:
                        self._retype(df)
                        if first and self.retyped:  # nothing measured yet: this chunk takes the types, no second pass
                            df = self._take_retyped(df)
                    self.chunk_ascii = chunk.isascii()
                    self.non_ascii = self.non_ascii or not self.chunk_ascii
                    if widened and not first:
                        widened_after_first = True
                    yield df
                line += self.chunk_lines if self.chunk_lines is not None else chunk.count(b"\n")
                if first and self._scannable(df if chunk else None):
                    close(cut, chunks)  # nothing of the next chunk was parsed yet (its schema came with this one)
                    yield from self._scanned(line - 1)
                    break
                first = False
        finally:  # a pass that stops early (an error, a Rescan) leaves no read thread or open file behind
            close(cut, chunks, self.blocks)
        if first and not self.names:
            return
        # a pass under a final schema that still widens (a value its pass before did not judge) is measured again,
        # never with the value cast away
        if (widened_after_first or (self.retyped and not self.final)) and self.schema is not None:
            raise Widened({**self.schema, **self.retyped}, {**self.formats, **self.retyped_formats})


def _first_here(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The first chunk cut in the caller's thread, the next ones ahead in a thread of their own: a file whose rest
    Polars' scan takes never cuts a second chunk (the reads ahead cut 80 MiB of the 1 GB file before the scan began,
    60 ms of CPU)."""
    for chunk in chunks:
        yield chunk
        break
    yield from prefetch(chunks)
