"""KPI datagrams over UDP: JSON KPIs and the StatsD line protocol, aggregated per flush interval.

Accepted datagrams:

* JSON: one KPI payload (as ``send`` takes it) or a list of them; each becomes a record as it is.
* StatsD lines (several per datagram, one per line): counters, gauges, timers, histograms,
  distributions and sets, sample rates and DogStatsD tags; see :mod:`datamonitor.sources.statsd`.

With a shared secret, a datagram must start with a line ``hmac=<hex SHA-256 HMAC of
the rest>``. Malformed, oversized, non-UTF-8 or unsigned datagrams are counted and
logged at most once every 10 s; they never stop the listener. The listener's own
counters are KPIs too (see :meth:`UdpListener.flush`).

How it keeps up (README, Performance): a thread of its own (:mod:`datamonitor.sources.receive`)
takes the waiting datagrams with ``recvmmsg`` (:mod:`datamonitor.sources.mmsg`; ``recv`` where
there is none) and only counts each datagram's bytes in a dict (identical datagrams, such as the
same counter increment, collapse into one entry). Every 2,048 datagrams, or when the socket is idle
for 0.1 s, the listener parses each distinct datagram once, through a cache of parsed lines and
line templates, and aggregates it as often as it came; datagrams off that fast path (JSON, signed,
oversized) go through :mod:`datamonitor.sources.datagram`. Flushing swaps the aggregator out under
a lock, so receiving never waits for the store.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..errors import ConfigError, DataMonitorError, PayloadError, one_line
from ..records import KpiRecord
from .datagram import SLOW_START, parse_datagram, parse_entries, sign
from .receive import BATCH as BATCH  # re-exported: the batch size, named here since the start
from .receive import receive, rmem_max, socket_drops
from .statsd import COUNTER, DATASET, EXACT_SAMPLES, GAUGE, TIMER, UNSUPPORTED, Aggregator, LineCache, Metric

__all__ = ["MAX_DATAGRAM", "Aggregator", "Metric", "UdpListener", "parse_datagram", "sign"]

#: the largest UDP payload over IPv4 (65,535 less the IP and UDP headers)
MAX_DATAGRAM = 65_507

log = logging.getLogger(__name__)
DEFAULT_PORT = 8200
#: the receive buffer the listener asks for; Linux grants at most ``net.core.rmem_max``
RCVBUF = 8 << 20
#: how long the receiving thread blocks on an idle socket before it parses what it has
IDLE = 0.1
#: self-metric documents are written when they change, and at least this often (seconds)
SELF_EVERY = 60.0


@dataclass
class _Counts:
    received: int = 0
    accepted: int = 0
    rejected: int = 0
    #: event and service-check lines in accepted datagrams, skipped
    unsupported: int = 0
    reasons: dict[str, int] = field(default_factory=lambda: defaultdict(int))


class UdpListener:
    """The listener: receive, parse, aggregate, and hand the records to ``sink`` every ``flush_interval``.

    :param sink: receives each interval's records (e.g. ``DataMonitor.record``); it runs in a worker
        thread so that the store never holds up receiving.
    :param rcvbuf: the socket receive buffer to ask for (``SO_RCVBUF``); :attr:`rcvbuf` is what the
        kernel granted, as ``getsockopt`` reports it (on Linux twice the size set, for its bookkeeping).
    """

    name = "udp"

    def __init__(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT, *, flush_interval: float = 10.0,
                 secret: bytes | None = None, max_size: int = 8192,
                 sink: Callable[[list[KpiRecord]], Any] | None = None,
                 clock: Callable[[], float] = time.monotonic, rcvbuf: int = RCVBUF) -> None:
        if not 0 <= port <= 65535:
            raise ConfigError(f"UDP port {port} is not in 0-65535")
        if flush_interval <= 0 or max_size < 1:
            raise ConfigError("the flush interval and the maximum datagram size must be positive")
        if max_size > MAX_DATAGRAM:  # a buffer that big is allocated for each datagram received: MemoryError
            raise ConfigError(f"the maximum datagram size {max_size:,} is over {MAX_DATAGRAM:,} bytes, the largest "
                              "a UDP datagram can be")
        self.host, self.port, self.flush_interval = host, port, flush_interval
        self.secret, self.max_size, self.sink, self._clock = secret, max_size, sink, clock
        self.requested_rcvbuf = rcvbuf
        #: the receive buffer the kernel granted (``getsockopt(SO_RCVBUF)``), once listening
        self.rcvbuf: int | None = None
        self.aggregator = Aggregator()
        self.direct: list[KpiRecord] = []
        self.counts = _Counts()
        self.totals = _Counts()
        self._lock = threading.Lock()
        self._cache = LineCache()
        self._last_flush = clock()
        self._last_log = 0.0
        self._last_self: tuple[Any, ...] | None = None
        self._last_self_at = -1e18
        #: records the sink refused (a full store), tried again at the next flush, at most ``max_unsent``
        self._unsent: list[KpiRecord] = []
        self.max_unsent = 100_000
        #: records given up because more than ``max_unsent`` waited; reported as ``udp.dropped``
        self.dropped = 0
        #: datagrams the kernel dropped because the receive buffer was full (``udp.kernel_drops``)
        self.kernel_drops = 0
        self._drops_seen: int | None = None
        self._sock: socket.socket | None = None
        self._stop: asyncio.Event | None = None
        self._halt = threading.Event()
        self.bound: tuple[str, int] | None = None

    # ------------------------------------------------------------ taking datagrams

    def handle(self, data: bytes) -> None:
        """Take one datagram now: counted, parsed, aggregated, never raising."""
        with self._lock:
            self._take({data: 1})

    def _take_locked(self, batch: dict[bytes, int]) -> None:
        with self._lock:
            self._take(batch)

    def _take(self, batch: dict[bytes, int]) -> None:
        """Count, parse and aggregate a batch: each distinct datagram and how often it came (lock held)."""
        c = self.counts
        cache = self._cache
        cache.trim()
        cached, parse = cache.lines.get, cache.parse
        agg = self.aggregator
        counters, gauges, timers, add = agg.counters, agg.gauges, agg.timers, agg.add_entries
        secret, max_size = self.secret, self.max_size
        received = accepted = 0
        for data, times in batch.items():
            received += times
            if secret is not None or len(data) > max_size or data[:1] in SLOW_START or not data.isascii():
                self._take_slow(data, times)
                continue
            entries = []
            try:
                for line in data.splitlines():
                    entry = cached(line)
                    if entry is None:
                        entry = parse(line)
                    entries.append(entry)
            except Exception as exc:  # noqa: BLE001 - a datagram never stops the listener: counted, logged
                self._reject(exc, times)
                continue
            accepted += times
            for entry in entries:
                kind, key, value, rate = entry
                if kind is COUNTER:
                    counters[key] = counters.get(key, 0.0) + value / rate * times  # type: ignore[operator]
                elif kind is GAUGE:
                    gauges[key] = value  # type: ignore[assignment]
                elif kind is TIMER and times == 1 and rate == 1.0:
                    values = timers.get(key)
                    if values is not None and len(values) < EXACT_SAMPLES - 1:
                        values.append(value)  # type: ignore[arg-type]
                    else:
                        add([entry], 1)
                elif kind is UNSUPPORTED:
                    c.unsupported += times
                else:
                    add([entry], times)
        c.received += received
        c.accepted += accepted

    def _take_slow(self, data: bytes, times: int) -> None:
        """A datagram off the fast path: signed, JSON, oversized, not ASCII or starting with blanks."""
        c = self.counts
        try:
            if len(data) > self.max_size:
                raise PayloadError(f"datagram over the {self.max_size}-byte limit")
            records, entries = parse_entries(data, self.secret, self.max_size, self._cache)
            for _ in range(times - 1):  # each JSON datagram is a record of its own
                records += parse_entries(data, self.secret, self.max_size, self._cache)[0]
        except Exception as exc:  # noqa: BLE001 - a datagram never stops the listener: counted, logged
            self._reject(exc, times)
            return
        c.accepted += times
        if records:
            self.direct.extend(records)
            return
        kinds = [e[0] for e in entries]
        c.unsupported += kinds.count(UNSUPPORTED) * times
        self.aggregator.add_entries(entries, times)

    def _reject(self, exc: Exception, times: int) -> None:
        if not isinstance(exc, PayloadError):
            log.debug("datagram parser failed", exc_info=True)
            exc = PayloadError(f"unparsable datagram: {type(exc).__name__}")
        self.counts.rejected += times
        self.counts.reasons[str(exc).split(":")[0]] += times
        self._log_rejects(str(exc))

    def _log_rejects(self, last: str) -> None:
        now = self._clock()
        if now - self._last_log >= 10.0:
            self._last_log = now
            log.warning("rejected %d datagram(s) in this interval; last: %s", self.counts.rejected, last)

    # ------------------------------------------------------------ flushing

    def _sample_drops(self) -> None:
        if self._sock is None:
            return
        seen = socket_drops(self._sock)
        if seen is not None:
            if self._drops_seen is not None and seen > self._drops_seen:
                self.kernel_drops += seen - self._drops_seen
            self._drops_seen = seen

    def flush(self) -> list[KpiRecord]:
        """This interval's records: JSON KPIs, aggregated StatsD, and the listener's own counters.

        The own counters, with the bound address as subject: ``udp.received``, ``udp.accepted``,
        ``udp.rejected`` and ``udp.unsupported`` (event and service-check lines skipped) in the
        interval, ``udp.accepted_per_second``, ``udp.rejected_per_second``, ``udp.kernel_drops``
        (datagrams the kernel dropped in the interval because the receive buffer was full; where
        ``/proc/net/udp`` tells) and ``udp.dropped`` (records given up since the start because a
        full store refused them for longer than ``max_unsent`` allows). They are written when
        they change, and once every ``SELF_EVERY`` seconds when they do not (an idle listener).
        """
        now_mono = self._clock()
        elapsed = max(now_mono - self._last_flush, 1e-9)
        self._last_flush = now_mono
        when = datetime.now(timezone.utc)
        drops_before = self.kernel_drops
        self._sample_drops()
        with self._lock:
            agg, self.aggregator = self.aggregator, Aggregator()
            direct, self.direct = self.direct, []
            c, self.counts = self.counts, _Counts()
        out = direct + agg.flush(when)
        for why in agg.skipped:
            log.warning("StatsD record not stored: %s", why)
        mine: list[tuple[str, float, str]] = [
            ("udp.received", c.received, "datagrams"), ("udp.accepted", c.accepted, "datagrams"),
            ("udp.rejected", c.rejected, "datagrams"), ("udp.unsupported", c.unsupported, "lines"),
            ("udp.accepted_per_second", c.accepted / elapsed, "datagrams/s"),
            ("udp.rejected_per_second", c.rejected / elapsed, "datagrams/s"),
            ("udp.dropped", self.dropped, "records")]
        if self._drops_seen is not None:
            mine.append(("udp.kernel_drops", self.kernel_drops - drops_before, "datagrams"))
        state = tuple(value for _, value, _ in mine)
        if state != self._last_self or now_mono - self._last_self_at >= SELF_EVERY:
            self._last_self, self._last_self_at = state, now_mono
            for name, value, unit in mine:
                out.append(KpiRecord(name=name, value=value, unit=unit, subject=f"{self.host}:{self.port}",
                                     dataset=DATASET, timestamp=when))
        for attr in ("received", "accepted", "rejected", "unsupported"):
            setattr(self.totals, attr, getattr(self.totals, attr) + getattr(c, attr))
        return out

    def collect(self) -> Iterator[KpiRecord]:
        yield from self.flush()

    # ------------------------------------------------------------ serving

    def _open(self) -> socket.socket:
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.requested_rcvbuf)
            sock.bind((self.host, self.port))
            try:  # block in the kernel for at most IDLE seconds: one system call per datagram
                sec = int(IDLE)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", sec, int((IDLE - sec) * 1e6)))
            except (OSError, struct.error):
                sock.settimeout(IDLE)
        except OSError:
            sock.close()
            raise
        self.rcvbuf = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        granted = self.rcvbuf // 2 if sys.platform.startswith("linux") else self.rcvbuf
        if granted < self.requested_rcvbuf:
            limit = rmem_max()
            log.warning("the kernel capped the UDP receive buffer at %s bytes (asked for %s)%s; raise it with "
                        "'sysctl -w net.core.rmem_max=%d' to absorb bigger bursts", f"{granted:,}",
                        f"{self.requested_rcvbuf:,}", f": net.core.rmem_max is {limit:,}" if limit else "",
                        self.requested_rcvbuf)
        return sock

    async def serve(self, duration: float | None = None, *,
                    ready: Callable[[UdpListener], Any] | None = None) -> None:
        """Listen until ``stop()`` (or ``duration`` seconds), flushing every interval and once at the end.

        ``ready`` is called once the socket is bound (``bound`` and ``rcvbuf`` are set then).
        """
        loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._halt.clear()
        sock = self._sock = self._open()
        self.bound = sock.getsockname()[:2]
        self._drops_seen = socket_drops(sock)
        receiver = threading.Thread(target=receive, args=(sock, self.max_size + 1, self._take_locked, self._halt.is_set),
                                    name="datamonitor-udp-receive", daemon=True)
        receiver.start()
        log.info("listening for KPI datagrams on %s:%s, receive buffer %s bytes", *self.bound, f"{self.rcvbuf:,}")
        deadline = None if duration is None else loop.time() + duration
        try:
            if ready is not None:
                ready(self)
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
            self._halt.set()
            await loop.run_in_executor(None, receiver.join)
            self._sample_drops()
            self._sock = None
            sock.close()
        await self._deliver(loop)  # the last, partial interval

    async def _deliver(self, loop: asyncio.AbstractEventLoop) -> None:
        """Hand this interval's records to the sink; records it cannot take wait for the next flush."""
        try:
            fresh = self.flush()
        except Exception as exc:  # noqa: BLE001 - a fault in one interval's records must not stop the listener
            log.error("this interval's records are lost, the listener goes on: %s", one_line(exc, 200))
            fresh = []
        records = self._unsent + fresh
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
        except Exception as exc:  # noqa: BLE001 - a fault, not the store's refusal: kept, it would fail again
            self.dropped += len(records)
            log.error("could not store %d record(s), dropped (%d so far): %s", len(records), self.dropped,
                      one_line(exc, 200))

    def stop(self) -> None:
        """Ask ``serve`` to flush and return."""
        self._halt.set()
        if self._stop is not None:
            self._stop.set()
