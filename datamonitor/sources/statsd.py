"""StatsD and DogStatsD lines, parsed as bytes and aggregated per flush interval in bounded memory.

Types, as Etsy StatsD and DogStatsD define them:

* ``c`` counter: summed, each sample divided by its sample rate ``@r``.
* ``g`` gauge: the last value wins. A signed value (``-10``, ``+4``) is that value, as DogStatsD reads it, not a
  change of the last one (Etsy StatsD's reading).
* ``ms`` and ``h`` timer, ``d`` distribution: ``<name>.count``, ``.mean``, ``.min``, ``.max``,
  ``.p50``, ``.p95`` and ``.p99`` per interval; a sampled line (``@r``) counts ``1/r`` samples in ``.count``, as
  StatsD counts it (the other statistics are of the values received).
* ``s`` set: the number of distinct members per interval.

DogStatsD tags (``|#env:prod,team:ops``) become labels. Events (``_e{...}``) and
service checks (``_sc|...``) are recognised and counted as not supported; they are
not malformed.

**Memory does not grow with the rate.** Per key (name and tags) and interval, a timer
or distribution keeps at most :data:`EXACT_SAMPLES` raw samples; past that they go
into a KLL quantile sketch (Apache DataSketches, ``k`` = :data:`KLL_K`) whose
quantiles have a normalized rank error of at most :data:`RANK_ERROR` (1.33 %, at
99 % confidence): the reported p95 is a sample whose rank lies within 95 % ± 1.33 %.
Count, sum (so the mean), min and max stay exact. Below :data:`EXACT_SAMPLES` samples,
quantiles are exact (nearest rank). A set keeps up to :data:`EXACT_MEMBERS` members
exactly; past that an HLL sketch (``lg_k`` = :data:`HLL_LG_K`) estimates the distinct
count with a relative error under 1.3 % (2 standard deviations).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from datasketches import hll_sketch, kll_doubles_sketch  # type: ignore[import-untyped]

from ..errors import PayloadError
from ..records import KpiRecord

__all__ = ["Aggregator", "Metric", "parse_line", "EXACT_SAMPLES", "KLL_K", "RANK_ERROR"]

DATASET = "datamonitor.udp"
COUNTER, GAUGE, TIMER, DISTRIBUTION, SET = "counter", "gauge", "timer", "distribution", "set"
#: lines that carry no metric: blank ones, and DogStatsD events and service checks (not supported)
BLANK, UNSUPPORTED = "blank", "unsupported"
_TYPES = {b"c": COUNTER, b"g": GAUGE, b"ms": TIMER, b"h": TIMER, b"d": DISTRIBUTION, b"s": SET}
MAX_NAME = 200
#: raw samples kept per timer/distribution key and interval before they go into the sketch
EXACT_SAMPLES = 2048
KLL_K = 200
#: the KLL sketch's normalized rank error for one quantile (99 % confidence)
RANK_ERROR: float = kll_doubles_sketch.get_normalized_rank_error(KLL_K, False)
#: distinct members kept exactly per set key and interval before an HLL sketch estimates them
EXACT_MEMBERS = 10_000
HLL_LG_K = 14
QUANTILES = (50, 95, 99)

Tags = tuple[tuple[str, str], ...]
Key = tuple[str, Tags]
#: one parsed line: kind, key, value (a float; the member's bytes for a set), sample rate
Entry = tuple[str, Key, float | bytes, float]
_NOTHING: Key = ("", ())
BLANK_ENTRY: Entry = (BLANK, _NOTHING, 0.0, 1.0)
UNSUPPORTED_ENTRY: Entry = (UNSUPPORTED, _NOTHING, 0.0, 1.0)
_tag_cache: dict[bytes, Tags] = {}


@dataclass(frozen=True)
class Metric:
    """One StatsD sample, as :func:`~datamonitor.sources.udp.parse_datagram` returns it.

    A set's sample has ``value`` 1 and its member in ``member``.
    """

    name: str
    value: float
    kind: str
    rate: float = 1.0
    tags: Tags = ()
    member: str | None = None

    @classmethod
    def from_entry(cls, entry: Entry) -> Metric:
        kind, (name, tags), value, rate = entry
        if isinstance(value, bytes):
            return cls(name, 1.0, kind, rate, tags, value.decode("utf-8", "replace"))
        return cls(name, value, kind, rate, tags)

    def entry(self) -> Entry:
        value: float | bytes = (self.member or "").encode() if self.kind == SET else self.value
        return (self.kind, (self.name, self.tags), value, self.rate)


def _show(raw: bytes, limit: int = 60) -> str:
    return repr(raw[:limit].decode("utf-8", "replace"))


def _number(raw: bytes) -> float:
    """A StatsD value or sample rate as the Go and JavaScript servers read one: Python's ``float`` also takes
    ``1_000`` and surrounding blanks, which Telegraf's and DogStatsD's ``strconv.ParseFloat`` refuse (and Etsy's
    ``Number`` reads as NaN). Raises ValueError."""
    if b"_" in raw or raw != raw.strip():
        raise ValueError(raw)
    return float(raw)


def _value(raw: bytes) -> float:
    """A line's value (not a set's): a finite number, or the PayloadError naming it."""
    try:
        value = _number(raw)
    except ValueError:
        raise PayloadError(f"StatsD value {_show(raw, 20)} is not a number") from None
    if value - value != 0.0:  # inf or NaN
        raise PayloadError(f"StatsD value {_show(raw, 20)} is not finite")
    return value


def _tags(raw: bytes) -> Tags:
    tags = _tag_cache.get(raw)
    if tags is None:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise PayloadError("StatsD tags are not UTF-8") from None
        tags = tuple(sorted((t.partition(":")[0], t.partition(":")[2]) for t in text.split(",") if t))
        if len(_tag_cache) >= 10_000:
            _tag_cache.clear()
        _tag_cache[raw] = tags
    return tags


def parse_line(raw: bytes) -> Entry:
    """One StatsD line (surrounding whitespace allowed) as an :data:`Entry`; raises PayloadError naming what is wrong."""
    line = raw.strip()
    if not line:
        return BLANK_ENTRY
    if line.startswith((b"_e{", b"_sc|")):
        return UNSUPPORTED_ENTRY
    name, sep, rest = line.partition(b":")
    if not sep or not name or not rest:
        raise PayloadError(f"not a StatsD line: {_show(line)}")
    parts = rest.split(b"|")
    if len(parts) < 2:
        raise PayloadError(f"StatsD line without a type: {_show(line)}")
    kind = _TYPES.get(parts[1])
    if kind is None:
        raise PayloadError(f"unknown StatsD type {_show(parts[1], 10)} in {_show(line)}")
    value: float | bytes = parts[0] if kind is SET else _value(parts[0])
    rate = 1.0
    tags: Tags = ()
    for extra in parts[2:]:
        if extra[:1] == b"@":
            try:
                rate = _number(extra[1:])
            except ValueError:
                raise PayloadError(f"bad sample rate {_show(extra, 20)}") from None
            if not 0 < rate <= 1:
                raise PayloadError(f"sample rate {_show(extra, 20)} is not in (0, 1]")
        elif extra[:1] == b"#":
            tags = _tags(extra[1:])
    try:
        text = name.decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadError("StatsD name is not UTF-8") from None
    if len(text) > MAX_NAME:
        raise PayloadError(f"StatsD name longer than {MAX_NAME} characters")
    if not text.strip():  # a control or no-break space the bytes' strip kept: no name a record can take
        raise PayloadError(f"StatsD name {_show(name, 20)} is blank")
    if kind is COUNTER:
        _check_scaled(line, value, rate)  # type: ignore[arg-type]
    return (kind, (text, tags), value, rate)


def _check_scaled(line: bytes, value: float, rate: float) -> None:
    """A counter's value divided by its sample rate must stay finite (``1|c|@1e-320`` does not)."""
    if rate != 1.0 and not math.isfinite(value / rate):
        raise PayloadError(f"StatsD counter {_show(line)} is not finite once its sample rate is applied")


class LineCache:
    """Parsed lines by their bytes, and line templates (all but the value) for lines not seen before.

    A counter line such as ``jobs:1|c|#env:prod`` comes again and again: it is parsed once.
    A timer line comes with a new value each time, but its name, type, rate and tags do
    not: those are parsed once, and only the value is read again. Both tables are emptied
    when they grow past ``limit`` entries.
    """

    def __init__(self, limit: int = 100_000) -> None:
        self.lines: dict[bytes, Entry] = {}
        self.templates: dict[tuple[bytes, bytes], tuple[str, Key, float]] = {}
        self.limit = limit

    def trim(self) -> None:
        if len(self.lines) > self.limit:
            self.lines.clear()
        if len(self.templates) > self.limit:
            self.templates.clear()

    def parse(self, line: bytes) -> Entry:
        """:func:`parse_line`, through the caches (call after a miss in :attr:`lines`)."""
        name, _, rest = line.partition(b":")
        raw, _, suffix = rest.partition(b"|")
        template = self.templates.get((name, suffix))
        if template is None:
            entry = parse_line(line)
            if entry[0] is not BLANK and entry[0] is not UNSUPPORTED:  # a blank line's (b"", b"") would take ":5"
                self.templates[(name, suffix)] = (entry[0], entry[1], entry[3])
        else:
            kind, key, rate = template
            if kind is SET:
                entry = (kind, key, raw, rate)
            else:
                value = _value(raw)
                if kind is COUNTER:
                    _check_scaled(line, value, rate)
                entry = (kind, key, value, rate)
                if kind is TIMER or kind is DISTRIBUTION:
                    return entry  # a sample's value seldom comes again: not worth a place in the cache
        self.lines[line] = entry
        return entry


class _Summary:
    """Count, sum, min and max of the samples spilled from the raw list, and their sketch."""

    __slots__ = ("count", "high", "low", "sketch", "total")

    def __init__(self) -> None:
        self.count, self.total, self.low, self.high = 0, 0.0, math.inf, -math.inf
        self.sketch = kll_doubles_sketch(KLL_K)

    def take(self, values: list[float]) -> None:
        arr = np.asarray(values, dtype=np.float64)
        self.sketch.update(arr)
        self.count += len(arr)
        with np.errstate(over="ignore"):  # a sum past the largest float: the mean is then left out (flush)
            self.total += float(arr.sum())
        self.low = min(self.low, float(arr.min()))
        self.high = max(self.high, float(arr.max()))


class Aggregator:
    """StatsD aggregation over one flush interval, in memory bounded per key (see the module's doc)."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.counters: dict[Key, float] = {}
        self.gauges: dict[Key, float] = {}
        self.timers: dict[Key, list[float]] = {}
        self.distributions: dict[Key, list[float]] = {}
        self.sets: dict[Key, set[bytes]] = {}
        self._spilled: dict[tuple[str, Key], _Summary] = {}
        self._hll: dict[Key, Any] = {}
        #: the samples a timer's or distribution's sampled lines stand for beyond their own (``|@0.1``: 9 more each)
        self.unsampled: dict[tuple[str, Key], float] = {}
        #: the records of the last flush left out, each with why (a sum past the largest float)
        self.skipped: list[str] = []

    def __bool__(self) -> bool:
        return bool(self.counters or self.gauges or self.timers or self.distributions or self.sets)

    def add(self, metric: Metric) -> None:
        """One sample (the slow way: the listener adds parsed lines with :meth:`add_entries`)."""
        self.add_entries([metric.entry()], 1)

    def add_entries(self, entries: list[Entry], times: int) -> None:
        """Parsed lines of one datagram that arrived ``times`` times in a row of identical ones."""
        for kind, key, value, rate in entries:
            if kind is COUNTER:
                counters = self.counters
                counters[key] = counters.get(key, 0.0) + value / rate * times  # type: ignore[operator]
            elif kind is TIMER or kind is DISTRIBUTION:
                table = self.timers if kind is TIMER else self.distributions
                if rate != 1.0:  # a sampled one stands for 1/rate samples in the count, as StatsD counts it
                    self.unsampled[(kind, key)] = self.unsampled.get((kind, key), 0.0) + (1 / rate - 1) * times
                values = table.get(key)
                if values is None:
                    table[key] = values = []
                if times == 1:
                    values.append(value)  # type: ignore[arg-type]
                else:
                    values.extend([value] * times)  # type: ignore[list-item]
                if len(values) >= EXACT_SAMPLES:
                    self._spill(kind, key, values)
            elif kind is GAUGE:
                self.gauges[key] = value  # type: ignore[assignment]
            elif kind is SET:
                members = self.sets.get(key)
                if members is None:
                    self.sets[key] = members = set()
                members.add(value)  # type: ignore[arg-type]
                if len(members) >= EXACT_MEMBERS:
                    self._spill_set(key, members)

    def _spill(self, kind: str, key: Key, values: list[float]) -> None:
        summary = self._spilled.get((kind, key))
        if summary is None:
            summary = self._spilled[(kind, key)] = _Summary()
        summary.take(values)
        values.clear()

    def _spill_set(self, key: Key, members: set[bytes]) -> None:
        hll = self._hll.get(key)
        if hll is None:
            hll = self._hll[key] = hll_sketch(HLL_LG_K)
        for member in members:
            hll.update(member.decode("latin-1"))
        members.clear()

    def _samples(self, kind: str, key: Key, values: list[float]) -> tuple[int, float, float, float, list[float]]:
        """count, mean, min, max and the quantiles of one timer or distribution."""
        summary = self._spilled.get((kind, key))
        if summary is None:
            values.sort()
            n = len(values)
            try:
                mean = math.fsum(values) / n
            except OverflowError:  # a sum past the largest float, of values that are not: each divided first
                mean = math.fsum(v / n for v in values)
            return (n, mean, values[0], values[-1],
                    [values[min(n - 1, math.ceil(q / 100 * n) - 1)] for q in QUANTILES])
        if values:
            summary.take(values)
        quantiles = [summary.sketch.get_quantile(q / 100, True) for q in QUANTILES]
        return summary.count, summary.total / summary.count, summary.low, summary.high, quantiles

    def flush(self, when: datetime) -> list[KpiRecord]:
        """The interval's records; the aggregator starts empty again."""
        out = []
        skipped: list[str] = []

        def rec(name: str, value: float, tags: Tags, kind: str, unit: str | None = None) -> None:
            if not math.isfinite(value):  # counters summed past the largest float: the rest is stored
                skipped.append(f"{kind} {name!r}: the interval's value is past the largest float")
                return
            out.append(KpiRecord(name=name, value=value, unit=unit, dataset=DATASET, timestamp=when,
                                 labels={**dict(tags), "statsd_type": kind}))

        for (name, tags), value in self.gauges.items():
            rec(name, value, tags, GAUGE)
        for (name, tags), value in self.counters.items():
            rec(name, value, tags, COUNTER, "count")
        for kind, table, unit in ((TIMER, self.timers, "ms"), (DISTRIBUTION, self.distributions, None)):
            for key, values in table.items():
                if not values and (kind, key) not in self._spilled:
                    continue
                name, tags = key
                n, mean, low, high, quantiles = self._samples(kind, key, values)
                extra = self.unsampled.get((kind, key))  # a count stays a whole number unless sampled
                rec(f"{name}.count", n + extra if extra else n, tags, kind, "count")
                rec(f"{name}.mean", mean, tags, kind, unit)
                rec(f"{name}.min", low, tags, kind, unit)
                rec(f"{name}.max", high, tags, kind, unit)
                for q, value in zip(QUANTILES, quantiles, strict=True):
                    rec(f"{name}.p{q}", value, tags, kind, unit)
        for key, members in self.sets.items():
            name, tags = key
            hll = self._hll.get(key)
            if hll is None:
                distinct: float = len(members)
            else:
                self._spill_set(key, members)
                distinct = round(hll.get_estimate())
            rec(name, distinct, tags, SET, "count")
        self._reset()
        self.skipped = skipped
        return out
