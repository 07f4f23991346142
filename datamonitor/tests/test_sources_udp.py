"""The UDP listener: JSON and StatsD datagrams from real clients on loopback, rejections counted, HMAC."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datamonitor import DataMonitor, PayloadError, load_config
from datamonitor.sources.udp import Aggregator, UdpListener, parse_datagram, sign
from datamonitor.tests.helpers import cli_until_sigterm


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
        while listener.bound is None:
            await asyncio.sleep(0.01)
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
        for _ in range(200):
            if listener.counts.received >= 15:
                break
            await asyncio.sleep(0.01)
        listener.stop()
        await task

    asyncio.run(scenario())
    by = {r.name: r.value for r in got}
    assert by["jobs.done"] == 10 and by["queue.depth"] == 42 and by["job.ms.p99"] == 120 and by["rows"] == 7
    assert (by["udp.received"], by["udp.accepted"], by["udp.rejected"]) == (15, 13, 2)
    assert by["udp.accepted_per_second"] > 0


def test_udp_command_stores_until_sigterm(tmp_path: Path) -> None:
    import statsd

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    def send() -> None:
        client = statsd.StatsClient("127.0.0.1", port)
        for _ in range(5):
            client.incr("feed.rows", 100)
        client.close()

    code, out, err = cli_until_sigterm(["udp", "--port", str(port), "--flush", "0.3", "--json"], tmp_path / "home",
                                       during=send, after_wait=0.8)
    assert code == 0, err
    assert json.loads(out)["accepted"] == 5
    with DataMonitor(load_config(home=tmp_path / "home")) as dm:
        hits = dm.search(name="feed.rows", limit=10)
        assert sum(h["_source"]["kpi"]["value"] for h in hits) == 500


def test_a_port_in_use_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from datamonitor.cli import main

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        code = main(["udp", "--port", str(taken.getsockname()[1]), "--duration", "0.1"])
    assert code == 5 and "cannot listen on 127.0.0.1" in capsys.readouterr().err


def test_a_port_out_of_range_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    from datamonitor import ConfigError
    from datamonitor.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["udp", "--port", "99999"])
    assert exc.value.code == 2 and "99999 is not in 0-65535" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="not in 0-65535"):
        UdpListener(port=70000)
