"""The one line for people that says what is unusual: ``flights: 197,000 rows on 2013-06-14, expected ...``."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Sequence
from datetime import date

from .bands import Band
from .notify import human
from .records import KpiRecord

__all__ = ["anomaly_line", "dataset_name", "grouped"]

DASH = "\u2013"  # an en dash, between the ends of a band
DATE = re.compile(r"(?<!\d)(\d{4})-?(\d{2})-?(\d{2})(?!\d)")


def dataset_name(key: str) -> str:
    """What people call a dataset: ``/in/flights_#.csv`` is ``flights``."""
    name = key.replace("\\", "/").rsplit("/", 1)[-1]
    stem = name.split(".", 1)[0] if not name.startswith(".") else name
    cleaned = re.sub(r"[_\-. ]*#[#_\-. ]*", "_", stem).strip("_-. ")
    return cleaned or stem or key


def _day(record: KpiRecord) -> str:
    """The day the data is about: a date in the file's name, else the day it was measured."""
    if record.file_path is not None:
        name = record.file_path.replace("\\", "/").rsplit("/", 1)[-1]
        match = DATE.search(name)
        if match:
            y, mo, d = (int(g) for g in match.groups())
            if 1 <= mo <= 12 and 1 <= d <= 31:
                return f"{y:04d}-{mo:02d}-{d:02d}"
    return record.timestamp.strftime("%Y-%m-%d")


def _weekday(record: KpiRecord) -> int:
    """The weekday (Monday 0) of the date in a file's name; -1 without one."""
    if record.file_path is None:
        return -1
    match = DATE.search(record.file_path.replace("\\", "/").rsplit("/", 1)[-1])
    if not match:
        return -1
    try:
        return date(*(int(g) for g in match.groups())).weekday()
    except ValueError:
        return -1


def _what(record: KpiRecord, value: float) -> str:
    """``197,000 rows``, ``dep_delay nulls 20%``, ``dep_delay mean 45.2``."""
    if record.name == "column.null_ratio":
        return f"{record.subject} nulls {value * 100:,.3g}%"
    short = record.name.split(".", 1)[-1]
    subject = f"{record.subject} " if record.subject else ""
    if record.name.startswith("file.") and record.unit:
        shown = human(value, record.unit)
        return shown if short == record.unit else f"{shown} ({short.replace('_', ' ')})"
    unit = record.unit if record.unit not in (None, "ratio") else None
    if record.name.startswith(("file.", "column.")):
        return f"{subject}{short} {human(value, unit)}"
    return f"{record.name} {subject}{human(value, unit)}".replace("  ", " ")


def _bound(value: float, record: KpiRecord, integral: bool, up: bool = False) -> str:
    if record.name == "column.null_ratio":
        return f"{value * 100:,.3g}%"
    if integral:
        value = float(math.floor(value + 1e-9) if up else math.ceil(value - 1e-9))
    return human(value, None if record.unit == "ratio" else record.unit, like=value).removesuffix(
        f" {record.unit}" if record.unit else "")


def anomaly_line(dataset: str, record: KpiRecord, band: Band, *, integral: bool = False) -> str:
    """One line for people: ``flights: 197,000 rows on 2013-06-14, expected 320,000-345,000`` (an en dash)."""
    assert record.value is not None and band.lower is not None and band.upper is not None
    lo, hi = band.lower, band.upper
    if integral and math.ceil(lo - 1e-9) > math.floor(hi + 1e-9):
        integral = False  # no whole number inside the band: show its ends as they are
    if integral:  # the whole numbers inside the band
        lo, hi = float(math.ceil(lo - 1e-9)), float(math.floor(hi + 1e-9))
    low_text, high_text = _bound(lo, record, integral), _bound(hi, record, integral, up=True)
    expected = low_text if low_text == high_text else f"{low_text}{DASH}{high_text}"
    given = ""
    if band.given is not None and band.given_value is not None:  # the band is the partner column's: say which
        given = f" given {_what(dataclasses.replace(record, subject=band.given), band.given_value)}"
    return f"{dataset}: {_what(record, float(record.value))} on {_day(record)}, expected {expected}{given}"


def grouped(notifications: Sequence[KpiRecord]) -> list[tuple[str, str]]:
    """The (title, message) pairs to hand to notifiers: one per dataset and direction, not one per KPI.

    A file with 40 % of its rows missing moves its row count and a dozen column
    KPIs at once; people get one message with a line for each.
    """
    groups: dict[tuple[str, str], list[KpiRecord]] = {}
    for note in notifications:
        groups.setdefault((note.labels.get("dataset_key", ""), note.labels.get("state", "")), []).append(note)
    out = []
    for (key, state), notes in groups.items():
        if len(notes) == 1:
            out.append((notes[0].text or "datamonitor", notes[0].message or ""))
            continue
        name = dataset_name(key)
        title = (f"ANOMALY: {name}: {len(notes)} KPIs out of their band" if state == "alert"
                 else f"OK: {name}: {len(notes)} KPIs back to normal")
        out.append((title, "\n".join(n.message or "" for n in notes)))
    return out
