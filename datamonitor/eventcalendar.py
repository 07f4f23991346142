"""A dataset's calendar: days of scheduled events (public holidays, a migration) on which nothing is an anomaly.

Elastic's anomaly detection has *calendars and scheduled events*: during one,
no anomaly is raised and the model is not updated. The same here: a file whose
day (the date in its name, else the day it was measured) is in the calendar
is measured and stored as always, but its values are not scored, raise no
anomaly, and do not enter the baselines' histories; nor is a missing or
duplicate file of that day an anomaly. The calendar is the ``[baseline]``
keys ``calendar``, a list of days and ranges of days::

    calendar = ["2026-12-24..2026-12-26", 2026-05-01]

and ``holidays``, a country's public holidays (``"US"``; a subdivision as
``"US-NY"``) from the ``holidays`` package (``pip install datamonitor[holidays]``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from .errors import ConfigError

__all__ = ["Calendar"]

#: the separator of a range of days: ``"2026-12-24..2026-12-26"``
RANGE = ".."


def _day(text: Any, what: str) -> dt.date:
    if isinstance(text, dt.datetime):
        return text.date()
    if isinstance(text, dt.date):
        return text
    try:
        return dt.date.fromisoformat(str(text).strip())
    except ValueError:
        raise ConfigError.at("baseline", f"calendar entry {what!r} is not a day (2026-12-24) or a range of days "
                          f"(2026-12-24..2026-12-26)") from None


class Calendar:
    """The days (``YYYY-MM-DD``) on which nothing is an anomaly; see the module's docstring.

    :param entries: days (``date`` or ISO text) and ranges of days (``"first..last"``, both included).
    :param holidays: a country code, with a subdivision after a dash (``"US-NY"``), or ``""``.
    """

    def __init__(self, entries: Iterable[Any] = (), holidays: str = "") -> None:
        self.ranges: list[tuple[str, str]] = []
        for entry in entries:
            first, sep, last = str(entry).partition(RANGE) if isinstance(entry, str) else (entry, "", entry)
            a, b = _day(first, str(entry)), _day(last if sep else first, str(entry))
            if b < a:
                raise ConfigError.at("baseline", f"calendar range {entry!r} ends before it starts")
            self.ranges.append((a.isoformat(), b.isoformat()))
        self._holidays: Any = None
        if holidays:
            self._holidays = _country(holidays)

    def __bool__(self) -> bool:
        return bool(self.ranges) or self._holidays is not None

    def __contains__(self, day: str) -> bool:
        """Whether a day (``YYYY-MM-DD``) is in the calendar."""
        if any(a <= day <= b for a, b in self.ranges):
            return True
        return self._holidays is not None and day in self._holidays


def _country(code: str) -> Any:
    """The public holidays of a country (``US``) or of one of its subdivisions (``US-NY``)."""
    try:
        import holidays
    except ImportError:
        raise ConfigError.at("baseline", f"holidays = {code!r} needs the holidays package "
                          "(pip install datamonitor[holidays])") from None
    country, _, subdiv = code.partition("-")
    try:
        return holidays.country_holidays(country.upper(), subdiv=subdiv.upper() or None)
    except NotImplementedError as exc:
        raise ConfigError.at("baseline", f"holidays = {code!r}: {exc}") from None
