"""One reader per file format, behind one interface: a stream of typed Polars chunks with its bad rows counted.

A reader (:class:`FormatReader`) hands out chunks; :func:`open_reader` picks
the one for a detected format from :data:`READERS` and wires it to the file's
bytes, read once, hashed and decompressed as a stream (:mod:`datamonitor.rawinput`).

* CSV and TSV: :class:`~datamonitor.csvreader.CsvReader`
* JSON Lines and JSON documents: :class:`~datamonitor.jsonreader.JsonReader`
* Parquet: :class:`~datamonitor.parquetreader.ParquetReader`

A text reader's types account for every row: a value that does not fit widens
its column, and :class:`Widened` asks for the file to be measured again under
the final schema; bytes that are not UTF-8 in a file read as UTF-8 raise
:class:`Reencode`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import polars as pl

from . import csvscan
from .chunking import decode_blocks
from .csvreader import CsvReader
from .jsonreader import JsonReader
from .parquetreader import ParquetReader
from .rawinput import EarlyDigest, RawInput, file_digest, identity, prefetch
from .sniff import Detected
from .texttypes import BadRows, DType, Reencode, Rescan, Widened, wider

if TYPE_CHECKING:
    from .profiling import ProfileOptions

__all__ = ["READERS", "BadRows", "CsvReader", "FormatReader", "JsonReader", "Opened", "ParquetReader", "ReadRequest",
           "Reencode", "Rescan", "Widened", "decode_blocks", "open_reader", "wider"]


class FormatReader(Protocol):
    """What the measuring pass asks of a reader."""

    #: rows left out of the KPIs, with a few line numbers
    bad: BadRows
    #: the column names known without a row (a header-only CSV still has its columns)
    names: list[str]
    #: bytes of text handed out so far (0 when unknown): with the file's size, an estimate of its rows
    bytes_read: int
    #: the chunk just handed out is ASCII text (its strings' lengths are their bytes)
    chunk_ascii: bool
    #: null markers the chunks' text columns may still hold (the statistics map them)
    null_text: tuple[str, ...]
    #: time columns the chunk just handed out holds as text, with their parse (the statistics parse their distinct values)
    text_times: dict[str, Callable[[pl.Series], pl.Series]]

    def chunks(self) -> Iterator[pl.DataFrame]:
        """The table, chunk by chunk; a text reader may raise Widened or Reencode at the end."""
        ...


@dataclass(frozen=True)
class ReadRequest:
    """One pass over one file: what was detected, how to read it, and what the passes before learned."""

    path: Path
    detected: Detected
    options: ProfileOptions
    #: the schema to read under (from a pass that widened), None to learn it
    schema: dict[str, DType] | None = None
    #: the layout of each time column of that schema
    formats: dict[str, str] | None = None
    #: the file's SHA-256 when the caller has it
    digest: str | None = None
    #: called with the bytes read so far
    progress: Callable[[int], None] | None = None
    size: int = 0
    #: the rest of a big CSV may go through Polars' streaming scan (False after it met a row it cannot judge)
    scan: bool = True
    #: the file's digest, being computed apart (a big file): the pass reads without hashing
    early: EarlyDigest | None = None


@dataclass(frozen=True)
class Opened:
    """A reader wired to its file."""

    reader: FormatReader
    #: the file's SHA-256, once the reader's chunks are all read
    sha256: Callable[[], str]
    #: chunks are measured while the next is parsed (a big file)
    pipelined: bool


def _text_blocks(req: ReadRequest, big: bool) -> tuple[Iterator[bytes], RawInput]:
    det = req.detected
    raw = RawInput(req.path, det.compression, known_digest=req.digest, hashed=req.early is None,
                   progress=_Monotonic(req.progress) if req.progress else None)
    # a second thread reads (and hashes) ahead only where there is more than a chunk to read
    return decode_blocks(prefetch(raw.blocks()) if big else raw.blocks(), det.encoding or "utf-8"), raw


def _big(req: ReadRequest) -> bool:
    return req.size > req.options.chunk_bytes or req.detected.compression is not None


def _csv(req: ReadRequest, pool: Executor) -> Opened:
    det, opts, big = req.detected, req.options, _big(req)
    blocks, raw = _text_blocks(req, big)
    # the rest of a big plain UTF-8 file may be parsed by Polars' streaming scan (csvscan), which reads the file itself
    scan = big and req.scan and det.compression is None and (det.encoding or "utf-8") in ("utf-8", "utf8")
    reader = CsvReader(blocks, delimiter=det.delimiter or ",", header=opts.header, decimal=det.decimal or ".",
                       comment=opts.comment, null_values=opts.null_values, schema=req.schema,
                       chunk_size=opts.chunk_bytes, pool=pool if big else None, formats=req.formats,
                       scan=_target(req, raw) if scan else None)
    return Opened(reader, _sha256(req, lambda: raw.digest), big)


class _Monotonic:
    """Progress that never goes back: the reads ahead of the first chunk report more than the scan's estimate."""

    def __init__(self, report: Callable[[int], None]) -> None:
        self.report, self.done = report, 0

    def __call__(self, done: int) -> None:
        if done > self.done:
            self.done = done
            self.report(done)


def _target(req: ReadRequest, raw: RawInput) -> csvscan.Target:
    """The file as the scan opens it again, and what tells whether it changed between this read and the scan's
    (``CsvReader._scanned`` compares them at the end)."""
    # the bytes are drained only for a digest of this read: not when the file was hashed apart or the caller knew it
    return csvscan.Target(req.path.absolute(), identity(req.path), drain=req.early is None and not req.digest,
                          progress=raw.progress)


def _sha256(req: ReadRequest, read: Callable[[], str]) -> Callable[[], str]:
    """The file's digest once the pass is done: from its own read, or the one computed apart when the file is still
    the one hashed (else :class:`Rescan`: the next pass hashes what it reads)."""
    early = req.early
    if early is None:
        return read

    def apart() -> str:
        found = early.result()
        if found is None:
            raise Rescan("the file changed while it was hashed")
        return found

    return apart


def _json(req: ReadRequest, pool: Executor) -> Opened:
    big = _big(req)
    blocks, raw = _text_blocks(req, big)
    reader = JsonReader(blocks, document=req.detected.format == "json", schema=req.schema,
                        chunk_size=req.options.chunk_bytes)
    return Opened(reader, _sha256(req, lambda: raw.digest), big)


def _parquet(req: ReadRequest, pool: Executor) -> Opened:
    digest = req.digest
    return Opened(ParquetReader(req.path), _sha256(req, lambda: digest or file_digest(req.path)), False)


#: the reader of each format, by the name ``detect`` gives it
READERS: dict[str, Callable[[ReadRequest, Executor], Opened]] = {
    "csv": _csv, "tsv": _csv, "jsonl": _json, "json": _json, "parquet": _parquet,
}


def open_reader(req: ReadRequest, pool: Executor) -> Opened:
    """The reader of the request's format; ``pool``: where a big file's next chunk is parsed ahead."""
    return READERS[req.detected.format](req, pool)
