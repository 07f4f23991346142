"""The store's fast path: records to :class:`~datamonitor.records.NewDocument` rows, JSON written from parts.

It writes the same bytes as ``records.dumps(records.to_document(record))`` (a
test holds it to that, field by field), so :mod:`datamonitor.records` stays the
one definition of the document; this module only makes it fast.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime, timezone

from .records import (
    ID_VERSION,
    KpiRecord,
    NewDocument,
    _id_prefix,
    document_id,
    dumps,
    format_timestamp,
    index_name,
    to_document,
)

__all__ = ["Encoder"]

_enc = json.encoder.encode_basestring  # json.dumps(str, ensure_ascii=False), in C


def _num(value: float | int) -> str:
    """A number as ``json.dumps`` writes it."""
    return int.__repr__(value) if isinstance(value, int) else float.__repr__(value)


def _labels_json(labels: Mapping[str, str]) -> str:
    """Labels as ``dumps`` writes them: the record keeps them sorted, so no sort is needed here."""
    return "{" + ",".join(_enc(k) + ":" + _enc(v) for k, v in labels.items()) + "}"


class Encoder:
    """Turns records into :class:`~datamonitor.records.NewDocument` rows for the store.

    The JSON equals ``dumps(to_document(record))`` (a test holds it to that),
    but is written from parts made once per distinct timestamp and per
    (dataset, host, file): a store takes tens of thousands of documents a
    second, and nested dicts plus ``json.dumps`` for each were most of its cost.

    :param index_prefix: and ``index_period``: where documents go (:func:`index_name`).
    :param legacy_ids_until: a ``@timestamp``; records at or before it get version 1
        ids, as a store made before version 2 may already hold them.
    """

    def __init__(self, index_prefix: str, index_period: str, *, legacy_ids_until: str | None = None) -> None:
        self.index_prefix, self.index_period = index_prefix, index_period
        self.legacy_ids_until = legacy_ids_until
        # one tuple, replaced whole: the watcher's workers share an encoder
        self._last: tuple[datetime | None, tuple[str, str, str, str]] = (None, ("", "", "", ""))
        #: the last second formatted: (its instant, its ISO text to the second, its id prefix, its index)
        self._second: tuple[datetime, str, str, str] | None = None
        self._heads: dict[tuple[str, str, str | None, int | None], tuple[str, str]] = {}
        self._labels: dict[tuple[tuple[str, str], ...], str] = {}

    def _times(self, ts: datetime) -> tuple[str, str, str, str]:
        """(identity time, @timestamp, index, id prefix), computed once per distinct timestamp.

        Records made one after another differ in their microseconds only: the parts of their second are
        kept, and only the microseconds are written for each.
        """
        last_ts, parts = self._last
        if ts == last_ts:  # records hold UTC times, so an equal instant formats alike
            return parts
        second = self._second
        if second is not None and ts.tzinfo is timezone.utc and ts.replace(microsecond=0) == second[0]:
            _s, head, id_head, index = second
            us = f"{ts.microsecond:06d}"
            parts = (head + "." + us + "+00:00", head + "." + us[:3] + "Z", index, id_head + us)
            self._last = (ts, parts)
            return parts
        iso = ts.isoformat(timespec="microseconds")
        if ts.year < 1000:  # strftime does not pad such years: keep the forms older versions stored
            stamp, index = format_timestamp(ts), index_name(self.index_prefix, self.index_period, ts)
        else:
            stamp = iso[:23] + "Z"
            period = self.index_period
            if period == "month":
                index = f"{self.index_prefix}-{iso[0:4]}.{iso[5:7]}"
            elif period == "day":
                index = f"{self.index_prefix}-{iso[0:4]}.{iso[5:7]}.{iso[8:10]}"
            else:
                index = index_name(self.index_prefix, period, ts)
        parts = (iso, stamp, index, _id_prefix(iso))
        self._last = (ts, parts)
        if ts.year >= 1000 and ts.tzinfo is timezone.utc:
            self._second = (ts.replace(microsecond=0), iso[:19], parts[3][:14], index)
        return parts

    def _head(self, record: KpiRecord) -> tuple[str, str]:
        """The document's fields between ``@timestamp`` and ``kpi``, and the identity's head."""
        key = (record.dataset, record.host, record.file_path, record.file_size)
        head = self._heads.get(key)
        if head is None:
            if len(self._heads) > 4096:
                self._heads.clear()
            doc = to_document(KpiRecord(name="x", dataset=record.dataset, host=record.host,
                                        file_path=record.file_path, file_size=record.file_size))
            parts = [f'"{k}":{dumps(doc[k])}' for k in ("datamonitor", "ecs", "event", "file", "host") if k in doc]
            fpath = "null" if record.file_path is None else _enc(record.file_path)
            head = (",".join(parts) + ",", '{"d":' + _enc(record.dataset) + ',"f":' + fpath + ',"h":'
                    + _enc(record.host) + ',"l":')
            self._heads[key] = head
        return head

    def _labels_text(self, labels: Mapping[str, str]) -> str:
        if len(self._labels) > 4096:
            self._labels.clear()
        text = self._labels[tuple(labels.items())] = _labels_json(labels)
        return text

    def row(self, record: KpiRecord, index: str | None = None) -> NewDocument:
        """The store's row for one record; ``index`` overrides the dated index."""
        try:
            if (record.expected is None and record.lower is None and record.upper is None and record.score is None
                    and record.deciles is None):
                return self._row(record, index)
        except TypeError:  # a field that is not a string where one is expected: the general builder copes
            pass
        # a scored observation (its band and score) or an odd field: the general builder
        legacy = self.legacy_ids_until
        stamp = format_timestamp(record.timestamp)
        doc_id = document_id(record, 1 if legacy is not None and stamp <= legacy else ID_VERSION)
        dated = index_name(self.index_prefix, self.index_period, record.timestamp)
        return NewDocument(doc_id, dated if index is None else index, stamp, record.name, dumps(to_document(record)))

    def _row(self, record: KpiRecord, index: str | None) -> NewDocument:
        # the caches' hits inline: this runs for every document stored
        ts = record.timestamp
        last_ts, parts = self._last
        iso, stamp, dated, prefix = parts if ts == last_ts else self._times(ts)
        head_key = (record.dataset, record.host, record.file_path, record.file_size)
        head, id_head = self._heads.get(head_key) or self._head(record)
        labels = self._labels.get(tuple(record.labels.items())) or self._labels_text(record.labels)
        subject = record.subject
        identity = (id_head + labels + ',"n":' + _enc(record.name) + ',"s":'
                    + ("null" if subject is None else _enc(subject)) + ',"t":"' + iso + '"}')
        digest = hashlib.sha256(identity.encode("utf-8")).hexdigest()
        legacy = self.legacy_ids_until
        doc_id = digest[:40] if legacy is not None and stamp <= legacy else prefix + digest[:20]
        kpi = '{"name":' + _enc(record.name)
        if subject is not None:
            kpi += ',"subject":' + _enc(subject)
        if record.text is not None:
            kpi += ',"text":' + _enc(record.text)
        if record.unit is not None:
            kpi += ',"unit":' + _enc(record.unit)
        if record.value is not None:
            kpi += ',"value":' + _num(record.value)
        body = '{"@timestamp":"' + stamp + '",' + head + '"kpi":' + kpi + "}"
        if labels != "{}":
            body += ',"labels":' + labels
        if record.message is not None:
            body += ',"message":' + _enc(record.message)
        return NewDocument(doc_id, dated if index is None else index, stamp, record.name, body + "}")
