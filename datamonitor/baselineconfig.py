"""How baselines are learned, and for which dataset: :class:`BaselineSettings` (the config file's ``[baseline]``).

The settings hold for every dataset unless a :class:`DatasetSettings` (the
config file's ``[[baseline.datasets]]`` tables) matches it: the first one whose
shell pattern matches the dataset's name (``flights`` for the files
``/in/flights_2013-01-01.csv``, ..., as the anomaly lines print it) or its key
(``/in/flights_#.csv``; ``datamonitor.disk@host`` for other sources) gives its
settings; a key it does not set is the ``[baseline]`` table's.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import drift
from .anomalytext import dataset_name
from .errors import ConfigError
from .eventcalendar import Calendar
from .records import KpiRecord

__all__ = ["DEFAULT_FILE_KPIS", "DEFAULT_MIN_CHANGE", "BaselineSettings", "DatasetSettings", "MinChange"]

#: KPIs of files scored by default (the rest of a file's KPIs are times, checksums, texts)
DEFAULT_FILE_KPIS = ("file.rows", "file.bad_rows", "file.columns", "column.null_ratio", "column.distinct",
                     "column.mean")


@dataclass(frozen=True)
class MinChange:
    """The least change that is news for the KPIs matching ``kpi`` (a shell pattern), however unusual.

    A value out of its band is an anomaly only when it is also this far from the expected value: ``relative``
    times the expected value, ``absolute``, or ``spread`` times the column's standard deviation in the file,
    whichever is largest.
    """

    kpi: str
    relative: float = 0.0
    absolute: float = 0.0
    spread: float = 0.0

    def __post_init__(self) -> None:
        if min(self.relative, self.absolute, self.spread) < 0:
            raise ConfigError.at("baseline", f"min_change for {self.kpi} must not be negative")


#: a third fewer rows or distinct values, 5 points more nulls, a mean moved by half the column's spread
DEFAULT_MIN_CHANGE = (MinChange("file.rows", relative=0.3), MinChange("column.distinct", relative=0.3),
                      MinChange("column.null_ratio", absolute=0.05), MinChange("column.mean", spread=0.5),
                      MinChange("column.psi", absolute=drift.SHIFT))
#: KPIs never scored: datamonitor's own, and the records the baselines make
_NEVER = ("notification", "anomaly", "datamonitor.*", "udp.*")
#: keys of ``[baseline]`` that hold for the whole store, not one dataset
_STORE_WIDE = ("commit_every", "datasets")


@dataclass(frozen=True)
class DatasetSettings:
    """The settings of the datasets whose name or key matches ``match`` (a shell pattern)."""

    match: str
    settings: BaselineSettings

    def matches(self, key: str) -> bool:
        """Whether the dataset with this key is one of them: its name or its key matches."""
        return fnmatch.fnmatchcase(dataset_name(key), self.match) or fnmatch.fnmatchcase(key, self.match)


@dataclass(frozen=True)
class BaselineSettings:
    """How baselines are learned and when an observation is an anomaly.

    :param k: the band's half-width in scaled MADs; ``|score| > k`` is an anomaly.
    :param column_k: the same for the per-column KPIs: a file has many columns, so more tests, and each
        needs a wider band for the file to raise as few false alarms.
    :param min_history: observations a series needs before it is scored.
    :param window: the most recent observations the baseline is computed from.
    :param hysteresis: an open anomaly closes only when ``|score|`` is back under ``k - hysteresis``.
    :param level_shift: outliers in a row, on one side, that are a new level (see :mod:`datamonitor.outliers`).
    :param file_kpis: the file KPIs that are scored (shell patterns); other sources' numeric KPIs all are.
    :param commit_every: the facade writes the histories back at most this often (seconds), and when closed.
    :param min_change: the least change that is news, per KPI pattern (the first that matches).
    :param calendar: days and ranges of days (``"2026-12-24..2026-12-26"``) on which nothing is an anomaly nor
        teaches the baseline (see :mod:`datamonitor.eventcalendar`).
    :param holidays: a country's public holidays (``"US"``, ``"US-NY"``) added to the calendar.
    :param datasets: other settings for some datasets (the first that matches; see :meth:`for_dataset`).
    """

    k: float = 4.0
    column_k: float = 8.0
    min_history: int = 7
    window: int = 30
    hysteresis: float = 1.0
    level_shift: int = 3
    file_kpis: tuple[str, ...] = DEFAULT_FILE_KPIS
    commit_every: float = 1.0
    min_change: tuple[MinChange, ...] = DEFAULT_MIN_CHANGE
    calendar: tuple[Any, ...] = ()
    holidays: str = ""
    datasets: tuple[DatasetSettings, ...] = ()

    def __post_init__(self) -> None:
        if not self.k > 0:
            raise ConfigError.at("baseline", f"k must be positive, not {self.k}")
        if not self.column_k > 0:
            raise ConfigError.at("baseline", f"column_k must be positive, not {self.column_k}")
        if not 0 <= self.hysteresis < min(self.k, self.column_k):
            raise ConfigError.at("baseline", f"hysteresis must be in [0, min(k, column_k)), not {self.hysteresis}")
        if self.min_history < 3:
            raise ConfigError.at("baseline", f"min_history must be at least 3, not {self.min_history}")
        if isinstance(self.level_shift, bool) or not isinstance(self.level_shift, int) or self.level_shift < 1:
            raise ConfigError.at("baseline", f"level_shift must be a whole number of files, at least 1, not {self.level_shift!r}")
        if self.window < self.min_history:
            raise ConfigError.at("baseline", f"window ({self.window}) must be at least min_history ({self.min_history})")
        if not isinstance(self.holidays, str):
            raise ConfigError.at("baseline", f"holidays must be a country code such as \"US\", not {self.holidays!r}")
        #: the days on which nothing is an anomaly (``day in settings.days_off``)
        self.days_off: Calendar
        object.__setattr__(self, "days_off", Calendar(self.calendar, self.holidays))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], where: str = "[baseline]") -> BaselineSettings:
        """Settings from a config table such as ``[baseline]``: its keys are the fields; ``min_change`` is a list of
        tables (``{kpi = "file.rows", relative = 0.3}``); ``datasets`` a list of tables (``[[baseline.datasets]]``),
        each with ``match`` and the keys it sets for those datasets, the others inherited from ``data``. An unknown
        key or a bad value is one ConfigError naming the table (``[baseline.datasets][1]``) and the key.
        """
        values = dict(data)
        tables = values.pop("datasets", [])
        base = cls._parsed(values, where)
        if not isinstance(tables, list) or not all(isinstance(t, Mapping) for t in tables):
            raise ConfigError.at(where, f"datasets must be a list of tables ([[baseline.datasets]]), not {tables!r}")
        found = []
        for i, table in enumerate(tables):
            at = (where.replace("[baseline]", f"[baseline.datasets][{i}]") if "[baseline]" in where
                  else f"{where}: [baseline.datasets][{i}]")
            own = dict(table)
            match = own.pop("match", None)
            if not isinstance(match, str) or not match:
                raise ConfigError.at(at, f"match must be a shell pattern on the dataset's name (match = \"flights*\"), "
                                  f"not {match!r}")
            for key in _STORE_WIDE:
                if key in own:
                    raise ConfigError.at(at, f"{key} is for every dataset: set it in [baseline]")
            found.append(DatasetSettings(match, cls._parsed({**values, **own}, at)))
        return dataclasses.replace(base, datasets=tuple(found)) if found else base

    @classmethod
    def _parsed(cls, data: Mapping[str, Any], where: str) -> BaselineSettings:
        """One table's settings, ``datasets`` aside."""
        known = [f.name for f in dataclasses.fields(cls)]
        for key in data:
            if key not in known:
                raise ConfigError.at(where, f"unknown key {key!r} (known: {', '.join(known)})")
        values = dict(data)
        try:
            if "file_kpis" in values:
                values["file_kpis"] = tuple(str(p) for p in values["file_kpis"])
            if "min_change" in values:
                values["min_change"] = tuple(MinChange(**m) for m in values["min_change"])
            if "calendar" in values:
                if not isinstance(values["calendar"], list):
                    raise ConfigError.at(where, f"calendar must be a list of days and ranges "
                                      f"([\"2026-12-24..2026-12-26\"]), not {values['calendar']!r}")
                values["calendar"] = tuple(values["calendar"])
            for key in ("k", "column_k", "hysteresis", "commit_every", "min_history", "window", "level_shift"):
                if key in values and (isinstance(values[key], bool) or not isinstance(values[key], (int, float))):
                    raise ConfigError.at(where, f"{key} must be a number, not {values[key]!r}")
            return cls(**values)
        except ConfigError as exc:
            raise ConfigError.at(where, exc.reason) from None
        except TypeError as exc:  # a min_change entry with a wrong key, a list that is not one
            raise ConfigError.at(where, str(exc)) from None

    def for_dataset(self, key: str) -> BaselineSettings:
        """The settings of the dataset with this key: the first of ``datasets`` that matches it, else these."""
        for d in self.datasets:
            if d.matches(key):
                return d.settings
        return self

    def k_for(self, name: str) -> float:
        """The band's half-width for a KPI: ``column_k`` for the per-column KPIs, ``k`` for the rest."""
        return self.column_k if name.startswith("column.") else self.k

    def least_change(self, name: str, expected: float, spread: float | None = None) -> float:
        """The least ``|x - expected|`` that is news for a KPI: ``min_change``'s first pattern that matches.

        ``spread`` is the column's standard deviation in the file, for a :class:`MinChange` with ``spread``.
        """
        for m in self.min_change:
            if fnmatch.fnmatchcase(name, m.kpi):
                return max(m.relative * abs(expected), m.absolute, m.spread * (spread or 0.0))
        return 0.0

    def scored(self, record: KpiRecord) -> bool:
        """Whether a record's KPI has a baseline: numeric, and a file KPI of the list or another source's."""
        if record.value is None:
            return False
        return _scored_name(record.name, self.file_kpis)


@functools.lru_cache(maxsize=4096)
def _scored_name(name: str, file_kpis: tuple[str, ...]) -> bool:
    if name.startswith(("file.", "column.")):
        return any(fnmatch.fnmatchcase(name, p) for p in file_kpis)
    return not any(fnmatch.fnmatchcase(name, p) for p in _NEVER)
