"""The UDP listener: JSON and StatsD datagrams from real clients on loopback, rejections counted, HMAC."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import random
import socket
import struct
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datamonitor import DataMonitor, PayloadError, load_config
from datamonitor.records import KpiRecord
from datamonitor.sources.mmsg import batch_receiver
from datamonitor.sources.statsd import RANK_ERROR
from datamonitor.sources.udp import Aggregator, UdpListener, parse_datagram, sign, socket_drops
from datamonitor.tests.helpers import free_port, running_cli, stored, wait_until, wait_until_async


def test_json_datagrams_become_records() -> None:
    one, _ = parse_datagram(b'{"name": "rows", "value": 5, "subject": "feed-a"}')
    many, _ = parse_datagram(json.dumps([{"name": "a", "value": 1}, {"name": "b", "value": 2}]).encode())
    assert [(r.name, r.value, r.subject, r.dataset) for r in one] == [("rows", 5, "feed-a", "datamonitor.udp")]
    assert [r.name for r in many] == ["a", "b"]


def test_statsd_lines_with_rates_and_tags() -> None:
    _, metrics = parse_datagram(b"jobs:1|c|@0.5|#env:prod,team:ops\nqueue:42|g\nlatency:12.5|ms")
    assert [(m.name, m.kind, m.value, m.rate) for m in metrics] == [
        ("jobs", "counter", 1.0, 0.5), ("queue", "gauge", 42.0, 1.0), ("latency", "timer", 12.5, 1.0)]
    assert metrics[0].tags == (("env", "prod"), ("team", "ops"))


@pytest.mark.parametrize("data, reason", [
    (b"", "empty"), (b"\xff\xfe", "not UTF-8"), (b"x" * 9000, "over the 8192-byte limit"),
    (b"{not json", "malformed JSON"), (b"jobs:1", "without a type"), (b"jobs:1|z", "unknown StatsD type"),
    (b"jobs:abc|c", "not a number"), (b"jobs:nan|g", "not finite"), (b"jobs:1|c|@2", "not in (0, 1]"),
    (b'{"value": 1}', "'name'"), (b"[" * 3000 + b"]" * 3000, "JSON"),  # too deep before Python 3.13, a list of lists from 3.13 on
])
def test_bad_datagrams_are_named_rejections(data: bytes, reason: str) -> None:
    with pytest.raises(PayloadError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        parse_datagram(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_are_records_or_a_rejection_never_a_crash(data: bytes) -> None:
    try:
        parse_datagram(data)
    except PayloadError:
        pass


def test_hmac_accepts_signed_and_rejects_forged_and_unsigned() -> None:
    secret = b"shared-secret"
    records, _ = parse_datagram(sign(b'{"name": "x", "value": 1}', secret), secret=secret)
    assert records[0].name == "x"
    with pytest.raises(PayloadError, match="unsigned"):
        parse_datagram(b'{"name": "x", "value": 1}', secret=secret)
    with pytest.raises(PayloadError, match="bad HMAC"):
        parse_datagram(sign(b'{"name": "x", "value": 1}', b"other"), secret=secret)


def test_aggregation_follows_statsd() -> None:
    agg = Aggregator()
    _, metrics = parse_datagram(b"c:1|c|@0.1\nc:2|c\ng:1|g\ng:7|g\n" + b"\n".join(b"t:%d|ms" % i for i in range(1, 101)))
    for m in metrics:
        agg.add(m)
    got = {r.name: r.value for r in agg.flush(__import__("datetime").datetime.now())}
    assert got["c"] == pytest.approx(12.0) and got["g"] == 7.0
    assert (got["t.count"], got["t.min"], got["t.max"], got["t.mean"]) == (100, 1.0, 100.0, 50.5)
    assert (got["t.p50"], got["t.p95"], got["t.p99"]) == (50.0, 95.0, 99.0)
    assert agg.flush(__import__("datetime").datetime.now()) == [], "the next interval starts empty"


def test_listener_with_the_statsd_client_and_raw_datagrams() -> None:
    import statsd

    got: list = []
    listener = UdpListener(port=0, flush_interval=60, sink=got.extend)

    async def scenario() -> None:
        task = asyncio.create_task(listener.serve())
        await wait_until_async(lambda: listener.bound, what="the listener bound")
        client = statsd.StatsClient("127.0.0.1", listener.bound[1])
        for _ in range(10):
            client.incr("jobs.done")
        client.gauge("queue.depth", 42)
        client.timing("job.ms", 120)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as raw:
            raw.sendto(b'{"name": "rows", "value": 7}', listener.bound)
            raw.sendto(b"\xff\xfe garbage", listener.bound)
            raw.sendto(b"x" * 9000, listener.bound)
        client.close()
        await wait_until_async(lambda: listener.counts.received >= 15, what="the 15 datagrams received")
        listener.stop()
        await task

    asyncio.run(scenario())
    by = {r.name: r.value for r in got}
    assert by["jobs.done"] == 10 and by["queue.depth"] == 42 and by["job.ms.p99"] == 120 and by["rows"] == 7
    assert (by["udp.received"], by["udp.accepted"], by["udp.rejected"]) == (15, 13, 2)
    assert by["udp.accepted_per_second"] > 0


def test_udp_command_stores_until_sigterm(tmp_path: Path) -> None:
    import statsd

    port, home = free_port(), tmp_path / "home"
    with running_cli(["udp", "--port", str(port), "--flush", "0.3", "--json"], home,
                     ready="datamonitor: listening on") as cli:
        client = statsd.StatsClient("127.0.0.1", port)
        for _ in range(5):
            client.incr("feed.rows", 100)
        client.close()
        cli.wait_for(lambda: stored(home, "feed.rows"), "a flush of feed.rows stored")
        code, out, err = cli.stop()
    assert code == 0, err
    assert json.loads(out)["accepted"] == 5
    with DataMonitor(load_config(home=home)) as dm:
        hits = dm.search(name="feed.rows", limit=10)
        assert sum(h["_source"]["kpi"]["value"] for h in hits) == 500


@pytest.mark.usefixtures("cli_logging")
def test_a_port_in_use_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from datamonitor.cli import main

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        code = main(["udp", "--port", str(taken.getsockname()[1]), "--duration", "0.1"])
    assert code == 5 and "cannot listen on 127.0.0.1" in capsys.readouterr().err


@pytest.mark.usefixtures("cli_logging")
def test_a_port_out_of_range_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    from datamonitor import ConfigError
    from datamonitor.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["udp", "--port", "99999"])
    assert exc.value.code == 2 and "99999 is not in 0-65535" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="not in 0-65535"):
        UdpListener(port=70000)


# ------------------------------------------------------------ the fast path, against hand counts

def _serving(listener: UdpListener, scenario: Callable[[tuple[str, int]], None]) -> None:
    """Run ``listener`` on loopback, call ``scenario(address)`` in a thread, then stop it (final flush)."""

    async def run() -> None:
        task = asyncio.create_task(listener.serve())
        await wait_until_async(lambda: listener.bound, what="the listener bound")
        await asyncio.to_thread(scenario, listener.bound)
        listener.stop()
        await task

    asyncio.run(run())


def _wait_received(listener: UdpListener, n: int) -> None:
    wait_until(lambda: listener.counts.received + listener.totals.received >= n, what=f"{n} datagrams received",
               every=0.005)


def _mix(rnd: random.Random, n: int) -> tuple[list[bytes], dict[tuple[str, str], float], dict[tuple[str, str], list[float]],
                                              dict[tuple[str, str], set[str]]]:
    """Datagrams, and what they hold counted by hand: counter sums, timer samples, set members."""
    datagrams: list[bytes] = []
    sums: dict[tuple[str, str], float] = defaultdict(float)
    samples: dict[tuple[str, str], list[float]] = defaultdict(list)
    members: dict[tuple[str, str], set[str]] = defaultdict(set)
    for i in range(n):
        lines = []
        for _ in range(1 if i % 4 else 3):  # a quarter of the datagrams hold three metrics
            kind = rnd.choice("cctms")
            tag = f"route:r{rnd.randrange(3)}"
            if kind == "c":
                value, rate = rnd.randrange(1, 5), rnd.choice([1.0, 0.5, 0.25])
                lines.append(f"req.{rnd.randrange(4)}:{value}|c" + (f"|@{rate}" if rate < 1 else "") + f"|#{tag}")
                sums[(lines[-1].split(":")[0], tag)] += value / rate
            elif kind == "t":
                value = round(rnd.lognormvariate(3, 1), 3)
                lines.append(f"lat:{value}|ms|#{tag}")
                samples[("lat", tag)].append(value)
            elif kind == "m":
                lines.append(f"gauge.{rnd.randrange(3)}:{rnd.randrange(100)}|g")
            else:
                member = f"user{rnd.randrange(50)}"
                lines.append(f"users:{member}|s|#{tag}")
                members[("users", tag)].add(member)
        datagrams.append("\n".join(lines).encode())
    return datagrams, sums, samples, members


def _by_key(records: list[KpiRecord], kind: str) -> dict[tuple[str, str], float]:
    return {(r.name, f"route:{r.labels['route']}" if "route" in r.labels else ""): float(r.value or 0) for r in records
            if r.labels.get("statsd_type") == kind}


def test_sums_sent_are_the_sums_stored_through_the_socket() -> None:
    rnd = random.Random(7)
    datagrams, sums, samples, members = _mix(rnd, 6000)
    datagrams += datagrams[:2000]  # identical datagrams again: the fast path counts them once, as often as they came
    for d in datagrams[6000:]:
        for line in d.decode().splitlines():
            name, _, rest = line.partition(":")
            value, typ, *extra = rest.split("|")
            tag = next((e[1:] for e in extra if e.startswith("#")), "")
            rate = next((float(e[1:]) for e in extra if e.startswith("@")), 1.0)
            if typ == "c":
                sums[(name, tag)] += float(value) / rate
            elif typ == "ms":
                samples[(name, tag)].append(float(value))
    got: list[KpiRecord] = []
    listener = UdpListener(port=0, flush_interval=60, sink=got.extend)

    def scenario(address: tuple[str, int]) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for start in range(0, len(datagrams), 500):  # in bursts the buffer holds, whatever the machine's load
                for d in datagrams[start:start + 500]:
                    sock.sendto(d, address)
                _wait_received(listener, start + len(datagrams[start:start + 500]))

    _serving(listener, scenario)
    assert listener.totals.received == len(datagrams) == listener.totals.accepted
    assert listener.kernel_drops == 0
    counters = _by_key(got, "counter")
    assert counters.keys() == sums.keys()
    assert all(counters[k] == pytest.approx(v, rel=1e-12) for k, v in sums.items())
    sets = _by_key(got, "set")
    assert sets == {k: len(v) for k, v in members.items()}
    timers = _by_key(got, "timer")
    for (name, tag), values in samples.items():
        exact = np.sort(np.array(values))
        n = len(exact)
        assert timers[(f"{name}.count", tag)] == n
        assert timers[(f"{name}.min", tag)] == exact[0] and timers[(f"{name}.max", tag)] == exact[-1]
        assert timers[(f"{name}.mean", tag)] == pytest.approx(exact.mean(), rel=1e-12)
        for q in (50, 95, 99):  # below EXACT_SAMPLES samples: exact, by nearest rank
            assert timers[(f"{name}.p{q}", tag)] == exact[math.ceil(q / 100 * n) - 1]


def test_the_last_gauge_wins_among_identical_datagrams() -> None:
    got: list[KpiRecord] = []
    listener = UdpListener(port=0, flush_interval=60, sink=got.extend)

    def scenario(address: tuple[str, int]) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for value in (1, 2, 1, 3, 1):
                sock.sendto(b"depth:%d|g" % value, address)
            _wait_received(listener, 5)

    _serving(listener, scenario)
    assert [r.value for r in got if r.name == "depth"] == [1.0]


def test_timer_quantiles_past_the_exact_limit_are_within_the_sketch_rank_error() -> None:
    rng = np.random.default_rng(3)
    values = rng.lognormal(3, 1, 60_000).round(3)
    agg = Aggregator()
    for start in range(0, len(values), 1000):
        agg.add_entries([("timer", ("t", ()), float(v), 1.0) for v in values[start:start + 1000]], 1)
        agg.add_entries([("distribution", ("d", ()), float(v), 1.0) for v in values[start:start + 1000]], 1)
    got = {(r.name, r.labels["statsd_type"]): r.value for r in agg.flush(datetime.now(timezone.utc))}
    exact = np.sort(values)
    for name, kind in (("t", "timer"), ("d", "distribution")):
        assert got[(f"{name}.count", kind)] == len(values)
        assert got[(f"{name}.min", kind)] == exact[0] and got[(f"{name}.max", kind)] == exact[-1]
        assert got[(f"{name}.mean", kind)] == pytest.approx(values.mean(), rel=1e-9)
        for q in (50, 95, 99):
            v = got[(f"{name}.p{q}", kind)]
            low = np.searchsorted(exact, v, "left") / len(exact)  # the rank range of v among the samples
            high = np.searchsorted(exact, v, "right") / len(exact)
            assert low - RANK_ERROR <= q / 100 <= high + RANK_ERROR, (q, v, low, high)
    assert pytest.approx(0.0133, abs=1e-4) == RANK_ERROR, "the error the docs state"


def test_sets_past_the_exact_limit_are_estimated_within_the_sketch_error() -> None:
    agg = Aggregator()
    for i in range(0, 50_000, 1000):
        agg.add_entries([("set", ("ids", ()), b"id%d" % j, 1.0) for j in range(i, i + 1000)], 2)  # each one twice
    agg.add_entries([("set", ("small", ()), b"a", 1.0), ("set", ("small", ()), b"b", 1.0)], 3)
    got = {r.name: r.value for r in agg.flush(datetime.now(timezone.utc))}
    assert got["small"] == 2
    assert got["ids"] == pytest.approx(50_000, rel=0.013)


def test_events_and_service_checks_are_not_supported_not_malformed() -> None:
    listener = UdpListener(port=0)
    for data in (b"_e{5,4}:title|text|#env:prod", b"_sc|db.up|0|#env:prod", b"jobs:1|c\n_e{1,1}:a|b\n_sc|x|1",
                 b"jobs:2|c"):
        listener.handle(data)
    listener.handle(b"jobs:x|c")
    c = listener.counts
    assert (c.received, c.accepted, c.rejected, c.unsupported) == (5, 4, 1, 4)
    assert parse_datagram(b"_e{5,4}:title|text") == ([], [])
    got = {r.name: r.value for r in listener.flush()}
    assert got["jobs"] == 3 and got["udp.unsupported"] == 4 and got["udp.rejected"] == 1


def test_sets_and_distributions_parse() -> None:
    _, metrics = parse_datagram(b"users:alice|s|#env:prod\nsize:12.5|d")
    assert [(m.name, m.kind, m.member, m.tags) for m in metrics] == [
        ("users", "set", "alice", (("env", "prod"),)), ("size", "distribution", None, ())]


def test_idle_self_metrics_are_written_when_they_change_or_once_a_minute() -> None:
    now = [1000.0]
    listener = UdpListener(port=0, flush_interval=10, clock=lambda: now[0])

    def flush() -> set[str]:
        now[0] += 10
        return {r.name for r in listener.flush() if r.name.startswith("udp.")}

    first = flush()
    assert {"udp.received", "udp.accepted", "udp.rejected", "udp.unsupported", "udp.dropped"} <= first
    assert [flush() for _ in range(5)] == [set()] * 5, "idle: nothing new to say"
    assert flush() == first, "but once a minute all the same"
    assert flush() == set()
    listener.handle(b"jobs:1|c")
    assert flush() == first, "a change is written at once"
    assert flush() == first, "and so is the change back to idle"
    assert flush() == set()


def test_kernel_drops_are_read_for_the_socket() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        rx.bind(("127.0.0.1", 0))
        before = socket_drops(rx)
        if before is None:
            pytest.skip("no /proc/net/udp here")
        for i in range(2000):
            tx.sendto(b"x:%d|c" % i, rx.getsockname())
        rx.setblocking(False)
        taken = 0
        with contextlib.suppress(BlockingIOError):
            while True:
                rx.recv(100)
                taken += 1
        assert socket_drops(rx) - before == 2000 - taken > 0


def test_many_datagrams_per_call_come_whole_and_in_order() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        rx.bind(("127.0.0.1", 0))
        rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 0, 200_000))
        receiver = batch_receiver(rx, 101)
        if receiver is None:
            pytest.skip("no recvmmsg here")
        sent = [b"m%d:%d|c" % (i, i) for i in range(1500)] + [b"y" * 100, b"z" * 500]
        for d in sent:
            tx.sendto(d, rx.getsockname())
        got: list[bytes] = []
        with contextlib.suppress(BlockingIOError):
            while True:
                got += receiver.receive()
        assert got == [*sent[:-1], b"z" * 101], "a longer one is cut at the size, as recv cuts it"


@pytest.fixture()
def cli_logging() -> Iterator[None]:
    """The command line sets up the package's logger on the captured stderr: put it back after."""
    logger = logging.getLogger("datamonitor")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    yield
    logger.handlers[:], logger.level, logger.propagate = saved


@pytest.mark.usefixtures("cli_logging")
def test_the_command_says_where_it_listens(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from datamonitor.cli import main

    port = free_port()
    assert main(["--home", str(tmp_path), "udp", "--port", str(port), "--duration", "0.2"]) == 0
    err = capsys.readouterr().err
    assert err.count(f"datamonitor: listening on 127.0.0.1:{port} (udp); receive buffer ") == 1


class _Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_a_capped_receive_buffer_is_reported_once() -> None:
    try:
        rmem_max = int(Path("/proc/sys/net/core/rmem_max").read_text())
    except OSError:
        pytest.skip("no net.core.rmem_max here")
    listener = UdpListener(port=0, rcvbuf=rmem_max * 4)
    kept = _Kept()  # on the module's logger itself: whatever another test did to the package's logger
    logger = logging.getLogger("datamonitor.sources.udp")
    logger.addHandler(kept)
    try:
        asyncio.run(listener.serve(duration=0.1))
    finally:
        logger.removeHandler(kept)
    capped = [r for r in kept.records if "net.core.rmem_max" in r.getMessage()]
    assert len(capped) == 1 and f"{rmem_max:,}" in capped[0].getMessage()
    assert listener.rcvbuf == 2 * rmem_max, "Linux reports twice what it granted"


def _listened(*datagrams: bytes) -> tuple[dict[str, float], UdpListener]:
    """Datagrams through the listener's own intake (its fast path and caches), then one flush."""
    listener = UdpListener(port=0, flush_interval=60)
    for data in datagrams:
        listener._take({data: 1})
    records = listener.flush()
    return {r.name: r.value for r in records if r.dataset == "datamonitor.udp" and not r.name.startswith("udp.")}, listener


def test_a_sum_past_the_largest_float_loses_that_record_not_the_interval(caplog: pytest.LogCaptureFixture) -> None:
    """Reviewer's case: two counters of 1e308 made the flush raise, serve() stop, and the interval's other metrics
    go. Now that counter is left out with one line; a rate that makes a value infinite is a rejected datagram; a
    timer of huge values has its mean."""
    got, listener = _listened(b"x:1e308|c", b"x:1e308|c", b"ok:1|c", b"t:1e308|ms\nt:1e308|ms", b"r:1|c|@1e-320")
    assert got == {"ok": 1.0, "t.count": 2, "t.mean": 1e308, "t.min": 1e308, "t.max": 1e308,
                   "t.p50": 1e308, "t.p95": 1e308, "t.p99": 1e308}
    assert "counter 'x': the interval's value is past the largest float" in caplog.text
    assert listener.totals.rejected == 1 and listener.totals.accepted == 4


@pytest.mark.parametrize("name", [b"\x1c", b"\x1f", "\u00a0".encode(), "\u2003".encode()])
def test_a_name_of_unicode_blanks_is_a_rejected_datagram(name: bytes) -> None:
    """The bytes' strip keeps them, the record's check does not: the flush raised and serve() stopped."""
    got, listener = _listened(name + b":1|c", b"ok:1|c", name + b":1|s")
    assert got == {"ok": 1.0} and listener.totals.rejected == 2


def test_a_blank_line_seen_before_does_not_make_a_line_without_a_name_pass() -> None:
    """Reviewer's case: a blank line's template (no name, no type) was cached, and ':5' then matched it."""
    got, listener = _listened(b"a:1|c\n\nb:2|c", b"a:1|c\n:5")
    assert got == {"a": 1.0, "b": 2.0} and listener.totals.rejected == 1


def test_a_sampled_timer_counts_the_samples_it_stands_for() -> None:
    """``|@0.1`` on a timer or distribution stands for ten samples in ``.count`` (Etsy's ``timer_counters``,
    Telegraf, DogStatsD); the mean and quantiles are of the values received."""
    got, _ = _listened(b"glork:320|ms|@0.1", b"glork:100|ms", b"d:5|d|@0.5\nd:7|d")
    assert got["glork.count"] == pytest.approx(11.0) and got["glork.mean"] == 210.0
    assert got["d.count"] == pytest.approx(3.0) and got["d.mean"] == 6.0


def test_statsd_names_may_begin_with_a_bracket() -> None:
    _, metrics = parse_datagram(b"[web]hits:1|c\n[web]hits:2|c")
    assert [(m.name, m.value) for m in metrics] == [("[web]hits", 1.0), ("[web]hits", 2.0)]
    got, _ = _listened(b"{svc}.hits:3|c")
    assert got == {"{svc}.hits": 3.0}
    with pytest.raises(PayloadError, match="malformed JSON"):
        parse_datagram(b'{"name": "a", "value": }')


def test_json_payload_value_objects_and_boolean_labels() -> None:
    """An object as the value was taken as labels and the value lost; a boolean label was 'True' under "labels" and
    'true' at the top."""
    with pytest.raises(PayloadError, match="field 'value': a list or object"):
        parse_datagram(b'{"name": "a", "value": {"x": 5}}')
    (inside,), _ = parse_datagram(b'{"name": "a", "value": 1, "labels": {"x": true}}')
    (top,), _ = parse_datagram(b'{"name": "a", "value": 1, "x": true}')
    assert inside.labels == top.labels == {"x": "true"}
    (doc,), _ = parse_datagram(b'{"kpi": {"name": "a", "value": 2}, "host": {"name": "h1"}}')
    assert (doc.name, doc.value, doc.host) == ("a", 2, "h1")


@pytest.mark.parametrize("depth", [960, 990, 1_000, 5_000])
def test_deep_json_is_a_payload_error_at_any_depth(depth: int) -> None:
    data = b'{"name": "a", "value": 1, "x": ' + b'{"y": ' * depth + b"1" + b"}" * depth + b"}"
    try:
        records, _ = parse_datagram(data, max_size=1 << 20)
    except PayloadError as exc:
        assert "too deep" in str(exc) or "recursion" in str(exc)
    else:
        assert records[0].value == 1


def test_a_fault_in_one_intervals_records_does_not_stop_the_listener(monkeypatch: pytest.MonkeyPatch,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    """Defence in depth: whatever makes a flush raise costs that interval's records (one error line), not the
    listener (serve() stopped, and every interval after it was lost)."""
    got: list[KpiRecord] = []
    listener = UdpListener(port=0, flush_interval=0.2, sink=got.extend)
    flush, calls = UdpListener.flush, []

    def failing_once(self: UdpListener) -> list[KpiRecord]:
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("boom")
        return flush(self)

    monkeypatch.setattr(UdpListener, "flush", failing_once)

    def scenario(address: tuple[str, int]) -> None:
        wait_until(lambda: len(calls) >= 2, timeout=10, what="a flush after the failed one")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(b"after:1|c", address)
        wait_until(lambda: any(r.name == "after" for r in got), timeout=10, what="the next interval's record")

    _serving(listener, scenario)
    assert "this interval's records are lost, the listener goes on: ValueError: boom" in caplog.text


def test_a_json_kpi_no_record_can_hold_is_a_rejected_datagram() -> None:
    """Reviewer's case: a lone surrogate (valid JSON escape) or a 401-digit integer passed the parse, then the store
    raised in the listener's delivery and serve() stopped with the interval's good records."""
    got, listener = _listened(b'{"name": "bad\\ud800", "value": 1}', b'{"name": "big", "value": 1' + b"0" * 400 + b"}",
                              b'{"name": "ok", "value": 2}')
    assert got == {"ok": 2} and listener.totals.rejected == 2


@pytest.mark.parametrize("value", [b"1_000", b" 5", b"5 ", b"1_0.5", b"\t5"])
def test_statsd_values_the_go_servers_refuse_are_rejected_through_the_line_cache_too(value: bytes) -> None:
    # Python's float takes "1_000" and blanks around a number; Telegraf's and DogStatsD's strconv.ParseFloat refuse
    # them, and Etsy's Number reads NaN: a counter of 1_000 was counted as 1000
    from datamonitor.sources.datagram import parse_entries
    from datamonitor.sources.statsd import LineCache

    cache = LineCache()
    parse_entries(b"jobs:1|c", None, 8192, cache)  # the line's template is cached: the next takes the fast path
    for through in (None, cache):
        with pytest.raises(PayloadError, match="not a number"):
            parse_entries(b"jobs:" + value + b"|c", None, 8192, through)
    with pytest.raises(PayloadError, match="sample rate"):
        parse_datagram(b"jobs:1|c|@0.1_0")


def test_a_json_value_written_with_underscores_is_text_not_a_number() -> None:
    found, _ = parse_datagram(b'[{"name": "x", "value": "1_000"}, {"name": "y", "value": " 7 "}]')
    assert [(r.value, r.text) for r in found] == [(None, "1_000"), (7, None)]
