"""KPIs from data files and DataFrames: per file, per column, and schema drift between files.

Every KPI of a file is stamped with when it was measured, as Metricbeat,
Telegraf and whylogs do: a file last changed in 2025 and measured today has
today's rows. The file's modification time is a KPI of its own
(``file.mtime``). A document's id is fixed when it is first stored, so
shipping it again never duplicates it.
"""

from __future__ import annotations

import glob
import json
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import SourceError
from ..isolation import Engine, IsolatedEngine
from ..profiling import ColumnProfile, ProfileOptions, TableProfile, profile_dataframe, profile_file
from ..records import KpiRecord, dataset_key  # dataset_key: re-exported, records owns it

__all__ = ["FileResult", "FileSource", "dataset_key", "dataframe_kpis", "drift", "expand_paths", "file_kpis",
           "profile_kpis"]

log = logging.getLogger(__name__)
DATASET = "datamonitor.file"
_DATA_SUFFIXES = {".csv", ".tsv", ".tab", ".txt", ".jsonl", ".ndjson", ".json", ".parquet", ".pq",
                  ".gz", ".bz2", ".zst", ".zstd", ".zip"}


def expand_paths(items: Iterable[str | Path], *, recursive: bool = False) -> list[Path]:
    """Files, folders (their data files) and glob patterns, expanded in order without repeats."""
    seen: dict[Path, None] = {}
    for item in items:
        text = str(item)
        if any(ch in text for ch in "*?[") and not os.path.lexists(text):  # an existing name is taken literally
            matches = sorted(glob.glob(text, recursive=True))
            if not matches:
                raise SourceError(f"{text}: no file matches")
            paths = [Path(m) for m in matches]
        else:
            paths = [Path(text)]
        for p in paths:
            if p.is_dir():
                walker = p.rglob("*") if recursive else p.iterdir()
                for child in sorted(walker):
                    if child.is_file() and not child.name.startswith(".") and _is_data(child):
                        seen.setdefault(child, None)
            else:
                seen.setdefault(p, None)
    return list(seen)


def _check_name(path: Path) -> None:
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        raise SourceError(f"{printable(path)}: the file name is not valid UTF-8; rename the file to measure it"
                          ) from None


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a symbolic link loop: Python 3.10-3.12 raise RuntimeError
        return path.absolute()


def printable(path: Path | str) -> str:
    """A path as text that can always be printed: bytes that are not UTF-8 are shown as escapes."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _is_data(path: Path) -> bool:
    return any(s.lower() in _DATA_SUFFIXES for s in path.suffixes[-2:])


def _value(v: Any) -> tuple[float | int | None, str | None]:
    """A number as value; a time as epoch seconds plus ISO text; anything else as text."""
    if v is None:
        return None, None
    if isinstance(v, bool):
        return int(v), None
    if isinstance(v, (int, float)):
        return v, None
    if isinstance(v, datetime):
        utc = v.astimezone(timezone.utc)
        return utc.timestamp(), utc.isoformat().replace("+00:00", "Z")
    return None, str(v)[:1024]


def _column_kpis(col: ColumnProfile, rows: int, make: Callable[..., KpiRecord]) -> Iterator[KpiRecord]:
    yield make("column.nulls", col.nulls, unit="rows", subject=col.name)
    yield make("column.null_ratio", (col.nulls / rows) if rows else 0.0, unit="ratio", subject=col.name)
    yield make("column.type", text=col.type, subject=col.name)
    if col.distinct is not None:
        labels = {"approximate": "false" if col.distinct_exact else "true"}
        yield make("column.distinct", col.distinct, unit="values", subject=col.name, labels=labels)
    for kind in ("min", "max"):
        value, text = _value(getattr(col, kind))
        if value is not None or text is not None:
            yield make(f"column.{kind}", value, text=text, subject=col.name)
    if col.mean is not None:
        yield make("column.mean", col.mean, subject=col.name)
    if col.std is not None:
        yield make("column.std", col.std, subject=col.name)
    for q, v in col.quantiles.items():
        yield make(f"column.p{round(q * 100):02d}", v, subject=col.name)
    if col.deciles and col.type in ("integer", "float") and isinstance(col.min, (int, float)) and isinstance(
            col.max, (int, float)):  # a duration's extremes and quantiles are not in one unit: numbers only
        summary = (min(float(col.min), col.deciles[0]), *col.deciles, max(float(col.max), col.deciles[-1]))
        yield make("column.deciles", deciles=summary, subject=col.name)
    if col.min_length is not None:
        yield make("column.min_length", col.min_length, unit="chars", subject=col.name)
        yield make("column.max_length", col.max_length, unit="chars", subject=col.name)


def bad_rows_text(profile: TableProfile) -> str:
    """The first bad rows, one per line number: ``line 3: expected 3 fields, found 2; line 9: ...``."""
    return "; ".join(f"line {line}: {why}" for line, why in profile.bad_row_examples)[:1024]


def profile_kpis(profile: TableProfile, *, when: datetime, file_path: str | None = None,
                 file_size: int | None = None, labels: dict[str, str] | None = None) -> list[KpiRecord]:
    """The KPI records for one profile, all stamped ``when``."""
    base: dict[str, Any] = {"dataset": DATASET, "timestamp": when, "file_path": file_path, "file_size": file_size}

    def make(name: str, value: Any = None, *, text: str | None = None, unit: str | None = None,
             subject: str | None = None, labels: dict[str, str] | None = None,
             deciles: tuple[float, ...] | None = None) -> KpiRecord:
        return KpiRecord(name=name, value=value, text=text, unit=unit, subject=subject, deciles=deciles,
                         labels={**(extra or {}), **(labels or {})}, **base)

    extra = labels
    out = [
        make("file.rows", profile.rows, unit="rows"),
        make("file.columns", len(profile.columns), unit="columns"),
        make("file.bad_rows", profile.bad_rows, unit="rows", text=bad_rows_text(profile) or None),
        make("file.parse_seconds", round(profile.seconds, 6), unit="s"),
        make("file.schema", text=json.dumps(profile.schema, separators=(",", ":"))[:1024],
             labels={"fingerprint": profile.fingerprint}),
    ]
    for col in profile.columns:
        out.extend(_column_kpis(col, profile.rows, make))
    return out


def drift(previous: Any, schema: tuple[tuple[str, str], ...], sha256: str = "") -> dict[str, list[str]] | None:
    """Added, removed and retyped columns against the dataset's baseline schema, or None when nothing changed.

    ``previous`` is a schema, or ``{"schema": ..., "sha256": [...]}`` (see
    :class:`~datamonitor.baseline.SchemaHistory`): a file whose checksum is in
    that list was measured before and is never drift.
    """
    if isinstance(previous, dict):
        if sha256 and sha256 in previous.get("sha256", ()):
            return None
        previous = previous.get("schema")
    if previous is None:
        return None
    old, new = dict((n, t) for n, t in previous), dict(schema)
    change = {
        "added": [n for n in new if n not in old],
        "removed": [n for n in old if n not in new],
        "retyped": [f"{n}:{old[n]}->{new[n]}" for n in new if n in old and old[n] != new[n]],
    }
    return change if any(change.values()) else None


@dataclass(frozen=True)
class FileResult:
    """One file's outcome: its records, or the error that stopped it."""

    path: Path
    records: tuple[KpiRecord, ...] = ()
    profile: TableProfile | None = None
    error: str | None = None
    drift: dict[str, list[str]] | None = None
    #: SHA-256 of the file's bytes, computed once during the measurement ("" when it failed)
    sha256: str = ""


def file_kpis(
    path: str | Path,
    options: ProfileOptions | None = None,
    *,
    previous_schema: Any = None,
    progress: Callable[[float], None] | None = None,
    stat: Callable[[Path], os.stat_result] = os.stat,
    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    sha256: str | None = None,
    engine: Engine | None = None,
) -> FileResult:
    """Measure one file: file KPIs, column KPIs and, given the dataset's previous schema, drift.

    Raises :class:`~datamonitor.errors.SourceError` naming the file when it cannot be read.
    ``sha256``, when the caller already hashed the file, is used instead of hashing it again.
    ``engine`` measures the file (an :class:`~datamonitor.isolation.IsolatedEngine` keeps a crash to one
    file); by default it is measured in this process.
    """
    p = Path(path)
    _check_name(p)
    try:
        st = stat(p)
    except OSError as exc:
        raise SourceError(f"cannot read: {exc.strerror or exc}", path=p) from None
    if engine is None:
        profile = profile_file(p, options, progress, sha256=sha256)
    else:
        profile = engine.profile(p, options, progress, sha256)
    return file_result(p, st, profile, previous_schema, now())


def file_result(p: Path, st: os.stat_result, profile: TableProfile, previous_schema: Any,
                measured: datetime) -> FileResult:
    """The records of a measured file: its profile's KPIs, checksum, modification time, age and drift."""
    mtime = datetime.fromtimestamp(st.st_mtime, tz=timezone.utc)
    resolved = str(_resolved(p))

    def rec(name: str, **kw: Any) -> KpiRecord:
        return KpiRecord(name=name, dataset=DATASET, timestamp=measured, file_path=resolved, file_size=st.st_size,
                         **kw)

    records = profile_kpis(profile, when=measured, file_path=resolved, file_size=st.st_size)
    records.append(rec("file.sha256", text=profile.sha256))
    records.append(rec("file.mtime", value=st.st_mtime, text=_value(mtime)[1], unit="s"))
    records.append(rec("file.age", value=max(0.0, (measured - mtime).total_seconds()), unit="s"))
    change = drift(previous_schema, profile.schema, profile.sha256) if profile.columns else None
    if change is not None:
        text = "; ".join(f"{k}: {', '.join(v)}" for k, v in change.items() if v)
        records.append(rec("file.schema_drift", value=sum(len(v) for v in change.values()), text=text[:1024],
                           unit="columns", labels={"dataset_key": dataset_key(p)},
                           message=f"schema of {p.name} changed: {text}"))
    return FileResult(path=p, records=tuple(records), profile=profile, drift=change, sha256=profile.sha256)


def dataframe_kpis(df: Any, name: str, options: ProfileOptions | None = None,
                   when: datetime | None = None) -> list[KpiRecord]:
    """KPIs for a pandas DataFrame in memory; ``name`` stands where a file's path would."""
    profile = profile_dataframe(df, options)
    return profile_kpis(profile, when=when or datetime.now(timezone.utc), labels={"dataframe": name})


class FileSource:
    """Files, folders and globs as a source; one bad file is reported and the rest go on.

    :param schemas: where the last schema of each dataset is kept between runs
        (``get(key) -> list | None`` and ``set(key, list)``); None means no drift KPIs.
    """

    name = "files"

    def __init__(self, paths: Iterable[str | Path], options: ProfileOptions | None = None, *,
                 recursive: bool = False, schemas: Any = None,
                 progress: Callable[[Path, float], None] | None = None, isolate: bool | None = None) -> None:
        self.paths, self.options, self.recursive = list(paths), options, recursive
        self.schemas, self.progress = schemas, progress
        #: measure in a worker process, so that an engine crash fails one file; None: when there are several
        self.isolate = isolate
        #: what makes the worker (tests name a worker that crashes on purpose)
        self.engine_factory: Callable[[], Engine] = IsolatedEngine

    def results_iter(self) -> Iterator[FileResult]:
        """Measure each file in turn, yielding its result (records or error)."""
        paths = expand_paths(self.paths, recursive=self.recursive)
        isolate = self.isolate if self.isolate is not None else len(paths) > 1
        engine: Engine | None = self.engine_factory() if isolate else None
        try:
            yield from self._results(paths, engine)
        finally:
            if engine is not None:
                engine.close()

    def _results(self, paths: list[Path], engine: Engine | None) -> Iterator[FileResult]:
        if hasattr(engine, "profile_many"):  # a worker process: measure ahead
            yield from self._pipelined(paths, engine)  # type: ignore[arg-type]
            return
        for path in paths:
            try:
                _check_name(path)
                key = dataset_key(_resolved(path))
                previous = self.schemas.get(key) if self.schemas is not None else None
                cb = (lambda f, p=path: self.progress(p, f)) if self.progress else None  # type: ignore[misc]
                result = file_kpis(path, self.options, previous_schema=previous, progress=cb, engine=engine)
                self._remember(key, result)
            except SourceError as exc:  # the caller reports it (the command line prints it once)
                log.info("%s", exc)
                result = FileResult(path=path, error=str(exc))
            yield result

    def _pipelined(self, paths: list[Path], engine: IsolatedEngine) -> Iterator[FileResult]:
        """The worker measures the next file while this process stores the last one's records."""
        def jobs() -> Iterator[tuple[Path, ProfileOptions | None, Any]]:
            for path in paths:
                try:
                    _check_name(path)
                    yield path, self.options, os.stat(path)
                except SourceError as exc:
                    yield path, self.options, exc
                except OSError as exc:
                    yield path, self.options, SourceError(f"cannot read: {exc.strerror or exc}", path=path)

        for path, st, profile, error in engine.profile_many(jobs(), self.progress):
            if error is not None or profile is None:
                log.info("%s", error)
                yield FileResult(path=path, error=error)
                continue
            key = dataset_key(_resolved(path))
            previous = self.schemas.get(key) if self.schemas is not None else None
            result = file_result(path, st, profile, previous, datetime.now(timezone.utc))
            self._remember(key, result)
            yield result

    def _remember(self, key: str, result: FileResult) -> None:
        if self.schemas is not None and result.profile is not None and result.profile.columns:
            self.schemas.set(key, {"schema": [list(c) for c in result.profile.schema], "sha256": result.sha256})

    def collect(self) -> Iterator[KpiRecord]:
        for result in self.results_iter():
            yield from result.records
