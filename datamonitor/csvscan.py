"""The rest of a big CSV parsed by Polars' streaming engine, in batches, under the schema its first chunk taught.

The CSV reader (:mod:`datamonitor.csvreader`) reads a file's first chunk itself:
its header, its types, its bad rows. When that chunk held no bad row and no
empty field in its last column, the rest of a plain UTF-8 file is handed to
Polars' streaming CSV source (``scan_csv(...).collect_batches()``), which
parses in Polars' own threads without the chunks this process would cut and
copy: on bench/data/flights_1gb.csv, 5.5 s of CPU against 7.1 s for
``read_csv`` on 16 MiB chunks. The file's SHA-256 comes from a hash of its
own (``rawinput.EarlyDigest``) or, when there is none, from the reader's read
of the rest of the bytes in a drain thread (:attr:`Target.drain`).

Under a given schema Polars reads a row as the chunk path does, or fails. Two
kinds of rows it reads without failing are bad rows to the chunk path: a row
with too few fields (its missing fields null, or empty text) and a blank line
(a row of nulls). Both leave the last column null or empty, so a batch whose
last column holds a null or an empty string raises :class:`~datamonitor.texttypes.Rescan`,
as does any error of the parse, and the file is measured again on the chunk
path, which judges every row. A file whose first chunk has such a last field
never takes this path.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from .csvrows import missing_fields
from .errors import one_line
from .texttypes import DType, Rescan

__all__ = ["Target", "available", "scan_batches"]

#: bytes of the first chunk, which the CSV reader reads itself, of a file that may take this path
FIRST_CHUNK = 4 << 20

#: rows per batch: about the rows of a 16 MiB chunk of a typical table
BATCH_ROWS = 170_000

#: Polars' streaming CSV source reads ahead in chunks of 32 MiB, several at once: 550 MB of peak RSS on the 1 GB
#: file. These bound it; a value the user has set is kept. They are read when a scan starts (polars-stream's CSV
#: source, Polars 2.0 and 2.1). Measured on that file, whole pass, alternated: 8 MiB chunks with one read ahead
#: take 4.30 s and 360 MB against 4.52 s and 350 MB for 4 MiB with two (16 MiB with one: 410 MB).
_READ_AHEAD = {"POLARS_CSV_CHUNK_SIZE": str(8 << 20), "POLARS_CSV_CHUNK_PREFETCH_LIMIT": "1"}


@dataclass(frozen=True)
class Target:
    """The file a scan reads, as the CSV reader is told of it when it opens the file."""

    #: absolute: Polars would expand a leading ``~``
    path: Path
    #: the file's identity (``rawinput.identity``) when the reading began: compared when the scan ends
    identity: tuple[int, ...]
    #: the digest comes from the reader's own read, so the scan still reads the bytes (in a drain thread); False
    #: when the file was hashed apart (``rawinput.EarlyDigest``)
    drain: bool = True
    #: called with the bytes done, estimated from the rows scanned, when the bytes are not drained (which reports)
    progress: Callable[[int], None] | None = None


@functools.cache
def available() -> bool:
    """Whether this Polars has what the path needs (``collect_batches(lazy=)``, ``scan_csv(skip_lines=)``); an
    older one (setup.py allows 1.30) reads every chunk on the chunk path."""
    batches = getattr(pl.LazyFrame, "collect_batches", None)
    return (batches is not None and "lazy" in inspect.signature(batches).parameters
            and "skip_lines" in inspect.signature(pl.scan_csv).parameters)


def scan_batches(path: Path, *, skip_lines: int, schema: dict[str, DType], options: dict[str, Any]) -> Iterator[pl.DataFrame]:
    """The file's rows after its first ``skip_lines`` lines, parsed under ``schema``, in batches.

    :param options: Polars' CSV options (the chunk path's); the parse takes no header.
    :raises Rescan: a row this path cannot judge, or a parse error: the file is to be read on the chunk path.
    """
    for name, value in _READ_AHEAD.items():
        os.environ.setdefault(name, value)
    last = next(reversed(schema))
    empty_is_text = schema[last] == pl.String and not options.get("empty_string_is_null")
    lf = pl.scan_csv(path, skip_lines=skip_lines, schema=schema, glob=False, **options)
    # blank lines at the end of a file are common: Polars reads each as a row of nulls, which are dropped here
    # (anywhere else a blank line sends the file to the chunk path)
    blank_tail = _blank_tail(path)
    # Polars' engine parses ahead in its own threads while a batch is measured; a thread of this process that
    # fetched the next batch as well (one more hand-over per batch) made the 1 GB file 3 % slower (4.37 s against
    # 4.24, seven alternated runs each) at the same peak memory
    batches = iter(lf.collect_batches(chunk_size=BATCH_ROWS, lazy=True))
    held: pl.DataFrame | None = None
    try:
        while True:
            try:
                df = next(batches)
            except StopIteration:
                break
            except Exception as exc:  # noqa: BLE001 - the chunk path reads the file and says what is wrong
                raise Rescan(one_line(exc, 200)) from None
            if not blank_tail:  # no batch held back (each held one is about 40 MB of peak memory)
                yield _judged(df, last, empty_is_text)
                continue
            if held is not None:
                yield _judged(held, last, empty_is_text)
            held = df
        if held is not None:  # held back only when blank lines end the file
            yield _judged(_without_blank_tail(held, blank_tail), last, empty_is_text)
    finally:
        del batches  # dropped: Polars stops the query


def _judged(df: pl.DataFrame, last: str, empty_is_text: bool) -> pl.DataFrame:
    if missing_fields(df.get_column(last), empty_is_text) is not None:
        raise Rescan("a row with too few fields, or a blank line")
    return df


def _without_blank_tail(df: pl.DataFrame, count: int) -> pl.DataFrame:
    """The last batch without the rows of the file's last ``count`` blank lines: each must be a row of nulls."""
    if count > df.height:
        raise Rescan("blank lines at the end, past the last batch")
    tail = df.tail(count)
    for column in tail.get_columns():
        missing = missing_fields(column, column.dtype == pl.String)
        if missing is None or not missing.all():
            raise Rescan("a row with too few fields, or a blank line")
    return df.head(df.height - count)


def _blank_tail(path: Path, size: int = 64 << 10) -> int:
    """How many blank lines end the file (after its last line with a value), as far as its last ``size`` bytes
    tell; more than that leaves rows of nulls, and the file goes to the chunk path."""
    with path.open("rb") as fh:
        fh.seek(max(0, fh.seek(0, os.SEEK_END) - size))
        tail = fh.read()
    rest = tail[len(tail.rstrip(b" \t\r\n")):]
    return max(0, rest.count(b"\n") - 1) + (1 if rest and not rest.endswith(b"\n") and b"\n" in rest else 0)
