"""The report's data: KPI documents sorted into datasets, series and the newest column profile of each dataset.

Documents are read back into :class:`~datamonitor.records.KpiRecord` (the one
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
from .records import KpiRecord

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
    records: list[KpiRecord] = field(default_factory=list)  # anomalies and notifications, for the overview
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


def _tags(record: KpiRecord) -> tuple[tuple[str, str], ...]:
    return tuple((k, v) for k, v in record.labels.items() if k not in _NOT_TAGS)


@functools.lru_cache(maxsize=65536)
def _shown(file_path: str | None, subject: str | None) -> str:
    """The series as the thresholds' lines name it: the file's name (digits as #), then the subject."""
    parts = []
    if file_path:
        parts.append(re.sub(r"\d+", "#", file_path.replace("\\", "/").rsplit("/", 1)[-1]))
    if subject:
        parts.append(subject)
    return " / ".join(parts) or "-"


def _section(record: KpiRecord) -> str:
    family = record.name.split(".", 1)[0]
    return family if family in ("disk", "udp") else "other"


class _Gatherer:
    def __init__(self) -> None:
        self.out = Gathered()
        self._keys: dict[str, str] = {}
        self._mtimes: dict[str, datetime] = {}

    def dataset(self, path: str) -> Dataset:
        from .baseline import dataset_name
        from .sources.files import dataset_key

        key = self._keys.get(path)
        if key is None:
            key = self._keys[path] = dataset_key(Path(path))
        ds = self.out.datasets.get(key)
        if ds is None:
            ds = self.out.datasets[key] = Dataset(key, dataset_name(key))
        return ds

    def add(self, r: KpiRecord) -> None:
        out = self.out
        if r.name in ("anomaly", "notification"):
            out.records.append(r)
            if r.name == "anomaly" and r.labels.get("dataset_key"):
                dkey = r.labels["dataset_key"]
                ds = out.datasets.get(dkey)
                if ds is None:
                    from .baseline import dataset_name

                    ds = out.datasets[dkey] = Dataset(dkey, dataset_name(dkey))
                # by the day the data is about (files measured in one run share their timestamp)
                day = _file_date(r.labels.get("day", "")) or r.timestamp
                ds.anomalies.append((day, r.labels.get("kpi", ""), r.message or ""))
            return
        shown = (r.name, _shown(r.file_path, r.subject))
        value = r.value if r.value is not None else r.text
        if shown not in out.latest or r.timestamp > out.latest[shown][0]:
            out.latest[shown] = (r.timestamp, value, r.unit)
        if r.file_path is not None and r.name.startswith(("file.", "column.")):
            self._file_kpi(r)
            return
        if r.value is None or is_timestamp(r.name, float(r.value), r.text, r.unit):
            return
        key: SeriesKey = (r.name, r.subject or "", _tags(r))
        out.sections[_section(r)][key].append(_obs(r, r.timestamp))

    def _file_kpi(self, r: KpiRecord) -> None:
        assert r.file_path is not None
        ds = self.dataset(r.file_path)
        path = r.file_path
        ds.files.setdefault(path, r.timestamp)
        if r.name == "file.mtime" and r.value is not None:
            self._mtimes[path] = datetime.fromtimestamp(float(r.value), tz=timezone.utc)
        if r.name == "file.rows" and r.value is not None:
            ds.rows[path] = float(r.value)
            if r.file_size is not None:
                ds.series[("file.size", "", ())].append(Obs(r.timestamp, float(r.file_size), "bytes", file=path))
        if r.name.startswith("column.") and r.subject:
            ds.columns[path][r.subject][r.name] = (None if r.value is None else float(r.value), r.text)
        if r.value is not None and not is_timestamp(r.name, float(r.value), r.text, r.unit):
            ds.series[(r.name, r.subject or "", _tags(r))].append(_obs(r, r.timestamp, path))

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


def _obs(r: KpiRecord, when: datetime, path: str | None = None) -> Obs:
    assert r.value is not None
    return Obs(when, float(r.value), r.unit, r.lower, r.expected, r.upper, r.score, path)


def gather(docs: Iterable[Mapping[str, Any]]) -> Gathered:
    """Sort documents (as the store or Elasticsearch return them) for the report; bad ones are logged, skipped."""
    g = _Gatherer()
    for doc in docs:
        try:
            record = KpiRecord.from_payload(doc)
        except PayloadError as exc:
            g.out.skipped += 1
            if g.out.skipped <= 5:
                log.warning("report: a document left out: %s", exc)
            continue
        g.out.count += 1
        g.add(record)
    return g.finish()
