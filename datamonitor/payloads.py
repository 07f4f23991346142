"""KPI payloads (JSON from the API, ``send`` and UDP) made records: the keys accepted and what they mean.

Flat keys (``name``, ``value``), dotted document names (:class:`~datamonitor.records.Field`)
and whole documents are accepted; see :doc:`/schema`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .errors import PayloadError
from .records import _ALIASES, _BASELINE_FIELDS, _DERIVED, KpiRecord, _check_value, parse_timestamp

__all__ = ["KEYS", "from_payload", "near_miss"]

#: every key a payload may give for a record's field (other scalar keys become labels)
KEYS = frozenset(_ALIASES)
#: keys that name a scalar field and nothing nested ("kpi" and "host" also begin whole documents' objects)
_SCALAR = frozenset(k for k in _ALIASES if not any(other.startswith(k + ".") for other in _ALIASES))


def _flatten(payload: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, val in payload.items():
        if not isinstance(key, str):
            raise PayloadError(f"field {key!r}: keys must be strings")
        dotted = f"{prefix}{key}"
        if dotted == "labels":
            if not isinstance(val, Mapping):
                raise PayloadError("field 'labels': must be an object of strings")
            flat["labels"] = val
        elif isinstance(val, Mapping):
            if dotted in _SCALAR:  # {"value": {"x": 5}} is no value (its leaves would become labels, the value lost)
                raise PayloadError(f"field '{dotted}': a list or object is not a KPI field")
            flat.update(_flatten(val, dotted + "."))
        else:
            flat[dotted] = val
    return flat


def _coerce_value(raw: object) -> tuple[float | int | None, str | None]:
    """A number, or a numeric string, is the value; any other string is the text."""
    if isinstance(raw, str):
        text = raw.strip()
        if "_" in text:  # Python's int and float take "1_000"; JSON and every other reader do not: text
            return None, raw
        try:
            return int(text), None
        except ValueError:
            pass
        try:
            number = float(text)
        except ValueError:
            return None, raw
        if math.isfinite(number):
            return number, None
        raise PayloadError(f"field 'value': {raw!r} is not a finite number")
    return _check_value(raw), None


def from_payload(payload: Mapping[str, Any], defaults: Mapping[str, Any]) -> KpiRecord:
    """A record from a JSON payload: see :meth:`KpiRecord.from_payload <datamonitor.records.KpiRecord.from_payload>`."""
    if not isinstance(payload, Mapping):
        raise PayloadError(f"a KPI payload must be a JSON object, not {type(payload).__name__}")
    fields: dict[str, Any] = dict(defaults)
    labels: dict[str, str] = dict(fields.pop("labels", {}) or {})
    for key, val in _flatten(payload).items():
        if key == "labels":
            for lk, lv in val.items():
                if isinstance(lv, (Mapping, list)):
                    raise PayloadError(f"field 'labels.{lk}': labels are strings")
                labels[str(lk)] = str(lv).lower() if isinstance(lv, bool) else str(lv)  # as a top-level label's
        elif key in _ALIASES:
            fields[_ALIASES[key]] = val
        elif key in _DERIVED:
            continue
        elif val is None or isinstance(val, (str, int, float, bool)):
            if val is not None:
                labels[key] = str(val).lower() if isinstance(val, bool) else str(val)
        else:
            raise PayloadError(f"field '{key}': a list or object is not a KPI field")
    if "name" not in fields or fields["name"] in (None, ""):
        if fields.get("unit"):
            fields["name"] = fields["unit"]
        else:
            raise PayloadError("field 'name': missing (give 'name', or at least a 'unit')")
    for key in ("name", "unit", "text", "subject", "dataset", "host", "file_path", "message"):
        if key in fields and fields[key] is not None and not isinstance(fields[key], str):
            if isinstance(fields[key], (int, float)) and key not in ("name", "host"):
                fields[key] = str(fields[key])
            else:
                raise PayloadError(f"field '{key}': {fields[key]!r} is not a string")
    for key in _BASELINE_FIELDS:
        if fields.get(key) is not None:
            fields[key] = _check_value(fields[key], key)
    if "value" in fields:
        value, text = _coerce_value(fields["value"])
        fields["value"] = value
        if text is not None:
            if fields.get("text") not in (None, text):
                raise PayloadError("field 'value': not a number, and 'text' is given too")
            fields["text"] = text
    if "timestamp" in fields:
        fields["timestamp"] = parse_timestamp(fields["timestamp"])
    if fields.get("file_size") is not None:
        size = fields["file_size"]
        if isinstance(size, str) and size.strip().isdigit():
            fields["file_size"] = int(size)
    return KpiRecord(labels=labels, **fields)


def near_miss(key: str) -> str | None:
    """The payload key a mistyped one was meant to be (``subjet``: ``subject``), or None for a known key or a label."""
    import difflib

    if key in KEYS or key == "labels" or "." in key:
        return None
    close = difflib.get_close_matches(key, sorted({k for k in KEYS if "." not in k} | {"labels"}), n=1, cutoff=0.75)
    return close[0] if close else None
