"""KPI records and the one document builder: the only module that knows field names.

A :class:`KpiRecord` is one observation: a named value about a subject at an
instant. :func:`to_document` turns it into the JSON document that the index
template maps; :func:`document_id` hashes what identifies the observation, so
the same observation always gets the same ``_id`` and is never stored twice.
A :class:`NewDocument` is what the store takes (:mod:`datamonitor.encoder`
writes them fast); :class:`Field` names a document's fields for queries and
charts, and :func:`read` gives a stored document's fields back, typed.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import math
import re
import socket
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import PurePath
from types import MappingProxyType
from typing import Any, Final, NamedTuple

from .errors import PayloadError
from .timestamps import _as_utc, _utcnow, format_timestamp, index_name, parse_timestamp

__all__ = [
    "ECS_VERSION",
    "ID_VERSION",
    "SCHEMA_VERSION",
    "DocumentFields",
    "Field",
    "KpiRecord",
    "NewDocument",
    "as_records",
    "dataset_key",
    "document_id",
    "dumps",
    "format_timestamp",
    "index_name",
    "parse_timestamp",
    "read",
    "to_document",
]

#: Version of the document layout; bumped when a field changes meaning.
SCHEMA_VERSION = 1
#: The ECS version whose field names the documents follow.
ECS_VERSION = "8.11.0"
#: Version of the ``_id`` formula (see :func:`document_id`); 1 was the bare hash, 2 puts the time first.
ID_VERSION = 2
#: ``event.dataset`` of a KPI that came in through the API or ``send``.
DEFAULT_DATASET = "datamonitor.kpi"
_MAX_NAME = 256
#: kpi.expected, kpi.lower, kpi.upper, kpi.score: a scored value's baseline, the same four fields for every KPI
_BASELINE_FIELDS = ("expected", "lower", "upper", "score")
_MAX_TEXT = 32_766  # Lucene's limit for one keyword term, in bytes; checked on characters
_NO_LABELS: Mapping[str, str] = MappingProxyType({})


@functools.lru_cache(maxsize=1)
def _hostname() -> str:
    return socket.gethostname()


@dataclass(frozen=True)
class KpiRecord:
    """One observation of one KPI.

    :param name: what is measured, e.g. ``file.rows`` or ``column.null_ratio``.
    :param value: the number, when the KPI is numeric.
    :param text: the value, when it is not a number (a checksum, a type name).
    :param subject: what the KPI is about within its source: a column, a mount point.
    :param dataset: ``event.dataset``: which source produced it.
    :param labels: free-form string tags, stored in one ``flattened`` field.
    """

    name: str
    value: float | int | None = None
    unit: str | None = None
    text: str | None = None
    subject: str | None = None
    dataset: str = DEFAULT_DATASET
    timestamp: datetime = field(default_factory=_utcnow)
    host: str = field(default_factory=_hostname)
    file_path: str | None = None
    file_size: int | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    message: str | None = None
    #: the series' baseline when the value was scored: median, band and score (see :mod:`datamonitor.baseline`)
    expected: float | None = None
    lower: float | None = None
    upper: float | None = None
    score: float | None = None
    #: a numeric column's distribution in a file: its minimum, nine deciles and maximum (``kpi.deciles``, stored
    #: but not indexed; see :mod:`datamonitor.drift`)
    deciles: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        name = self.name
        if not isinstance(name, str) or not name.strip():
            raise PayloadError("field 'name': a KPI needs a non-empty name")
        if len(name) > _MAX_NAME:
            raise PayloadError(f"field 'name': longer than {_MAX_NAME} characters")
        value = self.value
        if value is not None and (type(value) is not int or not -_MAX_INT <= value <= _MAX_INT):
            object.__setattr__(self, "value", _check_value(value))  # the common case (a usual int) needs no call
        for key in _TEXT_FIELDS:  # a lone surrogate ("\ud800", from JSON's escapes) cannot be written as UTF-8
            text = getattr(self, key)
            if type(text) is str and not text.isascii():
                _encodable(key, text)
        if self.expected is not None or self.lower is not None or self.upper is not None or self.score is not None:
            for key in _BASELINE_FIELDS:
                if getattr(self, key) is not None:
                    object.__setattr__(self, key, _check_value(getattr(self, key), key))
        if self.deciles is not None:
            object.__setattr__(self, "deciles", _check_deciles(self.deciles))
        if self.text is not None and len(self.text) > _MAX_TEXT:
            raise PayloadError(f"field 'text': longer than {_MAX_TEXT} characters")
        ts = self.timestamp
        if not isinstance(ts, datetime) or ts.tzinfo is not timezone.utc:
            object.__setattr__(self, "timestamp", _as_utc(ts))
        size = self.file_size
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
            raise PayloadError(f"field 'file_size': {size!r} is not a byte count")
        labels = self.labels
        if not labels:
            object.__setattr__(self, "labels", _NO_LABELS)
        else:
            items = dict(labels).items()
            for k, v in items:
                if type(k) is not str or type(v) is not str:
                    items = {str(k): str(v) for k, v in items}.items()
                    break
            for k, v in items:
                if not (k.isascii() and v.isascii()):
                    _encodable(f"labels.{k}", k + v)
            object.__setattr__(self, "labels", MappingProxyType(dict(sorted(items))))

    def __hash__(self) -> int:
        return hash(document_id(self))

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any], **defaults: Any) -> KpiRecord:
        """Build a record from a JSON payload; see :doc:`/schema` for the accepted keys.

        Flat keys (``name``, ``value``, ``unit``...), dotted ECS names
        (``kpi.name``, ``file.path``) and whole documents as :func:`to_document`
        makes them are all accepted. Other scalar keys become labels. A payload
        without a name is named after its unit, as the first users' payloads
        (``{"unit": "nb_of_rows", "value": "6543"}``) were.
        """
        from .payloads import from_payload  # the payload side: it builds records, so it imports this module

        return from_payload(payload, defaults)


def as_records(items: Iterable[KpiRecord | Mapping[str, Any]]) -> list[KpiRecord]:
    """Records, and payloads made records; all are checked before any is returned, the bad one named by position."""
    batch: list[KpiRecord] = []
    for position, item in enumerate(items):
        if isinstance(item, KpiRecord):
            batch.append(item)
            continue
        try:
            batch.append(KpiRecord.from_payload(item))
        except PayloadError as exc:
            raise PayloadError(f"document {position}: {exc}") from None
    return batch


_MAX_INT = int(sys.float_info.max)
_TEXT_FIELDS = ("name", "unit", "text", "subject", "dataset", "host", "file_path", "message")


def _encodable(key: str, text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise PayloadError(f"field '{key}': {text[exc.start:exc.end]!r} at character {exc.start} is no Unicode "
                           f"character (a lone surrogate)") from None


def _check_deciles(values: Any) -> tuple[float, ...]:
    """A quantile summary: a list of finite numbers in ascending order (11: minimum, 9 deciles, maximum)."""
    if not isinstance(values, (list, tuple)) or len(values) != 11 or any(v is None for v in values):
        raise PayloadError("field 'deciles': 11 numbers (minimum, 9 deciles, maximum)")
    out = tuple(float(_check_value(v, "deciles") or 0) for v in values)
    if any(b < a for a, b in itertools.pairwise(out)):
        raise PayloadError("field 'deciles': not in ascending order")
    return out


def _check_value(value: object, name: str = "value") -> float | int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise PayloadError(f"field '{name}': {value!r} is not a finite number")
        if isinstance(value, int) and not -_MAX_INT <= value <= _MAX_INT:  # no mean, no baseline, no double indexed
            raise PayloadError(f"field '{name}': an integer past the largest float (1.8e308)")
        return value
    raise PayloadError(f"field '{name}': {value!r} is not a number")


class NewDocument(NamedTuple):
    """A document on its way into the store: what :meth:`~datamonitor.store.Store.put` takes."""

    doc_id: str
    idx: str  # the index it goes to
    timestamp: str  # ``@timestamp``, as in the body
    name: str  # ``kpi.name``, as in the body
    body: str  # the JSON document, as :func:`dumps` writes it


class Field:
    """The dotted names of a document's fields, for queries, charts and filters: nobody else spells them."""

    TIMESTAMP: Final = "@timestamp"
    NAME: Final = "kpi.name"
    VALUE: Final = "kpi.value"
    UNIT: Final = "kpi.unit"
    TEXT: Final = "kpi.text"
    SUBJECT: Final = "kpi.subject"
    #: a scored observation's baseline (see :mod:`datamonitor.baseline`)
    EXPECTED: Final = "kpi.expected"
    LOWER: Final = "kpi.lower"
    UPPER: Final = "kpi.upper"
    SCORE: Final = "kpi.score"
    DATASET: Final = "event.dataset"
    HOST: Final = "host.name"
    FILE_PATH: Final = "file.path"
    FILE_NAME: Final = "file.name"
    FILE_SIZE: Final = "file.size"
    LABELS: Final = "labels"
    MESSAGE: Final = "message"
    #: a column's minimum, nine deciles and maximum: stored, not indexed (see :mod:`datamonitor.drift`)
    DECILES: Final = "kpi.deciles"


@dataclass(frozen=True)
class DocumentFields:
    """A stored document's fields by their record names, whatever the JSON's nesting (see :func:`read`)."""

    timestamp: str
    name: str | None
    value: Any = None
    unit: str | None = None
    text: str | None = None
    subject: str | None = None
    expected: float | None = None
    lower: float | None = None
    upper: float | None = None
    score: float | None = None
    dataset: str | None = None
    host: str | None = None
    file_path: str | None = None
    file_name: str | None = None
    file_size: int | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    message: str | None = None

    @property
    def when(self) -> datetime:
        """``@timestamp`` as a UTC datetime."""
        return parse_timestamp(self.timestamp, Field.TIMESTAMP)


def read(doc: Mapping[str, Any]) -> DocumentFields:
    """The fields of a document as :func:`to_document` writes it (and the store or Elasticsearch return it)."""
    kpi = doc.get("kpi") or {}
    file = doc.get("file") or {}
    return DocumentFields(
        timestamp=str(doc.get("@timestamp", "")), name=kpi.get("name"), value=kpi.get("value"),
        unit=kpi.get("unit"), text=kpi.get("text"), subject=kpi.get("subject"),
        **{key: kpi.get(key) for key in _BASELINE_FIELDS},
        dataset=(doc.get("event") or {}).get("dataset"), host=(doc.get("host") or {}).get("name"),
        file_path=file.get("path"), file_name=file.get("name"), file_size=file.get("size"),
        labels=doc.get("labels") or {},
        message=doc.get("message"))


def dataset_key(path: str | PurePath) -> str:
    """Files of one dataset share a folder and a name pattern: digits become ``#``.

    ``in/sales_2026-11-01.csv`` and ``in/sales_2026-11-02.csv`` are one dataset.
    """
    path = PurePath(path)
    return str(path.parent / re.sub(r"\d+", "#", path.name))


def to_document(record: KpiRecord) -> dict[str, Any]:
    """The JSON document for a record: ECS names where ECS has one, ``kpi.*`` for the rest."""
    kpi: dict[str, Any] = {"name": record.name}
    for key in ("value", "unit", "text", "subject", *_BASELINE_FIELDS):
        val = getattr(record, key)
        if val is not None:
            kpi[key] = val
    if record.deciles is not None:
        kpi["deciles"] = list(record.deciles)
    doc: dict[str, Any] = {
        "@timestamp": format_timestamp(record.timestamp),
        "ecs": {"version": ECS_VERSION},
        "event": {"dataset": record.dataset, "kind": "metric", "module": "datamonitor"},
        "host": {"name": record.host},
        "kpi": kpi,
        "datamonitor": {"schema_version": SCHEMA_VERSION},
    }
    if record.file_path is not None:
        path = record.file_path
        name = path.replace("\\", "/").rsplit("/", 1)[-1]
        file: dict[str, Any] = {"path": path, "name": name}
        if "." in name.strip("."):
            file["extension"] = name.rsplit(".", 1)[-1].lower()
        if record.file_size is not None:
            file["size"] = record.file_size
        doc["file"] = file
    if record.labels:
        doc["labels"] = dict(record.labels)
    if record.message is not None:
        doc["message"] = record.message
    return doc


def dumps(document: Mapping[str, Any]) -> str:
    """Compact, deterministic JSON: sorted keys, no NaN, UTF-8 kept as is."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def document_id(record: KpiRecord, version: int = ID_VERSION) -> str:
    """A stable ``_id``: the time, then the hash of what identifies the observation, never of its value.

    Two records for the same KPI, subject, source, host, file, labels and
    instant (to the microsecond) are the same observation and get the same id.
    The identity is hashed as compact, sorted JSON (see :doc:`/schema`).
    Version 2 ids are the instant's 20 digits (``YYYYMMDDhhmmssffffff``, UTC)
    followed by 20 hex digits of that hash, so ids made in time order sort in
    time order, which keeps the store's and Lucene's id index writes local.
    Version 1 ids were the first 40 hex digits of the hash alone; a store made
    before version 2 keeps them for the observations it may already hold.
    """
    iso = record.timestamp.isoformat(timespec="microseconds")
    identity = {
        "t": iso,
        "n": record.name,
        "s": record.subject,
        "d": record.dataset,
        "h": record.host,
        "f": record.file_path,
        "l": dict(record.labels),
    }
    digest = hashlib.sha256(dumps(identity).encode("utf-8")).hexdigest()
    if version == 1:
        return digest[:40]
    return _id_prefix(iso) + digest[:20]


def _id_prefix(iso_us: str) -> str:
    """``2026-11-23T10:30:15.123456+00:00`` -> ``20261123103015123456``."""
    return iso_us[0:4] + iso_us[5:7] + iso_us[8:10] + iso_us[11:13] + iso_us[14:16] + iso_us[17:19] + iso_us[20:26]


# payload keys (payloads.py parses them): the record's own names, short ones, the document's -> the record's field
_ALIASES = {
    "name": "name", "kpi": "name", Field.NAME: "name",
    "value": "value", Field.VALUE: "value",
    "unit": "unit", Field.UNIT: "unit",
    "text": "text", Field.TEXT: "text",
    "subject": "subject", Field.SUBJECT: "subject",
    "dataset": "dataset", Field.DATASET: "dataset",
    "timestamp": "timestamp", Field.TIMESTAMP: "timestamp",
    "host": "host", Field.HOST: "host",
    "file_path": "file_path", Field.FILE_PATH: "file_path", "path": "file_path",
    "file_size": "file_size", Field.FILE_SIZE: "file_size",
    Field.MESSAGE: "message",
    **{f"kpi.{key}": key for key in _BASELINE_FIELDS},
    Field.DECILES: "deciles",
}
# Parts of a whole document that the builder derives again, so they are dropped on the way in.
_DERIVED = {"ecs.version", "event.kind", "event.module", "file.name", "file.extension", "datamonitor.schema_version"}
