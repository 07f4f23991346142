"""The report's data: KPI documents sorted into datasets, series and the newest column profile of each dataset.

Documents are read with :func:`datamonitor.records.read` (records is the one
place that knows the field names), then grouped: file KPIs by dataset (files of
one folder and name pattern), each series keyed by KPI, subject and tags, so a
StatsD series with tags never mixes with the untagged one; disk, UDP and the
other KPIs in sections of their own. A file's point in time is the date in its
name, else its modification time (``file.mtime``), else when it was measured:
files measured in one run are not piled on one instant.
"""

from __future__ import annotations

import functools
import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .errors import PayloadError
from .records import DocumentFields, Field, dataset_key, read

__all__ = ["Dataset", "Gathered", "Obs", "SeriesKey", "gather", "is_timestamp"]

log = logging.getLogger(__name__)

#: labels that describe a measurement, not a series (as the baselines treat them)
_NOT_TAGS = frozenset({"fingerprint", "approximate", "dataset_key"})
_DATE = re.compile(r"(?<!\d)(\d{4})-?(\d{2})-?(\d{2})(?!\d)")
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")
#: a column KPI that says where values lie: for a date or time column, its value is a timestamp
LOCATION = frozenset({"column.min", "column.max", "column.mean", "column.p50", "column.p95", "column.p99",
                      "column.std"})
#: seconds since 1973: a "duration" this long is an epoch time (file.mtime), not a duration
_EPOCH_FLOOR = 1e8

#: (KPI name, subject, tags): one line on a plot
SeriesKey = tuple[str, str, tuple[tuple[str, str], ...]]


@dataclass
class Obs:
    """One observation of a series, with its baseline when it was scored."""

    when: datetime
    value: float
    unit: str | None = None
    lower: float | None = None
    expected: float | None = None
    upper: float | None = None
    score: float | None = None
    file: str | None = None  # the file it is about, whose date becomes its x

    @property
    def outside(self) -> bool:
        """Outside its expected band: what the baselines call an anomaly."""
        return (self.lower is not None and self.value < self.lower) or (
            self.upper is not None and self.value > self.upper)


@dataclass
class Dataset:
    """The files of one dataset: their series, and the column profile of the newest file."""

    key: str
    name: str
    files: dict[str, datetime] = field(default_factory=dict)  # path -> its x
    rows: dict[str, float] = field(default_factory=dict)  # path -> rows
    series: dict[SeriesKey, list[Obs]] = field(default_factory=lambda: defaultdict(list))
    #: path -> column -> KPI name -> (value, text)
    columns: dict[str, dict[str, dict[str, tuple[float | None, str | None]]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(dict)))
    anomalies: list[tuple[datetime, str, str]] = field(default_factory=list)  # (day, KPI, line)

    def newest(self) -> str | None:
        """The path of the newest file (by its x)."""
        return max(self.files, key=lambda p: (self.files[p], p)) if self.files else None


@dataclass
class Gathered:
    """Every document of the report, sorted."""

    count: int = 0
    skipped: int = 0
    #: anomalies and notifications, for the overview, with their time
    records: list[tuple[datetime, DocumentFields]] = field(default_factory=list)
    datasets: dict[str, Dataset] = field(default_factory=dict)
    #: section ("disk", "udp", "other") -> series
    sections: dict[str, dict[SeriesKey, list[Obs]]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(list)))
    #: (KPI, subject as shown) -> (when, value, unit): the newest value of each, for the thresholds
    latest: dict[tuple[str, str], tuple[datetime, Any, str | None]] = field(default_factory=dict)


def is_timestamp(name: str, value: float | None, text: str | None, unit: str | None,
                 column_type: str | None = None) -> bool:
    """Whether a KPI's value is a point in time, not a measurement: never plotted as a number."""
    if name in LOCATION and column_type in ("date", "datetime"):
        return True
    if value is not None and text is not None and _ISO.match(text.strip()):
        return True  # column.min/max of a time column: epoch seconds, ISO text beside
    return unit == "s" and value is not None and abs(value) >= _EPOCH_FLOOR


def _file_date(path: str) -> datetime | None:
    match = _DATE.search(path.replace("\\", "/").rsplit("/", 1)[-1])
    if not match:
        return None
    try:
        y, m, d = (int(g) for g in match.groups())
        return datetime(y, m, d, tzinfo=timezone.utc)
    except ValueError:
        return None


def _tags(doc: DocumentFields) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(k), str(v)) for k, v in doc.labels.items() if k not in _NOT_TAGS))


@functools.lru_cache(maxsize=65536)
def _shown(file_path: str | None, subject: str | None) -> str:
    """The series as the thresholds' lines name it: the file's name (digits as #), then the subject."""
    parts = []
    if file_path:
        parts.append(re.sub(r"\d+", "#", file_path.replace("\\", "/").rsplit("/", 1)[-1]))
    if subject:
        parts.append(subject)
    return " / ".join(parts) or "-"


def _section(name: str) -> str:
    family = name.split(".", 1)[0]
    return family if family in ("disk", "udp") else "other"


class _Gatherer:
    def __init__(self) -> None:
        self.out = Gathered()
        self._keys: dict[str, str] = {}
        self._mtimes: dict[str, datetime] = {}

    def dataset(self, path: str) -> Dataset:
        from .baseline import dataset_name

        key = self._keys.get(path)
        if key is None:
            key = self._keys[path] = dataset_key(Path(path))
        ds = self.out.datasets.get(key)
        if ds is None:
            ds = self.out.datasets[key] = Dataset(key, dataset_name(key))
        return ds

    def add(self, when: datetime, r: DocumentFields, name: str) -> None:
        out = self.out
        if name in ("anomaly", "notification"):
            out.records.append((when, r))
            if name == "anomaly" and r.labels.get("dataset_key"):
                dkey = str(r.labels["dataset_key"])
                ds = out.datasets.get(dkey)
                if ds is None:
                    from .baseline import dataset_name

                    ds = out.datasets[dkey] = Dataset(dkey, dataset_name(dkey))
                # by the day the data is about (files measured in one run share their timestamp)
                day = _file_date(str(r.labels.get("day", ""))) or when
                ds.anomalies.append((day, str(r.labels.get("kpi", "")), r.message or ""))
            return
        value = r.value if isinstance(r.value, (int, float)) and not isinstance(r.value, bool) else None
        shown = (name, _shown(r.file_path, r.subject))
        if shown not in out.latest or when > out.latest[shown][0]:
            out.latest[shown] = (when, r.text if value is None else value, r.unit)
        if r.file_path is not None and name.startswith(("file.", "column.")):
            self._file_kpi(when, r, name, value)
            return
        if value is None or is_timestamp(name, float(value), r.text, r.unit):
            return
        key: SeriesKey = (name, r.subject or "", _tags(r))
        out.sections[_section(name)][key].append(_obs(r, when, float(value)))

    def _file_kpi(self, when: datetime, r: DocumentFields, name: str, value: float | None) -> None:
        assert r.file_path is not None
        ds = self.dataset(r.file_path)
        path = r.file_path
        ds.files.setdefault(path, when)
        if name == "file.mtime" and value is not None:
            self._mtimes[path] = datetime.fromtimestamp(float(value), tz=timezone.utc)
        if name == "file.rows" and value is not None:
            ds.rows[path] = float(value)
            if isinstance(r.file_size, int):
                ds.series[("file.size", "", ())].append(Obs(when, float(r.file_size), "bytes", file=path))
        if name.startswith("column.") and r.subject:
            ds.columns[path][r.subject][name] = (None if value is None else float(value), r.text)
        if value is not None and not is_timestamp(name, float(value), r.text, r.unit):
            ds.series[(name, r.subject or "", _tags(r))].append(_obs(r, when, float(value), path))

    def finish(self) -> Gathered:
        """Put each file's observations at the file's own date."""
        for ds in self.out.datasets.values():
            for path, measured in ds.files.items():
                ds.files[path] = _file_date(path) or self._mtimes.get(path) or measured
            for points in ds.series.values():
                for obs in points:
                    if obs.file is not None:
                        obs.when = ds.files.get(obs.file, obs.when)
                points.sort(key=lambda o: o.when)
        for series in self.out.sections.values():
            for points in series.values():
                points.sort(key=lambda o: o.when)
        return self.out


def _obs(r: DocumentFields, when: datetime, value: float, path: str | None = None) -> Obs:
    return Obs(when, value, r.unit, r.lower, r.expected, r.upper, r.score, path)


def gather(docs: Iterable[Mapping[str, Any]]) -> Gathered:
    """Sort documents (as the store or Elasticsearch return them) for the report; bad ones are logged, skipped."""
    g = _Gatherer()
    times: dict[str, datetime] = {}  # documents of one batch share their timestamp
    for doc in docs:
        fields = read(doc)
        name = fields.name
        try:
            if not name or not isinstance(name, str):
                raise PayloadError(f"field '{Field.NAME}': missing")
            when = times.get(fields.timestamp)
            if when is None:
                when = times[fields.timestamp] = fields.when
                if len(times) > 100_000:
                    times.clear()
        except PayloadError as exc:
            g.out.skipped += 1
            if g.out.skipped <= 5:
                log.warning("report: a document left out: %s", exc)
            continue
        g.out.count += 1
        g.add(when, fields, name)
    return g.finish()
