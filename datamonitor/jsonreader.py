"""The JSON reader: JSON Lines, or a JSON document holding records, as Polars chunks; malformed lines are bad rows.

JSON Lines are cut into chunks at any newline (:mod:`datamonitor.chunking`)
and parsed by Polars; a chunk Polars cannot read is read line by line, each
malformed line a bad row. A type that widens after the first chunk (of a JSON
document too, measured 100,000 records at a time) raises
:class:`~datamonitor.texttypes.Widened`, as the CSV reader does. A value nested
deeper than :data:`DEPTH` levels is kept as its JSON text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import polars as pl

from .chunking import chunked
from .columntypes import category
from .errors import SourceError
from .rawinput import close
from .texttypes import CHUNK, BadRows, DType, Widened, wider

__all__ = ["DEPTH", "JsonReader"]

_INT128 = 1 << 127
#: values nested deeper than this are kept as their JSON text: Polars' time to read a struct grows with the cube
#: of its depth (a line 500 levels deep never finished), and each level would be one more column
DEPTH = 64
_SQUARE = bytes.maketrans(b"[]", b"{}")
_NOT_BRACKET = bytes(c for c in range(256) if c not in b"{}[]\n")
_NOT_BRACKET_NOR_NEWLINE = bytes(c for c in range(256) if c not in b"{}[]")
_SPACE = re.compile(r"[ \t\n\r]*")
#: a ``\u`` escape of a surrogate that is not half of a pair: no character. Polars reads it as NUL (the same value
#: as a real "\u0000"), Python's json keeps it (a string no UTF-8 can hold): the record is a bad row
_LONE_ESCAPE = re.compile(rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
                          rb"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")
_LONE_WHY = "a lone surrogate escape (\\ud800-\\udfff), which is no character"


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
        #: JSON has no header: the columns come with the records
        self.names: list[str] = []
        self.chunk_ascii = False
        self.null_text: tuple[str, ...] = ()
        self.text_times: dict[str, Callable[[pl.Series], pl.Series]] = {}

    def _frame(self, records: list[Any]) -> pl.DataFrame:
        """Records as a frame, each value as it is: the types are the records' own (the schema so far is not
        imposed, which would cut 2.5 to 2 in an integer column and drop a new key); they widen after."""
        rows = [r if isinstance(r, dict) else {"value": r} for r in records]
        kinds: dict[str, set[type]] = {}
        huge = False
        for r in rows:  # these records were parsed by Python, one by one: a look at their types costs little more
            for k, v in r.items():
                kinds.setdefault(k, set()).add(type(v))
                if type(v) is int and not -_INT128 <= v < _INT128:
                    huge = True  # Polars' from_dicts types it Int128 and makes it a null, silently
        # Polars' own supertypes would make true a 1 where a key holds true and 5
        if not huge and all(len(ks - {type(None)}) < 2 or ks - {type(None)} <= {int, float} for ks in kinds.values()):
            try:
                return pl.from_dicts(rows, infer_schema_length=None, strict=True)
            except Exception:  # noqa: BLE001 - nested values of mixed shapes: each column on its own
                pass
        return pl.DataFrame([_series(k, [r.get(k) for r in rows]) for k in kinds], height=len(rows))

    def _slow(self, chunk: bytes, first_line: int) -> pl.DataFrame:
        lone = _lone_escape(chunk)
        records = []
        for n, raw in enumerate(chunk.split(b"\n"), start=first_line):
            if not raw.strip():
                continue
            try:
                value = self.loads(raw)
                if isinstance(value, dict) and raw.count(b"{") + raw.count(b"[") > DEPTH:
                    value = _shallow(value)
            except RecursionError:
                self.bad.add(n, "JSON nested too deeply to read")
                continue
            except ValueError:
                self.bad.add(n, "malformed JSON")
                continue
            if not isinstance(value, dict):
                self.bad.add(n, f"a JSON {type(value).__name__}, not an object")
                continue
            if lone and _has_surrogate(value):
                self.bad.add(n, _LONE_WHY)
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

    def _as_schema(self, df: pl.DataFrame) -> pl.DataFrame:
        """A chunk's columns narrower than the schema so far (integers in a float key) in the schema's type, so
        that every chunk of a column is measured alike (17 integers after a float were hashed as integers)."""
        assert self.schema is not None
        odd = [n for n, t in df.schema.items() if t != self.schema[n]]
        return df.with_columns(_cast(df.get_column(n), self.schema[n]) for n in odd) if odd else df

    def chunks(self) -> Iterator[pl.DataFrame]:
        try:
            yield from self._chunks()
        finally:  # a pass that stops early leaves no read thread or open file behind
            close(self.blocks)

    def _parse(self, chunk: bytes, at: int) -> pl.DataFrame:
        """A chunk of JSON Lines by Polars; line by line when a line is malformed or nests deeper than DEPTH (on
        which Polars would take minutes)."""
        if not _deep(chunk) and not _lone_escape(chunk):
            try:
                if self.schema is not None and self.final:
                    return pl.read_ndjson(chunk, schema=self.schema)
                return pl.read_ndjson(chunk, infer_schema_length=None)
            except Exception:  # noqa: BLE001 - a malformed line: find it line by line
                pass
        df = self._slow(chunk, at)
        return _conform(df, self.schema) if self.final and self.schema else df

    def _chunks(self) -> Iterator[pl.DataFrame]:
        if self.document:
            yield from self._document()
            return
        widened, first, line = False, True, 1
        for chunk in chunked(self.blocks, self.chunk_size, quoted=False):
            at, line = line, line + chunk.count(b"\n")
            if chunk.isspace():  # blank lines only: no records
                continue
            self.bytes_read += len(chunk)
            df = self._parse(chunk, at)
            if not self.final:
                if self._merge_schema(df) and not first:
                    widened = True
                df = self._as_schema(df)
            first = False
            yield df
        if widened and self.schema is not None:
            raise Widened(self.schema)

    def _document(self) -> Iterator[pl.DataFrame]:
        data = b"".join(self.blocks)
        try:
            value = self.loads(data)
            records = value if isinstance(value, list) else [value]
            if _deep(data, lines=False):
                records = [_shallow(r) if isinstance(r, dict) else r for r in records]
        except RecursionError:
            raise SourceError("a JSON document nested too deeply to read") from None
        except ValueError as exc:
            where = f"line {exc.lineno}" if isinstance(exc, json.JSONDecodeError) else "somewhere"
            raise SourceError(f"not a valid JSON document ({where}): {str(exc).split(':')[0]}") from None
        lone = _lone_escape(data)
        odd = [i for i, r in enumerate(records) if not isinstance(r, dict) or (lone and _has_surrogate(r))]
        if odd:  # named by the line where each starts; the first few only are kept, so only they are looked for
            try:
                lines = _record_lines(data.decode("utf-8-sig", errors="replace"), odd[:8], isinstance(value, list))
            except (ValueError, RecursionError):  # a document another ``loads`` took and Python's json does not
                lines = {}
            for i in odd:
                r = records[i]
                self.bad.add(lines.get(i, 0), f"record {i + 1}: {_LONE_WHY}" if isinstance(r, dict)
                             else f"record {i + 1} is a JSON {type(r).__name__}, not an object")
        skip = set(odd)  # no objects, and objects holding a lone surrogate
        step, widened = 100_000, False
        for i in range(0, len(records), step):
            df = self._frame([r for j, r in enumerate(records[i:i + step], start=i) if j not in skip])
            if not self.final:
                if self._merge_schema(df) and i:
                    widened = True
                df = self._as_schema(df)
            yield df if not self.final or not self.schema else _conform(df, self.schema)
        if widened and self.schema is not None:  # the records before the change were measured under the old type
            raise Widened(self.schema)


def _lone_escape(data: bytes) -> bool:
    """Whether the text may hold a lone surrogate escape (a quick search first: most JSON has no ``\\ud``)."""
    return (b"\\ud" in data or b"\\uD" in data) and _LONE_ESCAPE.search(data) is not None


def _has_surrogate(value: Any) -> bool:
    """Whether a parsed JSON value holds a lone surrogate, in a key or a string at any depth."""
    if isinstance(value, str):
        return _SURROGATE.search(value) is not None
    if isinstance(value, dict):
        return any(_has_surrogate(k) or _has_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_surrogate(v) for v in value)
    return False


def _record_lines(text: str, indices: list[int], array: bool) -> dict[int, int]:
    """The line where each of these records of a document starts, found by decoding the records one by one up to
    the last of them (a JSON document gives no position of its values)."""
    at = _skip_space(text, 0)
    if not array:
        return {0: text.count("\n", 0, at) + 1}
    decoder, want, found = json.JSONDecoder(), set(indices), {}
    line, counted, at = 1, 0, at + 1  # past the [
    for k in range(max(indices) + 1):
        at = _skip_space(text, at)
        if k in want:
            line, counted = line + text.count("\n", counted, at), at
            found[k] = line
        _, at = decoder.raw_decode(text, at)
        at = _skip_space(text, at) + 1  # past the comma
    return found


def _skip_space(text: str, at: int) -> int:
    space = _SPACE.match(text, at)
    return space.end() if space else at


def _deep(data: bytes, *, lines: bool = True) -> bool:
    """Whether a line (or the whole text) may nest deeper than DEPTH: its brackets alone, matched pairs removed
    innermost first, until DEPTH + 1 openers in a row show or no pair is left. A bracket inside a string can
    make the answer wrong, which costs time only."""
    left = data.translate(_SQUARE, _NOT_BRACKET if lines else _NOT_BRACKET_NOR_NEWLINE)
    run = b"{" * (DEPTH + 1)
    while run not in left:
        inner = left.replace(b"{}", b"")
        if len(inner) == len(left):
            return False
        left = inner
    return True


def _nested_over(value: Any, depth: int) -> bool:
    """Whether a value nests deeper than ``depth`` levels of objects and arrays (without recursion)."""
    stack = [(value, 1)]
    while stack:
        v, d = stack.pop()
        items = v.values() if isinstance(v, dict) else v if isinstance(v, list) else None
        if items is None:
            continue
        if d > depth:
            return True
        stack.extend((x, d + 1) for x in items)
    return False


def _shallow(record: dict[str, Any]) -> dict[str, Any]:
    """A record whose values nested past DEPTH levels (the record being one) are their JSON text."""
    return {k: json.dumps(v) if _nested_over(v, DEPTH - 1) else v for k, v in record.items()}


def _series(name: str, values: list[Any]) -> pl.Series:
    """One key's values: numbers widen to float; a mix with anything else (true and 5, a list and a word) is text,
    each value as its JSON (Polars' lenient cast would make true a 1)."""
    kinds = {type(v) for v in values if v is not None}
    if len(kinds) < 2 or bool not in kinds:  # Python's True is an int: Polars takes it for 1 even when strict
        try:
            series = pl.Series(name, values, strict=True)
            if series.dtype != pl.UInt128:  # past Int128 (2**127 on): floats, as past UInt128
                return series
        except Exception:  # noqa: BLE001 - mixed types
            pass
    if all(v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in values):
        try:  # integers past Int64 (2**64 - 1 among negative ones): exact, not floats
            return pl.Series(name, values, dtype=pl.Int128, strict=True)
        except Exception:  # noqa: BLE001 - past Int128: floats
            pass
    if all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in values):
        return pl.Series(name, [None if v is None else float(v) for v in values], dtype=pl.Float64)
    return pl.Series(name, [v if v is None or isinstance(v, str) else json.dumps(v) for v in values], dtype=pl.String)


def _json_wider(a: DType, b: DType) -> DType:
    """The type both fit. An object that gains a key later (``{"a": 1}``, then ``{"a": 2, "b": "x"}``) is an object
    of both keys, each widened; a list of numbers that later holds a float is a list of floats. Anything else mixed
    with an object or a list is text."""
    if a == b:
        return a
    if a == pl.Null or b == pl.Null:
        return a if b == pl.Null else b
    if isinstance(a, pl.Struct) and isinstance(b, pl.Struct):
        fields = {f.name: f.dtype for f in a.fields}
        for f in b.fields:
            fields[f.name] = _json_wider(fields[f.name], f.dtype) if f.name in fields else f.dtype
        return pl.Struct(fields)
    if isinstance(a, pl.List) and isinstance(b, pl.List) and not _nested(a.inner) and not _nested(b.inner):
        inner = _json_wider(a.inner, b.inner)
        return pl.List(inner) if not _nested(inner) else pl.String
    if _nested(a) or _nested(b):
        return pl.String
    return wider(a, b)


def _nested(dtype: DType) -> bool:
    return category(dtype) in ("list", "struct")


def _cast(s: pl.Series, dtype: DType) -> pl.Series:
    """A column in a wider type; values Polars cannot cast (a list into text) as their JSON. An object's keys are
    matched by name, a key it lacks null (Polars' own cast of objects goes by position in some versions)."""
    if isinstance(dtype, pl.Struct) and isinstance(s.dtype, pl.Struct) and s.dtype != dtype:
        have = {f.name for f in s.dtype.fields}
        fields = [(_cast(s.struct.field(f.name), f.dtype) if f.name in have
                   else pl.Series(f.name, [None] * len(s), dtype=f.dtype)).alias(f.name) for f in dtype.fields]
        whole = pl.DataFrame(fields, height=len(s)).select(pl.struct(pl.all()).alias(s.name)).to_series()
        return whole.set(s.is_null(), None) if s.null_count() else whole
    try:
        cast: pl.Series = s.cast(dtype, strict=False)
        return cast
    except Exception:  # noqa: BLE001
        return pl.Series(s.name, [None if v is None else json.dumps(v, default=str) for v in s.to_list()], dtype=dtype)


def _conform(df: pl.DataFrame, schema: dict[str, DType]) -> pl.DataFrame:
    cols = []
    for name, dtype in schema.items():
        if name in df.columns:
            s = df.get_column(name)
            cols.append(s if s.dtype == dtype else _cast(s, dtype) if isinstance(dtype, pl.Struct)
                        else s.cast(dtype, strict=False))
        else:
            cols.append(pl.Series(name, [None] * df.height, dtype=dtype))
    return pl.DataFrame(cols)
