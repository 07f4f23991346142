"""A KPI's time: the process's strictly increasing clock, ``@timestamp``'s text, parsing, and the index it names.

Every time is kept in UTC; a naive one is taken as UTC. Re-exported by
:mod:`datamonitor.records` (``format_timestamp``, ``parse_timestamp``,
``index_name``), where they were first.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

from .errors import PayloadError

__all__ = ["format_timestamp", "index_name", "parse_timestamp"]

_PERIOD_FORMATS = {"month": "%Y.%m", "day": "%Y.%m.%d"}
_clock_lock = threading.Lock()
_last_now = datetime.min.replace(tzinfo=timezone.utc)


def _utcnow() -> datetime:
    """Now, in UTC, strictly later than the last call's answer in this process.

    Two records made without an explicit time are two observations, so they
    must never share a timestamp (and with it an id), however fast they come.
    """
    global _last_now
    with _clock_lock:
        now = datetime.now(timezone.utc)
        if now <= _last_now:
            now = _last_now + timedelta(microseconds=1)
        _last_now = now
        return now


def _as_utc(ts: object) -> datetime:
    if not isinstance(ts, datetime):
        raise PayloadError(f"field 'timestamp': {ts!r} is not a datetime")
    if ts.tzinfo is None:
        return ts.replace(tzinfo=timezone.utc)
    return ts.astimezone(timezone.utc)


def format_timestamp(ts: datetime) -> str:
    """UTC ISO-8601 with milliseconds and ``Z``, the form ``@timestamp`` takes."""
    return _as_utc(ts).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def parse_timestamp(raw: object, field_name: str = "timestamp") -> datetime:
    """Parse ISO-8601 text (``Z`` or an offset; naive means UTC) or epoch seconds."""
    if isinstance(raw, datetime):
        return _as_utc(raw)
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        try:
            return datetime.fromtimestamp(raw, tz=timezone.utc)
        except (OverflowError, OSError, ValueError) as exc:
            raise PayloadError(f"field '{field_name}': {raw!r} is out of range") from exc
    if isinstance(raw, str):
        text = raw.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            return _as_utc(datetime.fromisoformat(text))
        except ValueError as exc:
            raise PayloadError(f"field '{field_name}': {raw!r} is not an ISO-8601 time") from exc
    raise PayloadError(f"field '{field_name}': {raw!r} is not a time")


def index_name(prefix: str, period: str, ts: datetime) -> str:
    """The concrete index for a document: the prefix plus the month (or day) of its own time.

    The index follows the document's ``@timestamp``, never the time it is
    shipped, so a document re-sent after a crash lands in the same index and
    its deterministic ``_id`` makes the second copy a no-op.
    """
    fmt = _PERIOD_FORMATS.get(period)
    if fmt is None:
        return prefix
    return f"{prefix}-{_as_utc(ts).strftime(fmt)}"
