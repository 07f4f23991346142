"""KPI datagrams over UDP: JSON KPIs and the StatsD line protocol, aggregated per flush interval.

Accepted datagrams:

* JSON: one KPI payload (as ``send`` takes it) or a list of them; each becomes a record as it is.
* StatsD lines (several per datagram, one per line): ``name:value|g`` (gauge, the last value
  wins), ``|c`` (counter, summed, divided by its ``@rate``), ``|ms`` or ``|h`` (timer: count,
  mean, min, max, p50, p95, p99 per interval), DogStatsD tags ``|#tag:value,tag2``.

With a shared secret, a datagram must start with a line ``hmac=<hex SHA-256 HMAC of
the rest>``. Malformed, oversized, non-UTF-8 or unsigned datagrams are counted and
logged at most once every 10 s; they never stop the listener. The listener's own
counters are KPIs too: ``udp.received``, ``udp.accepted``, ``udp.rejected``,
``udp.accepted_per_second``, ``udp.rejected_per_second`` and ``udp.dropped`` (records
given up after a full store refused them for longer than ``max_unsent`` allows;
until then they wait and are offered again at every flush).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import math
import socket
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..errors import ConfigError, DataMonitorError, PayloadError
from ..records import KpiRecord

__all__ = ["Aggregator", "UdpListener", "parse_datagram", "sign"]

log = logging.getLogger(__name__)
DATASET = "datamonitor.udp"
DEFAULT_PORT = 8200
_TYPES = {"g": "gauge", "c": "counter", "ms": "timer", "h": "timer", "d": "timer"}


@dataclass(frozen=True)
class Metric:
    """One StatsD sample."""

    name: str
    value: float
    kind: str
    rate: float = 1.0
    tags: tuple[tuple[str, str], ...] = ()


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


def _statsd_line(line: str) -> Metric:
    name, sep, rest = line.partition(":")
    if not sep or not name or not rest:
        raise PayloadError(f"not a StatsD line: {line[:60]!r}")
    parts = rest.split("|")
    if len(parts) < 2:
        raise PayloadError(f"StatsD line without a type: {line[:60]!r}")
    kind = _TYPES.get(parts[1])
    if kind is None:
        raise PayloadError(f"unknown StatsD type {parts[1]!r} in {line[:60]!r}")
    try:
        value = float(parts[0])
    except ValueError:
        raise PayloadError(f"StatsD value {parts[0][:20]!r} is not a number") from None
    if not math.isfinite(value):
        raise PayloadError(f"StatsD value {parts[0][:20]!r} is not finite")
    rate: float = 1.0
    tags: tuple[tuple[str, str], ...] = ()
    for extra in parts[2:]:
        if extra.startswith("@"):
            try:
                rate = float(extra[1:])
            except ValueError:
                raise PayloadError(f"bad sample rate {extra!r}") from None
            if not 0 < rate <= 1:
                raise PayloadError(f"sample rate {extra!r} is not in (0, 1]")
        elif extra.startswith("#"):
            tags = tuple(sorted((t.partition(":")[0], t.partition(":")[2]) for t in extra[1:].split(",") if t))
    if len(name) > 200:
        raise PayloadError("StatsD name longer than 200 characters")
    return Metric(name, value, kind, rate, tags)


def parse_datagram(data: bytes, *, secret: bytes | None = None, max_size: int = 8192) -> tuple[list[KpiRecord],
                                                                                                list[Metric]]:
    """JSON records and StatsD samples from one datagram; raises PayloadError naming what is wrong."""
    if len(data) > max_size:
        raise PayloadError(f"datagram of {len(data)} bytes is over the {max_size}-byte limit")
    if secret is not None:
        data = _verify(data, secret)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadError("datagram is not UTF-8") from None
    stripped = text.strip()
    if not stripped:
        raise PayloadError("empty datagram")
    if stripped[0] in "[{":
        try:
            payload = json.loads(stripped)
        except (ValueError, RecursionError) as exc:  # ValueError: also an integer over 4,300 digits
            raise PayloadError(f"malformed JSON: {str(exc)[:120]}") from None
        items = payload if isinstance(payload, list) else [payload]
        if not items or len(items) > 1000:
            raise PayloadError("a JSON datagram holds 1 to 1000 KPIs")
        return [KpiRecord.from_payload(item, dataset=DATASET) for item in items], []
    return [], [_statsd_line(line.strip()) for line in stripped.splitlines() if line.strip()]


class Aggregator:
    """StatsD aggregation over one flush interval."""

    def __init__(self) -> None:
        self.gauges: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        self.counters: dict[tuple[str, tuple[tuple[str, str], ...]], float] = defaultdict(float)
        self.timers: dict[tuple[str, tuple[tuple[str, str], ...]], list[float]] = defaultdict(list)

    def add(self, metric: Metric) -> None:
        key = (metric.name, metric.tags)
        if metric.kind == "gauge":
            self.gauges[key] = metric.value
        elif metric.kind == "counter":
            self.counters[key] += metric.value / metric.rate
        else:
            self.timers[key].append(metric.value)

    def flush(self, when: datetime) -> list[KpiRecord]:
        """The interval's records; the aggregator starts empty again."""
        out = []

        def rec(name: str, value: float, tags: tuple[tuple[str, str], ...], kind: str, unit: str | None = None) -> None:
            out.append(KpiRecord(name=name, value=value, unit=unit, dataset=DATASET, timestamp=when,
                                 labels={**dict(tags), "statsd_type": kind}))

        for (name, tags), value in self.gauges.items():
            rec(name, value, tags, "gauge")
        for (name, tags), value in self.counters.items():
            rec(name, value, tags, "counter", "count")
        for (name, tags), values in self.timers.items():
            values.sort()
            n = len(values)
            rec(f"{name}.count", n, tags, "timer", "count")
            rec(f"{name}.mean", sum(values) / n, tags, "timer", "ms")
            rec(f"{name}.min", values[0], tags, "timer", "ms")
            rec(f"{name}.max", values[-1], tags, "timer", "ms")
            for q in (50, 95, 99):
                rec(f"{name}.p{q}", values[min(n - 1, math.ceil(q / 100 * n) - 1)], tags, "timer", "ms")
        self.gauges.clear()
        self.counters.clear()
        self.timers.clear()
        return out


@dataclass
class _Counts:
    received: int = 0
    accepted: int = 0
    rejected: int = 0
    reasons: dict[str, int] = field(default_factory=lambda: defaultdict(int))


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, listener: UdpListener) -> None:
        self.listener = listener

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.listener.handle(data)


class UdpListener:
    """The listener: receive, parse, aggregate, and hand the records to ``sink`` every ``flush_interval``.

    :param sink: receives each interval's records (e.g. ``DataMonitor.record``); it runs in a worker
        thread so that the store never holds up receiving.
    """

    name = "udp"

    def __init__(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT, *, flush_interval: float = 10.0,
                 secret: bytes | None = None, max_size: int = 8192,
                 sink: Callable[[list[KpiRecord]], Any] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not 0 <= port <= 65535:
            raise ConfigError(f"UDP port {port} is not in 0-65535")
        if flush_interval <= 0 or max_size < 1:
            raise ConfigError("the flush interval and the maximum datagram size must be positive")
        self.host, self.port, self.flush_interval = host, port, flush_interval
        self.secret, self.max_size, self.sink, self._clock = secret, max_size, sink, clock
        self.aggregator = Aggregator()
        self.direct: list[KpiRecord] = []
        self.counts = _Counts()
        self.totals = _Counts()
        self._last_flush = clock()
        self._last_log = 0.0
        #: records the sink refused (a full store), tried again at the next flush, at most ``max_unsent``
        self._unsent: list[KpiRecord] = []
        self.max_unsent = 100_000
        #: records given up because more than ``max_unsent`` waited; reported as ``udp.dropped``
        self.dropped = 0
        self._transport: asyncio.DatagramTransport | None = None
        self._stop: asyncio.Event | None = None
        self.bound: tuple[str, int] | None = None

    def handle(self, data: bytes) -> None:
        """Take one datagram: counted, parsed, aggregated, never raising."""
        self.counts.received += 1
        try:
            records, metrics = parse_datagram(data, secret=self.secret, max_size=self.max_size)
        except Exception as exc:
            if not isinstance(exc, PayloadError):
                log.debug("datagram parser failed", exc_info=True)
                exc = PayloadError(f"unparsable datagram: {type(exc).__name__}")
            self.counts.rejected += 1
            self.counts.reasons[str(exc).split(":")[0]] += 1
            self._log_rejects(str(exc))
            return
        self.counts.accepted += 1
        self.direct.extend(records)
        for metric in metrics:
            self.aggregator.add(metric)

    def _log_rejects(self, last: str) -> None:
        now = self._clock()
        if now - self._last_log >= 10.0:
            self._last_log = now
            log.warning("rejected %d datagram(s) in this interval; last: %s", self.counts.rejected, last)

    def flush(self) -> list[KpiRecord]:
        """This interval's records: JSON KPIs, aggregated StatsD, and the listener's own counters."""
        now_mono = self._clock()
        elapsed = max(now_mono - self._last_flush, 1e-9)
        self._last_flush = now_mono
        when = datetime.now(timezone.utc)
        out = self.direct + self.aggregator.flush(when)
        self.direct = []
        c = self.counts
        for name, value, unit in (("udp.received", c.received, "datagrams"), ("udp.accepted", c.accepted, "datagrams"),
                                  ("udp.rejected", c.rejected, "datagrams"),
                                  ("udp.accepted_per_second", c.accepted / elapsed, "datagrams/s"),
                                  ("udp.rejected_per_second", c.rejected / elapsed, "datagrams/s"),
                                  ("udp.dropped", self.dropped, "records")):
            out.append(KpiRecord(name=name, value=value, unit=unit, subject=f"{self.host}:{self.port}",
                                 dataset=DATASET, timestamp=when))
        for attr in ("received", "accepted", "rejected"):
            setattr(self.totals, attr, getattr(self.totals, attr) + getattr(c, attr))
        self.counts = _Counts()
        return out

    def collect(self) -> Iterator[KpiRecord]:
        yield from self.flush()

    async def serve(self, duration: float | None = None) -> None:
        """Listen until ``stop()`` (or ``duration`` seconds), flushing every interval and once at the end."""
        loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
            sock.bind((self.host, self.port))
        except OSError:
            sock.close()
            raise
        self.bound = sock.getsockname()[:2]
        transport, _ = await loop.create_datagram_endpoint(lambda: _Protocol(self), sock=sock)
        self._transport = transport
        log.info("listening for KPI datagrams on %s:%s", *self.bound)
        deadline = None if duration is None else loop.time() + duration
        try:
            while True:
                timeout = self.flush_interval
                if deadline is not None:
                    timeout = min(timeout, max(0.0, deadline - loop.time()))
                try:
                    await asyncio.wait_for(self._stop.wait(), timeout=timeout)
                except asyncio.TimeoutError:
                    pass
                if self._stop.is_set() or (deadline is not None and loop.time() >= deadline):
                    break
                await self._deliver(loop)
        finally:
            transport.close()
        await self._deliver(loop)  # the last, partial interval

    async def _deliver(self, loop: asyncio.AbstractEventLoop) -> None:
        """Hand this interval's records to the sink; records it cannot take wait for the next flush."""
        records = self._unsent + self.flush()
        self._unsent = []
        if self.sink is None or not records:
            return
        try:
            await loop.run_in_executor(None, self.sink, records)
        except DataMonitorError as exc:  # a full or failing store must not stop the listener
            keep = records[-self.max_unsent:]
            self.dropped += len(records) - len(keep)
            self._unsent = keep
            log.warning("could not store %d record(s), kept for the next flush (%d dropped so far): %s",
                        len(records), self.dropped, exc)

    def stop(self) -> None:
        """Ask ``serve`` to flush and return."""
        if self._stop is not None:
            self._stop.set()
