"""Learned baselines: what is normal for each series, and how unusual a new observation is.

A *series* is one KPI of one dataset: the dataset key (files of one folder and
name pattern, see :func:`~datamonitor.sources.files.dataset_key`; for other
sources ``event.dataset`` and the host), the KPI name, the subject (a column,
a mount) and the labels (StatsD tags), so tagged and untagged series never mix.

The baseline of a series is robust statistics over its last ``window``
observations (30 by default): the median ``m`` and the median absolute
deviation ``MAD``, scaled by 1.4826 so that it estimates the standard
deviation of normal data. A new value ``x`` scores ``(x - m) / (1.4826 MAD)``;
the expected band is ``m ± k·1.4826·MAD`` (``k`` = 4, and ``column_k`` = 8 for
the many per-column KPIs), so a score beyond ±k is an anomaly. When MAD is 0
(more than half the history is one value) the scale is ``1.2533 * mean absolute
deviation`` instead (the same normal-consistency for the mean deviation); when
that is 0 too (the history never varied) the band is the one value, a value
equal to it scores 0 and any other scores ±:data:`CONSTANT_SCORE`. Otherwise
the scale is at least 1 % of the median and, for a history of whole numbers,
the smallest gap between its distinct values. When the files' names carry dates and the week has a rhythm,
the band is the weekday's (:func:`_weekly`). With fewer than ``min_history``
observations (7) a series has no baseline yet: its state is "not enough history
yet" and nothing is scored.

Scoring happens in flow: :meth:`Baselines.observe` runs as a batch is stored,
adds ``kpi.expected``, ``kpi.lower``, ``kpi.upper`` and ``kpi.score`` to each
scored record, and returns ``anomaly`` records and ``notification`` records
(alert on entering, ok on leaving, with hysteresis) for the batch. A file whose
SHA-256 the dataset has already seen is not observed again; under another name
it is a file delivered twice, and a gap in the dates of the files' names is a
file that did not come: both are anomalies too. An anomaly enters the history as
its expected value, a lasting change as measured (:mod:`.outliers`); a column
incomplete in a file has its mean and distinct count judged with what its missing
values can explain (:mod:`.incomplete`);
a day of the dataset's calendar is neither scored nor learned (:mod:`.eventcalendar`).
The history and the open anomalies live in the store's meta table, one key per dataset.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from . import arrival, drift, incomplete, outliers
from .anomalytext import DASH, DATE, _bound, _day, _weekday, _what, anomaly_line, dataset_name, grouped
from .bands import CONSTANT_SCORE, Band, _median, robust_band, score
from .baselineconfig import DEFAULT_FILE_KPIS, DEFAULT_MIN_CHANGE, BaselineSettings, DatasetSettings, MinChange
from .notify import Threshold
from .partner import Series, given, partners
from .records import KpiRecord
from .schemas import SchemaHistory

__all__ = ["CONSTANT_SCORE", "DEFAULT_FILE_KPIS", "DEFAULT_MIN_CHANGE", "Band", "BaselineSettings", "Baselines",
           "DatasetSettings", "MinChange", "SchemaHistory", "Scored", "anomaly_line", "dataset_name", "grouped",
           "robust_band", "score"]

log = logging.getLogger(__name__)

DATASET = "datamonitor.anomaly"
_META_PREFIX = "baseline:"
#: the meta key listing the datasets that have a history
_INDEX = "baselines"
#: labels that describe a measurement, not a series: they never split one
_NOT_SERIES = frozenset({"fingerprint", "approximate", "dataset_key"})
#: KPIs that say where a column's values lie, not scored for a column with one value in the file
_LOCATION = frozenset({"column.mean", "column.p50", "column.p95", "column.p99", "column.min", "column.max"})
#: units of KPIs that are never negative: their band starts at 0 at the lowest
_COUNTS = frozenset({"rows", "columns", "values", "ratio", "bytes", "documents", "datagrams", "chars"})


class _State(Protocol):
    def get_meta(self, key: str) -> Any: ...

    def set_meta(self, key: str, value: Any) -> None: ...


def _date(text: str) -> date:
    return date.fromisoformat(text)


@dataclass
class _Group:
    """One KPI of one dataset's columns in a batch: each series' history and value, and its partner."""

    series: dict[str, Series]
    partners: dict[str, tuple[str, float]]


@dataclass
class _Batch:
    """What scoring one batch needs beyond each record: file numbers, the column groups, the columns' spreads."""

    numbers: dict[str, int]
    groups: dict[tuple[str, str], _Group]
    spreads: dict[tuple[str | None, str | None], float]
    partial: dict[tuple[str | None, str | None], incomplete.Missing]  # the columns incomplete in their file
    rows: dict[str | None, float]


@dataclass(frozen=True)
class Scored:
    """What :meth:`Baselines.observe` made of a batch.

    :param records: the batch, scored records carrying their band and score.
    :param anomalies: one ``anomaly`` record per observation outside its band.
    :param notifications: ``notification`` records: an anomaly opened (alert) or closed (ok).
    """

    records: list[KpiRecord]
    anomalies: list[KpiRecord]
    notifications: list[KpiRecord]


class Baselines:
    """Series histories kept in the store's meta table, scored as batches are stored; safe across threads.

    :param state: the store (``get_meta``/``set_meta``).
    """

    def __init__(self, state: _State, settings: BaselineSettings | None = None, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._state = state
        #: the settings; those of one dataset are :meth:`settings_for`'s (``settings.datasets``)
        self.settings = settings or BaselineSettings()
        self._per_dataset: tuple[BaselineSettings, dict[str, BaselineSettings]] = (self.settings, {})
        self._thresholds: dict[tuple[float, float], Threshold] = {}
        self._cache: dict[str, dict[str, Any]] = {}
        self._dirty: set[str] = set()
        self._lock = threading.Lock()
        self._keys: dict[str, str] = {}
        self._clock = clock
        self._written = clock()
        self._indexed: set[str] | None = None

    # -------------------------------------------------------------- series
    def _dataset(self, record: KpiRecord) -> str:
        if record.file_path is not None:
            key = self._keys.get(record.file_path)
            if key is None:
                from .sources.files import dataset_key

                key = dataset_key(Path(record.file_path))
                if len(self._keys) > 10_000:
                    self._keys.clear()
                self._keys[record.file_path] = key
            return key
        return f"{record.dataset}@{record.host}"

    def settings_for(self, dataset: str) -> BaselineSettings:
        """The settings of one dataset (its key): the first of ``settings.datasets`` that matches, else
        ``settings``."""
        s = self.settings
        if not s.datasets:
            return s
        known, cache = self._per_dataset
        if known is not s:  # the settings were replaced
            cache = {}
            self._per_dataset = (s, cache)
        found = cache.get(dataset)
        if found is None:
            found = cache[dataset] = s.for_dataset(dataset)
        return found

    def _settings(self, record: KpiRecord) -> BaselineSettings:
        return self.settings if not self.settings.datasets else self.settings_for(self._dataset(record))

    @staticmethod
    def series(record: KpiRecord) -> str:
        """The series within its dataset: KPI name, subject, and the labels that identify it."""
        labels = ",".join(f"{k}={v}" for k, v in record.labels.items() if k not in _NOT_SERIES)
        return f"{record.name}|{record.subject or ''}|{labels}"

    def _load(self, dataset: str) -> dict[str, Any]:
        state = self._cache.get(dataset)
        if state is None:
            raw = self._state.get_meta(_META_PREFIX + dataset)
            state = raw if isinstance(raw, dict) else {}
            state.setdefault("series", {})
            state.setdefault("open", {})
            state.setdefault("weekdays", {})  # series -> the weekday of each value (-1: not known)
            state.setdefault("files", {})  # SHA-256 -> file name, the last 200 files
            state.setdefault("days", [])  # the dates in the last 30 files' names
            state.setdefault("deciles", {})  # column -> the summaries of its last files (see .drift)
            state.setdefault("at", {})  # series -> the running number of the file of each value
            state.setdefault("runs", {})  # series -> its run of outliers (see .outliers)
            self._cache[dataset] = state
        return state

    def history(self, dataset: str, series: str) -> list[float]:
        """The stored history of one series, oldest first."""
        with self._lock:
            return list(self._load(dataset)["series"].get(series, []))

    def band(self, dataset: str, series: str) -> Band:
        """The current baseline of one series."""
        s = self.settings_for(dataset)
        return robust_band(self.history(dataset, series), s.k_for(series.split("|", 1)[0]), s.min_history)

    def open_anomalies(self, dataset: str) -> dict[str, str]:
        """The dataset's open anomalies: series -> the line that opened it."""
        with self._lock:
            return dict(self._load(dataset)["open"])

    # ------------------------------------------------------------- scoring
    def observe(self, batch: Iterable[KpiRecord]) -> Scored:
        """Score a batch against the histories, then add it to them; see the module's docstring.

        Each file's records are scored as if they came alone, in the batch's order (the records of no file
        together): the outcome never depends on how many files a batch happened to hold.
        """
        by_file: dict[str | None, list[KpiRecord]] = {}
        for r in batch:
            by_file.setdefault(r.file_path, []).append(r)
        out: list[KpiRecord] = []
        anomalies: list[KpiRecord] = []
        notes: list[KpiRecord] = []
        with self._lock:
            for records in by_file.values():
                self._observe_file(records, out, anomalies, notes)
        return Scored(out, anomalies, notes)

    def _observe_file(self, records: list[KpiRecord], out: list[KpiRecord], anomalies: list[KpiRecord],
                      notes: list[KpiRecord]) -> None:
        """Score one file's records (or the records of no file) and add them to the histories."""
        seen_files: dict[str, bool] = {}
        mtimes = {r.file_path: float(r.value) for r in records if r.name == "file.mtime" and r.value is not None}
        for r in records:
            if r.name == "file.sha256" and r.file_path is not None and r.text:
                seen_files[r.file_path] = self._arrival(r, anomalies, notes, mtimes.get(r.file_path))
        # a column with one value in a file (a partition key such as month) labels the file: its mean is no
        # measurement, and the next month is no anomaly
        constant = {(r.file_path, r.subject) for r in records if r.name == "column.distinct" and r.value == 1}
        records = self._with_drift(records, seen_files, constant)
        partial = incomplete.columns(records, self._nulls_band)  # their values may stand for no others
        todo = [r for r in records if self._settings(r).scored(r) and not self._off(r)
                and not (r.file_path is not None and seen_files.get(r.file_path))
                and not (constant and r.name in _LOCATION and (r.file_path, r.subject) in constant)
                and not (partial and r.name in incomplete.UNSCORED and (r.file_path, r.subject) in partial)]
        scored = {id(r) for r in todo}
        numbers = self._file_numbers(todo)
        batch_ = _Batch(numbers, self._groups(todo, numbers),
                        {(r.file_path, r.subject): float(r.value) for r in records
                         if r.name == "column.std" and r.value is not None}, partial,
                        {r.file_path: float(r.value) for r in records if r.name == "file.rows" and r.value is not None})
        for r in records:
            out.append(self._observe(r, batch_, anomalies, notes) if id(r) in scored else r)

    def _with_drift(self, records: list[KpiRecord], seen_files: dict[str, bool],
                    constant: set[tuple[str | None, str | None]]) -> list[KpiRecord]:
        """The records with a ``column.psi`` after each new file's column summary (``column.deciles``); the
        columns with as many past files are computed together (see :func:`datamonitor.drift.psi_many`)."""
        todo: list[tuple[KpiRecord, list[list[float]]]] = []
        for r in records:
            if (r.deciles is not None and r.file_path is not None and not seen_files.get(r.file_path)
                    and (r.file_path, r.subject) not in constant and not self._off(r)):
                state = self._load(self._dataset(r))
                past: list[list[float]] = state["deciles"].get(r.subject or "", [])
                state["deciles"][r.subject or ""] = [*past, list(r.deciles)][-drift.WINDOW:]
                self._dirty.add(self._dataset(r))
                if len(past) >= min(self._settings(r).min_history, drift.WINDOW):
                    todo.append((r, past))
        if not todo:
            return records
        values: dict[int, float] = {}
        by_length: dict[int, list[tuple[KpiRecord, list[list[float]]]]] = {}
        for item in todo:
            by_length.setdefault(len(item[1]), []).append(item)
        for same in by_length.values():
            found = drift.psi_many(np.asarray([r.deciles for r, _p in same], dtype=float),
                                   np.asarray([p for _r, p in same], dtype=float))
            values.update({id(r): round(float(v), 6) for (r, _p), v in zip(same, found, strict=True)})
        out = []
        for r in records:
            out.append(r)
            if id(r) in values:
                out.append(KpiRecord(name="column.psi", value=values[id(r)], subject=r.subject, dataset=r.dataset,
                                     timestamp=r.timestamp, host=r.host, file_path=r.file_path,
                                     file_size=r.file_size, labels=r.labels))
        return out

    def _nulls_band(self, r: KpiRecord) -> tuple[Band, float, float]:
        """A null ratio's plain band (no partner), its k and its least change, for :func:`.incomplete.columns`."""
        s = self._settings(r)
        band = robust_band(self._load(self._dataset(r))["series"].get(self.series(r), []), s.column_k, s.min_history)
        return band, s.column_k, s.least_change(r.name, band.median or 0.0)

    def _off(self, r: KpiRecord) -> bool:
        """Whether the record's day is in its dataset's calendar (see :mod:`.eventcalendar`): not scored, not learned."""
        days = self._settings(r).days_off
        return bool(days) and _day(r) in days

    def _file_numbers(self, todo: list[KpiRecord]) -> dict[str, int]:
        """A running number per file of each dataset: which values of two series came from the same file."""
        numbers: dict[str, int] = {}
        for r in todo:
            if r.file_path is not None and r.file_path not in numbers:
                state = self._load(self._dataset(r))
                state["files_seen"] = numbers[r.file_path] = int(state.get("files_seen", 0)) + 1
        return numbers

    def _groups(self, todo: list[KpiRecord], numbers: dict[str, int]) -> dict[tuple[str, str], _Group]:
        """The batch's per-column KPIs by (dataset, KPI name), each series with its history and partner."""
        groups: dict[tuple[str, str], _Group] = {}
        for r in todo:
            if r.file_path is None or not r.name.startswith("column."):
                continue
            dataset = self._dataset(r)
            state = self._load(dataset)
            key = self.series(r)
            group = groups.setdefault((dataset, r.name), _Group({}, {}))
            group.series[key] = Series(state["series"].get(key, []), state["at"].get(key, []),
                                       float(r.value))  # type: ignore[arg-type]  # scored() checked it
        for group in groups.values():
            group.partners.update(partners(group.series))
        return groups

    def _observe(self, r: KpiRecord, batch: _Batch, anomalies: list[KpiRecord], notes: list[KpiRecord]) -> KpiRecord:
        """Score one record, judge it, and add its value to its series' history."""
        dataset = self._dataset(r)
        s = self.settings_for(dataset)
        state = self._load(dataset)
        key = self.series(r)
        history: list[float] = state["series"].get(key, [])
        weekdays: list[int] = state["weekdays"].get(key, [])
        weekday = _weekday(r)
        x = float(r.value)  # type: ignore[arg-type]  # scored() checked it
        k = s.k_for(r.name)
        band = robust_band(history, k, s.min_history, weekdays=weekdays, weekday=weekday, value=x)
        group = batch.groups.get((dataset, r.name))
        if group is not None and key in group.partners and band.scale:
            band = given(band, x, k, group.series, group.partners[key], key)
        wide = batch.partial and (r.file_path, r.subject) in batch.partial and incomplete.widened(
            band, x, r.name, batch.partial[(r.file_path, r.subject)], batch.spreads.get((r.file_path, r.subject)),
            batch.rows.get(r.file_path))  # what the missing values explain
        if wide:
            band = wide[0]
        if band.lower is not None and band.lower < 0 and r.unit in _COUNTS:
            band = dataclasses.replace(band, lower=0.0)  # a count or a ratio is never negative
        z = wide[1] if wide else score(x, band)
        if z is not None:
            r = _with_band(r, band, z)
            least = s.least_change(r.name, band.median, batch.spreads.get((r.file_path, r.subject)))  # type: ignore[arg-type]
            news = abs(x - band.median) >= least and not (  # type: ignore[operator]
                r.name == "column.psi" and band.median >= drift.STABLE)  # type: ignore[operator]  # never stable
            z = z if news else 0.0  # judged: an anomaly only when the change is worth telling
            self._judge(dataset, state, key, r, band, z, history, anomalies, notes)
        runs = state["runs"].setdefault(key, {})
        state["series"][key] = outliers.added(history, weekdays, runs, x, weekday, band, z, k, s.level_shift)[-s.window:]
        if not runs:
            del state["runs"][key]
        state["weekdays"][key] = [*weekdays[-(s.window - 1):], weekday]
        if r.file_path is not None:
            state["at"][key] = [*state["at"].get(key, [])[-(s.window - 1):], batch.numbers[r.file_path]]
        self._dirty.add(dataset)
        return r

    def _arrival(self, r: KpiRecord, anomalies: list[KpiRecord], notes: list[KpiRecord],
                 mtime: float | None = None) -> bool:
        """Note a file's arrival; True when its bytes were measured before (it is then not observed again).

        The same bytes under another name are a file delivered twice; a gap in the dates of the files'
        names larger than 1.5 times their usual step is a file that did not come. Both are anomalies.
        """
        dataset = self._dataset(r)
        state = self._load(dataset)
        assert r.file_path is not None and r.text is not None
        name = r.file_path.replace("\\", "/").rsplit("/", 1)[-1]
        files: dict[str, str] = state["files"]
        before = files.get(r.text)
        if before == name:
            return True  # measured again: nothing new
        label = dataset_name(dataset)
        if before is not None:
            self._event(r, dataset, "duplicate", f"{label}: {name} has the same bytes as {before}, "
                        "delivered before", anomalies, notes)
            return True
        files[r.text] = name
        while len(files) > 200:
            del files[next(iter(files))]
        self._dirty.add(dataset)
        self._arrived(r, dataset, state, mtime, notes)
        day = _day(r) if DATE.search(name) else None
        if day is None:
            return False
        days: list[str] = state["days"]
        if day in days:
            return False
        known = sorted(days)
        if len(known) >= self.settings_for(dataset).min_history and day > known[-1]:
            steps = [(_date(b) - _date(a)).days for a, b in itertools.pairwise(known)]
            step = int(_median(sorted(steps)))
            last = _date(known[-1])
            if step >= 1 and (_date(day) - last).days > 1.5 * step:
                missing = last + timedelta(days=step)
                while missing < _date(day):
                    every = "a day" if step == 1 else f"every {step} days"
                    self._event(r, dataset, "missing", f"{label}: no file for {missing.isoformat()} (one comes "
                                f"{every}; the next came for {day})", anomalies, notes, day=missing.isoformat())
                    missing += timedelta(days=step)
        state["days"] = sorted([*days, day])[-30:]
        return False

    def _arrived(self, r: KpiRecord, dataset: str, state: dict[str, Any], mtime: float | None,
                 notes: list[KpiRecord]) -> None:
        """Add a new file's arrival time (its mtime) to its dataset's; a dataset that was late is on time again."""
        when = mtime if mtime is not None else r.timestamp.timestamp()
        state["arrivals"] = arrival.added(state.get("arrivals", []), when)
        if state.pop("late", None) is not None:
            name = dataset_name(dataset)
            notes.append(KpiRecord(
                name="notification", subject=f"{name} file.arrival", text=f"OK: {name} file.arrival is back to normal",
                message=f"{name}: a file came at {arrival.stamp(when)}", dataset="datamonitor.notify",
                timestamp=r.timestamp, host=r.host,
                labels={"kpi": "file.arrival", "state": "ok", "kind": "late", "dataset_key": dataset}))

    def overdue(self, now: datetime | None = None) -> Scored:
        """The datasets whose next file is late at ``now``: an anomaly and an alert each, once per late file.

        It needs no new file: the watcher calls it on a timer (see :meth:`DataMonitor.check_overdue`). A dataset
        is late once the time since its last file is past its usual interval by ``k`` spreads (see
        :mod:`datamonitor.arrival`); it is on time again when a file comes.
        """
        now = now or datetime.now(timezone.utc)
        at = now.timestamp()
        anomalies: list[KpiRecord] = []
        notes: list[KpiRecord] = []
        with self._lock:
            index = self._state.get_meta(_INDEX)
            for dataset in sorted({*(index if isinstance(index, list) else []), *self._cache}):
                state = self._load(dataset)
                s = self.settings_for(dataset)
                d = arrival.due(state.get("arrivals", []), s.k, s.min_history)
                if d is None or at <= d.late or state.get("late") == d.expected:
                    continue
                state["late"] = d.expected
                self._dirty.add(dataset)
                name = dataset_name(dataset)
                line = arrival.late_line(name, d)
                elapsed = at - d.last
                labels = {"kpi": "file.arrival", "kind": "late", "dataset_key": dataset,
                          "day": datetime.fromtimestamp(d.expected, timezone.utc).strftime("%Y-%m-%d")}
                anomalies.append(KpiRecord(
                    name="anomaly", value=round(elapsed, 3), unit="s", subject="file.arrival", dataset=DATASET,
                    timestamp=now, message=line, text=name, expected=d.interval, upper=d.late - d.last,
                    score=round((elapsed - d.interval) / d.spread, 6), labels=labels))
                notes.append(KpiRecord(
                    name="notification", subject=f"{name} file.arrival", text=f"ANOMALY: {name} file.arrival",
                    message=line, dataset="datamonitor.notify", timestamp=now,
                    labels={"kpi": "file.arrival", "state": "alert", "kind": "late", "dataset_key": dataset}))
        return Scored([], anomalies, notes)

    def _event(self, r: KpiRecord, dataset: str, kind: str, line: str, anomalies: list[KpiRecord],
               notes: list[KpiRecord], day: str | None = None) -> None:
        """An anomaly that is an event, not a value out of its band: an anomaly document and an alert."""
        if (day or _day(r)) in self.settings_for(dataset).days_off:
            return  # a day of its calendar: no anomaly
        name = dataset_name(dataset)
        labels = {"kpi": f"file.{kind}", "kind": kind, "dataset_key": dataset, "day": day or _day(r)}
        anomalies.append(KpiRecord(name="anomaly", subject=f"file.{kind}", dataset=DATASET, timestamp=r.timestamp,
                                   host=r.host, file_path=r.file_path, file_size=r.file_size, message=line,
                                   text=name, labels=labels))
        notes.append(KpiRecord(name="notification", subject=f"{name} file.{kind}", text=f"ANOMALY: {name} file.{kind}",
                               message=line, dataset="datamonitor.notify", timestamp=r.timestamp, host=r.host,
                               labels={"kpi": f"file.{kind}", "state": "alert", "kind": kind,
                                       "dataset_key": dataset}))

    def _judge(self, dataset: str, state: dict[str, Any], key: str, r: KpiRecord, band: Band, z: float,
               history: list[float], anomalies: list[KpiRecord], notes: list[KpiRecord]) -> None:
        was_open = key in state["open"]
        s = self.settings_for(dataset)
        k = s.k_for(r.name)
        threshold = self._thresholds.get((k, s.hysteresis))
        if threshold is None:  # the thresholds' own hysteresis, on |score|
            threshold = Threshold("anomaly.score", above=k, hysteresis=s.hysteresis)
            self._thresholds[(k, s.hysteresis)] = threshold
        now_open = threshold.breached(abs(z), was_open)
        if abs(z) <= k and not now_open and not was_open:
            return
        integral = all(float(v).is_integer() for v in history) and float(r.value).is_integer()  # type: ignore[arg-type]
        name = dataset_name(dataset)
        line = anomaly_line(name, r, band, integral=integral)
        labels = {"kpi": r.name, "kind": "value", "dataset_key": dataset, "day": _day(r),
                  **{k: v for k, v in r.labels.items() if k not in _NOT_SERIES}}
        subject = f"{r.name} on {r.subject}" if r.subject else r.name
        when = r.timestamp
        if abs(z) > k:
            anomalies.append(KpiRecord(
                name="anomaly", value=r.value, unit=r.unit, subject=subject, dataset=DATASET, timestamp=when,
                host=r.host, file_path=r.file_path, file_size=r.file_size, message=line, text=name,
                expected=r.expected, lower=r.lower, upper=r.upper, score=r.score, labels=labels))
        if now_open == was_open:
            return
        if now_open:
            state["open"][key] = line
            title = f"ANOMALY: {name} {subject}"
            message = line
        else:
            del state["open"][key]
            title = f"OK: {name} {subject} is back to normal"
            assert band.lower is not None and band.upper is not None and r.value is not None
            message = (f"{name}: {_what(r, float(r.value))} on {_day(r)}, back within "
                       f"{_bound(band.lower, r, integral)}{DASH}{_bound(band.upper, r, integral, up=True)}")
        notes.append(KpiRecord(
            name="notification", value=r.value, unit=r.unit, subject=f"{name} {subject}", text=title,
            message=message, dataset="datamonitor.notify", timestamp=when, host=r.host,
            labels={"kpi": r.name, "state": "alert" if now_open else "ok", "kind": "anomaly",
                    "dataset_key": dataset}))

    def commit(self, *, force: bool = True) -> None:
        """Write the histories changed since the last commit to the store.

        ``force=False`` writes only when ``settings.commit_every`` seconds passed since the last write, so a
        burst of files costs one write a second; :meth:`DataMonitor.close` writes the rest.
        """
        with self._lock:
            now = self._clock()
            if not self._dirty or (not force and now - self._written < self.settings.commit_every):
                return
            dirty, self._dirty, self._written = self._dirty, set(), now
            for dataset in sorted(dirty):
                self._state.set_meta(_META_PREFIX + dataset, self._cache[dataset])
            if self._indexed is None:
                index = self._state.get_meta(_INDEX)
                self._indexed = set(index) if isinstance(index, list) else set()
            if not dirty <= self._indexed:  # the datasets with a history, for overdue() after a restart
                self._indexed |= dirty
                self._state.set_meta(_INDEX, sorted(self._indexed))

    def forget(self) -> None:
        """Drop what is cached and not committed (a batch that could not be stored)."""
        with self._lock:
            for dataset in self._dirty:
                self._cache.pop(dataset, None)
            self._dirty = set()


def _with_band(record: KpiRecord, band: Band, z: float) -> KpiRecord:
    """The record with its baseline; a copy of its fields, since they were checked when it was made (4x cheaper
    than ``dataclasses.replace``, measured)."""
    new = object.__new__(KpiRecord)
    new.__dict__.update(record.__dict__, expected=band.median, lower=band.lower, upper=band.upper, score=round(z, 6))
    return new
