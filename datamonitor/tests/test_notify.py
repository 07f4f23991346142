"""Thresholds fire once per crossing with hysteresis; e-mail and webhooks reach real servers on loopback."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from datamonitor import ConfigError, KpiRecord
from datamonitor.notify import (
    EmailNotifier,
    LogNotifier,
    Threshold,
    ThresholdSet,
    WebhookNotifier,
    make_notifier,
    send_all,
)
from datamonitor.tests.helpers import free_port, loopback_http


def kpi(value: float, subject: str = "/") -> KpiRecord:
    return KpiRecord(name="disk.used_pct", value=value, unit="percent", subject=subject)


def test_notifies_once_per_crossing_with_hysteresis() -> None:
    ths = ThresholdSet([Threshold("disk.used_pct", above=90, hysteresis=2)])
    fired = [[n.labels["state"] for n in ths.check([kpi(v)])] for v in (80, 91, 95, 89, 88.5, 91, 87.9, 85, 92)]
    # 89 and 88.5 are inside the hysteresis band: still alert, no new notification; 87.9 clears it
    assert fired == [[], ["alert"], [], [], [], [], ["ok"], [], ["alert"]]


def test_below_thresholds_and_subjects_are_tracked_apart() -> None:
    ths = ThresholdSet([Threshold("disk.free_bytes", below=100, hysteresis=10)])
    rec = lambda v, s: KpiRecord(name="disk.free_bytes", value=v, subject=s)  # noqa: E731
    assert [n.subject for n in ths.check([rec(50, "/"), rec(500, "/data")])] == ["disk.free_bytes on /"]
    assert ths.check([rec(105, "/")]) == []  # within the band
    assert [n.labels["state"] for n in ths.check([rec(111, "/"), rec(5, "/data")])] == ["ok", "alert"]


def test_a_notification_is_a_kpi_document() -> None:
    note = ThresholdSet([Threshold("disk.used_pct", above=90)]).check([kpi(93.5)])[0]
    assert (note.name, note.dataset, note.value) == ("notification", "datamonitor.notify", 93.5)
    assert note.text == "ALERT: disk.used_pct on / is above 90%"
    assert note.message == "disk.used_pct on / is 93.5%, above 90%"


@pytest.mark.parametrize("kwargs", [{}, {"above": 1, "below": 2}, {"above": 1, "hysteresis": -1}])
def test_bad_thresholds_are_refused(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        Threshold("x", **kwargs)


def test_make_notifier_by_name() -> None:
    assert isinstance(make_notifier("log"), LogNotifier)
    assert isinstance(make_notifier("webhook", url="http://127.0.0.1:9/x"), WebhookNotifier)
    with pytest.raises(ConfigError, match="not one of"):
        make_notifier("pager")
    with pytest.raises(ConfigError, match="email"):
        make_notifier("email", hostname="x")


# ---------------------------------------------------------------- e-mail

@pytest.fixture
def smtp_server() -> Iterator[tuple[int, list[Any]]]:
    from aiosmtpd.controller import Controller

    received: list[Any] = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            received.append(envelope)
            return "250 OK"

    port = free_port("tcp")  # the controller checks readiness by connecting to it
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, received
    finally:
        controller.stop()


def test_email_reaches_a_real_smtp_server(smtp_server: tuple[int, list[Any]]) -> None:
    port, received = smtp_server
    EmailNotifier(host="127.0.0.1", port=port, sender="dm@example.org", to=["ops@example.org"]).notify(
        "ALERT: disk.used_pct on / is above 90", "disk.used_pct on / is 93.5 percent")
    assert len(received) == 1
    env = received[0]
    assert env.mail_from == "dm@example.org" and env.rcpt_tos == ["ops@example.org"]
    text = env.content.decode()
    assert "Subject: ALERT: disk.used_pct on / is above 90" in text and "93.5 percent" in text


# --------------------------------------------------------------- webhooks

class _Hook(BaseHTTPRequestHandler):
    bodies: list[dict[str, Any]] = []
    status = 200

    def do_POST(self) -> None:
        type(self).bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(type(self).status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[str]:
    _Hook.bodies, _Hook.status = [], 200
    with loopback_http(_Hook) as url:
        yield f"{url}/hooks/ops"


def test_webhook_posts_slack_style_json(hook: str) -> None:
    WebhookNotifier(hook).notify("ALERT: x", "x is 3")
    assert _Hook.bodies == [{"text": "ALERT: x\nx is 3", "title": "ALERT: x", "message": "x is 3"}]


def test_a_failing_notifier_is_logged_and_the_others_still_deliver(hook: str, caplog: pytest.LogCaptureFixture) -> None:
    _Hook.status = 500
    delivered: list[str] = []

    class Good:
        def notify(self, title: str, message: str) -> None:
            delivered.append(title)

    with caplog.at_level(logging.ERROR):
        count = send_all([WebhookNotifier(hook), EmailNotifier(host="127.0.0.1", port=1, to=["x"], timeout=2), Good()],
                         "ALERT: x", "x is 3")
    assert count == 1 and delivered == ["ALERT: x"]
    assert "webhook answered 500" in caplog.text and "EmailNotifier" in caplog.text


@pytest.mark.parametrize("value, unit, like, shown", [
    (77_091_900_000, "bytes", 100_000 * (1 << 30), "71.8 GiB"),
    (100_000 * (1 << 30), "bytes", 100_000 * (1 << 30), "100,000 GiB"),
    (3 * (1 << 40), "bytes", None, "3 TiB"),
    (1_500_000_000, "bytes", 1_500_000_000, "1.4 GiB"),
    (512, "bytes", None, "512 bytes"),
    (93.45, "percent", None, "93.45%"),
    (12345, "rows", None, "12,345 rows"),
    (12345.0, "rows", None, "12,345 rows"),
    (0.0523, "ratio", None, "0.0523 ratio"),
])
def test_values_read_in_human_units(value: float, unit: str, like: float | None, shown: str) -> None:
    from datamonitor.notify import human

    assert human(value, unit, like=like) == shown


def test_threshold_state_is_kept_between_sets() -> None:
    class Meta(dict):  # type: ignore[type-arg]
        def set(self, key: str, value: object) -> None:
            self[key] = value

    state = Meta()
    th = Threshold("disk.used_pct", above=90, hysteresis=2)
    assert [n.labels["state"] for n in ThresholdSet([th], state=state).check([kpi(95)])] == ["alert"]
    assert ThresholdSet([th], state=state).check([kpi(95)]) == [], "a new run remembers the crossing"
    assert ThresholdSet([th], state=state).check([kpi(89)]) == [], "inside the margin"
    assert [n.labels["state"] for n in ThresholdSet([th], state=state).check([kpi(87)])] == ["ok"]
    assert state == {"disk.used_pct>90|*|/": False}
