"""Profiling a table (a data file or a DataFrame): the KPIs of every column, true for every row.

The engine is Polars, fed chunk by chunk (README, "Performance"): a file is
read once, hashed from the same bytes, decompressed as a stream and sniffed
once. Types account for every row (``readers``: a value that does not fit
widens its column and the file is measured again under the wider type), and
statistics merge across chunks (``tablestats``). Rows with the wrong number of
fields are counted with their line numbers instead of stopping the file.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import logging
import math
import time
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone
from datetime import time as dtime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, SourceError, one_line
from .rawinput import EarlyDigest, RawInput, check_regular, close
from .sniff import (
    EXCEL,
    EXT_COMPRESSION,
    EXT_FORMAT,
    Detected,
    compression_of,
    sniff_decimal,
    sniff_delimiter,
    sniff_encoding,
    sniff_json,
)

if TYPE_CHECKING:  # Polars is imported when a table is measured, not when datamonitor is
    from .readers import FormatReader, ReadRequest
    from .tablestats import TableStats

__all__ = ["ColumnProfile", "ProfileOptions", "TableProfile", "detect", "profile_dataframe", "profile_file"]

log = logging.getLogger(__name__)

FORMATS = ("csv", "tsv", "jsonl", "json", "parquet")
_SAMPLE = 1 << 20
#: the k of the k-minimum-values sketch behind distinct counts past the exact budget (tablestats.KMV_K)
KMV_K = 16384
#: relative standard error of a distinct count past the exact budget
DISTINCT_ERROR = 1 / math.sqrt(KMV_K - 2)


#: the deciles a numeric column's summary holds
DECILES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


@dataclass(frozen=True)
class ProfileOptions:
    """How to read a table. None means "detect it"."""

    format: str | None = None
    delimiter: str | None = None
    #: any codec Python knows; None detects UTF-8 (with or without BOM), UTF-16 (BOM), Windows-1252, Latin-1
    encoding: str | None = None
    header: bool | None = None
    #: the decimal mark of numbers in text files: "." or ","; None detects "," where it is unambiguous
    decimal: str | None = None
    #: lines starting with this text are comments (skipped); None means no line is a comment
    comment: str | None = None
    quantiles: tuple[float, ...] = (0.5, 0.95, 0.99)
    #: also a numeric column's nine deciles, kept as one compact summary for distribution drift
    deciles: bool = True
    #: distinct counts are exact while the distinct hashes of all columns fit this many, a sketch above
    exact_distinct_values: int = 8 << 20
    #: quantiles are exact while the numeric values of all columns fit this many, from a uniform sample above
    quantile_values: int = 8 << 20
    #: text that means "no value": the markers pandas' read_csv treats as NaN that real exports use
    null_values: tuple[str, ...] = ("", "NA", "N/A", "NULL", "null", "NaN", "nan", "-NaN", "-nan", "None")
    #: bytes of text parsed at a time
    chunk_bytes: int = 16 << 20

    def __post_init__(self) -> None:
        """Options that cannot be right are refused here, once, not as an engine's error on the first file."""
        if self.delimiter is not None and (len(self.delimiter) != 1 or self.delimiter in '"\r\n'):
            raise ConfigError.at("delimiter", f"must be one character (not a quote or a line end), not "
                                 f"{self.delimiter!r}")
        if self.encoding is not None:
            try:
                text = codecs.lookup(self.encoding)._is_text_encoding
            except LookupError:
                raise ConfigError.at("encoding", f"{self.encoding!r} is no codec Python knows") from None
            if not text:  # rot13, base64: codecs between bytes and bytes, or str and str
                raise ConfigError.at("encoding", f"{self.encoding!r} is not a text encoding")
        if self.exact_distinct_values < 0 or self.quantile_values < 0 or self.chunk_bytes < 1:
            raise ConfigError("exact_distinct_values and quantile_values must be at least 0, chunk_bytes at least 1")


@dataclass(frozen=True)
class ColumnProfile:
    """What one pass learned about one column."""

    name: str
    type: str
    nulls: int
    distinct: int | None
    distinct_exact: bool
    min: Any = None
    max: Any = None
    mean: float | None = None
    std: float | None = None
    quantiles: dict[float, float] = field(default_factory=dict)
    #: the nine deciles (0.1 to 0.9) of a numeric column, when asked for
    deciles: tuple[float, ...] = ()
    min_length: int | None = None
    max_length: int | None = None


@dataclass(frozen=True)
class TableProfile:
    """What one pass learned about one table."""

    rows: int
    columns: tuple[ColumnProfile, ...]
    bad_rows: int = 0
    bad_row_examples: tuple[tuple[int, str], ...] = ()
    seconds: float = 0.0
    format: str = "csv"
    compression: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    #: SHA-256 of the file's bytes, from the same read that measured it ("" for a DataFrame)
    sha256: str = ""
    decimal: str | None = None

    @property
    def schema(self) -> tuple[tuple[str, str], ...]:
        """Column names and inferred types, in order."""
        return tuple((c.name, c.type) for c in self.columns)

    @property
    def fingerprint(self) -> str:
        """A short hash of the schema: equal schemas, equal fingerprints."""
        return hashlib.sha256(json.dumps(self.schema).encode()).hexdigest()[:16]




# ---------------------------------------------------------------- detection

def _excel(path: Path, head: bytes) -> bool:
    if path.suffix.lower() in EXCEL or head.startswith(b"\xd0\xcf\x11\xe0"):
        return True
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as zf:
                return "[Content_Types].xml" in zf.namelist() or "mimetype" in zf.namelist()
        except (OSError, zipfile.BadZipFile):
            return False
    return False


def _zip_member(path: Path) -> str | None:
    """The name of a zip archive's one data file (None when it holds another number, or cannot be read: the read
    says why)."""
    try:
        with zipfile.ZipFile(path) as zf:
            members = [m.filename for m in zf.infolist() if not m.is_dir()]
    except (OSError, zipfile.BadZipFile):
        return None
    return Path(members[0]).name if len(members) == 1 else None


class _Peek:
    """The first blocks of a stream kept aside for sniffing, then handed on with the rest."""

    def __init__(self, blocks: Iterator[bytes], size: int = _SAMPLE) -> None:
        self._it = blocks
        self.head: list[bytes] = []
        got = 0
        self.ended = False
        while got < size:
            try:
                block = next(blocks)
            except StopIteration:
                self.ended = True
                break
            self.head.append(block)
            got += len(block)
        self.sample = b"".join(self.head)[:size]

    def __iter__(self) -> Iterator[bytes]:
        yield from self.head
        self.head = []
        yield from self._it


def detect(path: Path, options: ProfileOptions, sample: bytes | None = None, at_end: bool = True) -> Detected:
    """Format, compression, encoding, delimiter and decimal mark, from the name and the first bytes."""
    with path.open("rb") as fh:
        head = fh.read(8)
    if _excel(path, head):
        raise SourceError("Excel files are not supported: export to CSV", path=path)
    compression = compression_of(head)
    suffix = path.suffix.lower()
    if compression is None and suffix in EXT_COMPRESSION and head:
        raise SourceError(f"named {path.suffix} but is not {EXT_COMPRESSION[suffix]} data", path=path)
    inner = path.name[: -len(path.suffix)] if compression and suffix in EXT_COMPRESSION else path.name
    if compression == "zip":  # the member's own name says its format (data.csv.zip may hold data.jsonl)
        inner = _zip_member(path) or inner
    fmt = options.format
    if fmt is None:
        fmt = "parquet" if head.startswith(b"PAR1") and compression is None else EXT_FORMAT.get(
            Path(inner).suffix.lower())
    if fmt is not None and fmt not in FORMATS:
        raise SourceError(f"format {fmt!r} is not one of {', '.join(FORMATS)}", path=path)
    if fmt == "parquet":
        return Detected("parquet", compression, None, None, None)
    if sample is None:
        blocks = RawInput(path, compression, hashed=False).blocks()
        peek = _Peek(blocks)
        sample, at_end = peek.sample, peek.ended
        blocks.close()  # the file is closed now, not when the generator is collected
    encoding = options.encoding or sniff_encoding(sample, at_end)  # a given one was checked by ProfileOptions
    if b"\x00" in sample[:65536] and "16" not in encoding and "32" not in encoding:
        raise SourceError("binary data, not a text table (a NUL byte in the first 64 KiB)", path=path)
    text = sample.decode(encoding, errors="replace")
    if fmt in (None, "json", "jsonl"):
        by_content = sniff_json(text, fmt)
        if by_content is not None:
            fmt = by_content
        elif fmt is None:
            fmt = "csv"
    if fmt in ("json", "jsonl"):
        return Detected(fmt, compression, encoding, None)
    delimiter = options.delimiter or ("\t" if fmt == "tsv" else sniff_delimiter(text, options.comment))
    decimal = options.decimal or sniff_decimal(text, delimiter, options.comment)
    return Detected(fmt or "csv", compression, encoding, delimiter, decimal)


# ------------------------------------------------------------------ passes

def _plain(value: Any) -> Any:
    """Python values that JSON and the KPI records take."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    if isinstance(value, dtime):
        return value.isoformat()
    if type(value).__name__ == "Decimal":
        return float(value)
    return value


def _quantiles(stats: TableStats) -> dict[str, dict[float, float]]:
    """Each numeric column's quantiles; two columns at a time where there are several (numpy's selection
    releases the GIL, and at the end of a big file it is the last work left)."""
    kept = stats.sample.values
    numeric = [st for st in stats.columns.values()
               if (st.numeric or st.cat == "duration") and (kept.get(st.name) or st.bitmap is not None)]
    if len(numeric) < 2 or sum(len(v) for st in numeric for v in kept.get(st.name, ())) < 1 << 20:
        return {st.name: stats.quantile_values(st) for st in numeric}
    with ThreadPoolExecutor(2, thread_name_prefix="datamonitor-quantiles") as pool:
        return dict(zip((st.name for st in numeric), pool.map(stats.quantile_values, numeric), strict=True))


def _profiles(stats: TableStats, opts: ProfileOptions) -> tuple[ColumnProfile, ...]:
    out = []
    quantiles = _quantiles(stats)
    for st in stats.columns.values():
        distinct, exact = stats.distinct(st)
        numeric = st.numeric or st.cat == "duration"
        # a quantile that is not a finite number (a column holding inf) is not reported, as a mean is not
        found = {q: v for q, v in quantiles.get(st.name, {}).items() if math.isfinite(v)}
        out.append(ColumnProfile(
            name=st.name, type=st.cat, nulls=st.nulls, distinct=distinct, distinct_exact=exact,
            min=_plain(st.min), max=_plain(st.max),
            mean=_plain(st.mean + st.shift if st.shift else st.mean) if numeric and st.count else None,
            std=_plain(stats.std(st)), quantiles={q: found[q] for q in opts.quantiles if q in found},
            deciles=tuple(found[q] for q in DECILES) if opts.deciles and all(q in found for q in DECILES) else (),
            min_length=st.min_length, max_length=st.max_length,
        ))
    return tuple(out)


def _stats(opts: ProfileOptions) -> TableStats:
    from .tablestats import TableStats

    quantiles = tuple(sorted({*opts.quantiles, *DECILES})) if opts.deciles else opts.quantiles
    return TableStats(quantiles, distinct_budget=opts.exact_distinct_values, quantile_budget=opts.quantile_values)


def _pass(req: ReadRequest, opts: ProfileOptions) -> tuple[TableStats, FormatReader, str]:
    """One pass over the file with the reader of its format: its statistics, the reader, the file's digest."""
    from .readers import open_reader

    with ThreadPoolExecutor(1, thread_name_prefix="datamonitor-parse") as parse_pool:
        opened = open_reader(req, parse_pool)
        stats = _measure(opened.reader, _stats(opts), opened.pipelined, req.size)
        return stats, opened.reader, opened.sha256()


def _measure(reader: FormatReader, stats: TableStats, big: bool, size: int) -> TableStats:
    """Every chunk of the reader into the statistics; a big file's chunks in a pipeline."""
    from .readers import Widened

    chunks = reader.chunks()
    try:
        if not big:
            for df in chunks:  # the reader's attributes are read after each chunk is parsed
                stats.add(df, ascii_text=reader.chunk_ascii, nulls=reader.null_text, times=reader.text_times)
            return _finish(stats, reader)
        # the statistics of one chunk are computed while the next is parsed: both release the GIL
        with ThreadPoolExecutor(1, thread_name_prefix="datamonitor-stats") as pool:
            pending: Future[None] | None = None
            try:
                for df in chunks:
                    if pending is None and size and reader.bytes_read:
                        stats.expect_rows(df, df.height * size / reader.bytes_read)
                    if pending is not None:
                        pending.result()
                    pending = pool.submit(stats.add, df, ascii_text=reader.chunk_ascii, nulls=reader.null_text,
                                          times=reader.text_times)
            except Widened:
                # the last chunk's statistics first: a scanned time not in its layout (Rescan) means the widened
                # schema did not judge every value, so it is no final one
                if pending is not None:
                    pending.result()
                raise
            if pending is not None:
                pending.result()
        return _finish(stats, reader)
    finally:
        close(chunks)  # a pass that failed stops its reader's threads now


def _finish(stats: TableStats, reader: FormatReader) -> TableStats:
    """A header-only file still has its columns."""
    if not stats.columns and reader.names:
        import polars as pl

        stats.add(pl.DataFrame({n: pl.Series(n, [], dtype=pl.String) for n in reader.names}))
    return stats


def _settled(p: Path, det: Detected, opts: ProfileOptions, digest: str | None,
             progress: Callable[[int], None] | None, size: int,
             early: EarlyDigest | None = None) -> tuple[TableStats, FormatReader, str, Detected]:
    """Passes over the file until its types settle: again under a wider schema, or in another encoding."""
    from .readers import ReadRequest, Reencode, Rescan, Widened

    req = ReadRequest(p, det, opts, digest=digest, progress=progress, size=size, early=early)
    for _attempt in range(6):
        try:
            return (*_pass(req, opts), req.detected)
        except Widened as w:  # measured under a type too narrow: again, with the final one
            req = replace(req, schema=w.schema, formats=w.formats)
        except Rescan as r:  # the streaming scan met a row it cannot judge: again, every row on the chunk path
            log.debug("%s: read again on the chunk path: %s", p, r)
            # a digest computed apart stays, unless the file changed since (asked now: a scan that saw the file
            # change would otherwise cost a third pass): the next pass then hashes what it reads
            early = req.early if req.early is not None and req.early.result() is not None else None
            req = replace(req, scan=False, early=early)
        except Reencode as r:
            if opts.encoding:
                raise SourceError(f"not {opts.encoding}: a byte sequence it cannot decode", path=p) from None
            req = replace(req, detected=replace(req.detected, encoding=r.encoding), schema=None, formats=None)
    raise SourceError("the column types did not settle", path=p)  # pragma: no cover - each pass only widens


def _load_engine() -> None:
    """Import what a pass runs on (the readers, Polars, numpy); the first file of a process paid ~0.1 s for
    them in its parse time. Later calls find them loaded."""
    from . import readers, tablestats  # noqa: F401


def profile_file(path: str | Path, options: ProfileOptions | None = None,
                 progress: Callable[[float], None] | None = None, *, sha256: str | None = None) -> TableProfile:
    """Profile one data file; bad rows are counted, a bad file raises SourceError naming it.

    :param sha256: the file's digest when the caller already has it; the file is then not hashed again.
    """
    opts = options or ProfileOptions()
    p = Path(path)
    size = check_regular(p).st_size
    # a big file is hashed in a thread of its own from now on: beside the imports and the first chunk
    early = EarlyDigest(p) if sha256 is None and size > opts.chunk_bytes else None
    try:
        return _profile_file(p, opts, progress, sha256, size, early)
    finally:
        if early is not None:
            early.cancel()


def _profile_file(p: Path, opts: ProfileOptions, progress: Callable[[float], None] | None, sha256: str | None,
                  size: int, early: EarlyDigest | None) -> TableProfile:
    _load_engine()  # before the clock starts: file.parse_seconds is the file's time, not the imports'
    started = time.perf_counter()
    if size == 0:
        return TableProfile(rows=0, columns=(), seconds=time.perf_counter() - started,
                            format=opts.format or EXT_FORMAT.get(p.suffix.lower(), "csv"),
                            sha256=sha256 or hashlib.sha256(b"").hexdigest())
    det = detect(p, opts)
    report = (lambda done: progress(min(1.0, done / size))) if progress else None
    try:
        stats, reader, digest, det = _settled(p, det, opts, sha256, report, size, early)
    except SourceError as exc:
        if exc.path is not None:
            raise
        raise SourceError(exc.reason, path=p) from None
    except MemoryError:
        raise SourceError("out of memory while measuring", path=p) from None
    except Exception as exc:  # noqa: BLE001 - an engine error is one line naming the file, never a traceback
        raise SourceError(one_line(exc, 300), path=p) from None
    except BaseException as exc:  # Polars' PanicException (a panic in Rust, a decimal256 column) is no Exception
        if type(exc).__name__ != "PanicException":
            raise
        raise SourceError(one_line(exc, 300), path=p) from None
    if progress:
        progress(1.0)
    return TableProfile(rows=stats.rows, columns=_profiles(stats, opts), bad_rows=reader.bad.count,
                        bad_row_examples=tuple(reader.bad.examples), seconds=time.perf_counter() - started,
                        format=det.format, compression=det.compression, encoding=det.encoding,
                        delimiter=det.delimiter, sha256=digest, decimal=det.decimal)


def _frame_from_pandas(df: Any) -> Any:
    """A pandas DataFrame as Polars; a column Polars cannot convert whole is converted value by value."""
    import polars as pl

    from .columntypes import unique_names

    names = [str(c) for c in df.columns]
    if len(set(names)) < len(names):  # pandas allows a repeated name (after a concat), Polars does not
        df = df.set_axis(unique_names(names), axis=1)
    # a time zone that is a fixed offset (datetime.timezone: what pd.to_datetime gives for "+05:30") has no name
    # Polars takes: the same instants in UTC
    offsets = [i for i, dtype in enumerate(df.dtypes)
               if isinstance(getattr(dtype, "tz", None), timezone) and dtype.tz != timezone.utc]
    if offsets:
        df = df.copy(deep=False)
        for i in offsets:
            df.isetitem(i, df.iloc[:, i].dt.tz_convert("UTC"))
    try:
        return pl.from_pandas(df, nan_to_null=True)
    except Exception:  # noqa: BLE001 - object columns of mixed values
        cols = []
        for name in df.columns:
            values = df[name].tolist()
            try:
                cols.append(pl.Series(str(name), values, strict=False, nan_to_null=True))
            except Exception:  # noqa: BLE001
                cols.append(pl.Series(str(name), [None if v is None else json.dumps(v, default=str) for v in values]))
        return pl.DataFrame(cols)


def profile_dataframe(df: Any, options: ProfileOptions | None = None) -> TableProfile:
    """Profile a DataFrame already in memory (pandas, Polars or pyarrow), with the same KPIs as a file."""
    import polars as pl

    opts = options or ProfileOptions()
    started = time.perf_counter()
    if isinstance(df, pl.DataFrame):
        frame = df
    elif type(df).__module__.startswith("pyarrow"):
        frame = pl.DataFrame(pl.from_arrow(df))
    else:
        frame = _frame_from_pandas(df)
    stats = _stats(opts)
    step = 1 << 20
    for start in range(0, max(frame.height, 1), step):
        stats.add(frame.slice(start, step))
    return TableProfile(rows=stats.rows, columns=_profiles(stats, opts), seconds=time.perf_counter() - started,
                        format="dataframe")
