"""One UDP datagram: its HMAC signature, and its parse into JSON records or StatsD lines.

The listener (:mod:`datamonitor.sources.udp`) sends every datagram off its fast path through
:func:`parse_entries`; :func:`parse_datagram` is the same parse as a public function.
"""

from __future__ import annotations

import hashlib
import hmac
import json

from ..errors import PayloadError
from ..records import KpiRecord
from .statsd import BLANK, DATASET, UNSUPPORTED, Entry, LineCache, Metric, parse_line

__all__ = ["SLOW_START", "parse_datagram", "parse_entries", "sign"]

#: first bytes that send a datagram the slow way: JSON, blanks (and an empty datagram)
SLOW_START = frozenset((b"", b"[", b"{", b" ", b"\t", b"\r", b"\n", b"\x0b", b"\x0c"))


def sign(payload: bytes, secret: bytes) -> bytes:
    """The datagram a sender with the shared secret sends: an ``hmac=`` line, then the payload."""
    digest = hmac.new(secret, payload, hashlib.sha256).hexdigest()
    return b"hmac=" + digest.encode() + b"\n" + payload


def _verify(data: bytes, secret: bytes) -> bytes:
    head, sep, payload = data.partition(b"\n")
    if not sep or not head.startswith(b"hmac="):
        raise PayloadError("unsigned datagram (a secret is configured)")
    expected = hmac.new(secret, payload, hashlib.sha256).hexdigest().encode()
    if not hmac.compare_digest(head[5:].strip(), expected):
        raise PayloadError("bad HMAC signature")
    return payload


def parse_entries(data: bytes, secret: bytes | None, max_size: int,
                  cache: LineCache | None = None) -> tuple[list[KpiRecord], list[Entry]]:
    """JSON records and parsed StatsD lines (blank and unsupported ones included) of one datagram."""
    if len(data) > max_size:
        raise PayloadError(f"datagram of {len(data)} bytes is over the {max_size}-byte limit")
    if secret is not None:
        data = _verify(data, secret)
    if not data.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            raise PayloadError("datagram is not UTF-8") from None
    stripped = data.strip()
    if not stripped:
        raise PayloadError("empty datagram")
    if stripped[:1] in (b"[", b"{"):
        try:
            payload = json.loads(stripped)
        except (ValueError, RecursionError) as exc:  # ValueError: also an integer over 4,300 digits
            if _statsd_like(stripped):  # a StatsD name may begin with a bracket: "[web]hits:1|c"
                return [], _lines(stripped, cache)
            raise PayloadError(f"malformed JSON: {str(exc)[:120]}") from None
        items = payload if isinstance(payload, list) else [payload]
        if not items or len(items) > 1000:
            raise PayloadError("a JSON datagram holds 1 to 1000 KPIs")
        try:
            return [KpiRecord.from_payload(item, dataset=DATASET) for item in items], []
        except RecursionError:  # nested just short of what json.loads refuses
            raise PayloadError("JSON nested too deep") from None
    return [], _lines(stripped, cache)


def _statsd_like(data: bytes) -> bool:
    """Whether text that is no JSON reads as StatsD lines (each a name, a colon, a value and a type)."""
    first = data.split(b"\n", 1)[0]
    return b":" in first and b"|" in first.partition(b":")[2]


def _lines(stripped: bytes, cache: LineCache | None) -> list[Entry]:
    if cache is None:
        entries = [parse_line(line) for line in stripped.splitlines()]
    else:
        entries = [cache.lines.get(line) or cache.parse(line) for line in stripped.splitlines()]
    if all(e[0] is BLANK for e in entries):
        raise PayloadError("empty datagram")
    return entries


def parse_datagram(data: bytes, *, secret: bytes | None = None, max_size: int = 8192) -> tuple[list[KpiRecord],
                                                                                                list[Metric]]:
    """JSON records and StatsD samples from one datagram; raises PayloadError naming what is wrong.

    Events and service checks are left out (the listener counts them as ``udp.unsupported``).
    """
    records, entries = parse_entries(data, secret, max_size)
    return records, [Metric.from_entry(e) for e in entries if e[0] is not BLANK and e[0] is not UNSUPPORTED]
