"""The monitor loop: interval, duration, stop, SIGTERM, and a failing step that does not end it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

from datamonitor import DataMonitor, SourceError, load_config
from datamonitor.loop import Monitor
from datamonitor.notify import Threshold
from datamonitor.records import KpiRecord
from datamonitor.tests.helpers import cli_until_sigterm


class Counter:
    name = "counter"

    def __init__(self, values: list[float]) -> None:
        self.values = values
        self.calls = 0

    def collect(self) -> Iterator[KpiRecord]:
        value = self.values[min(self.calls, len(self.values) - 1)]
        self.calls += 1
        if value < 0:
            raise SourceError("counter: the source broke")
        yield KpiRecord(name="queue.depth", value=value, subject="q1")


def test_step_returns_records_and_notifications_and_feeds_the_sink() -> None:
    seen: list[KpiRecord] = []
    notes: list[str] = []

    class Rec:
        def notify(self, title: str, message: str) -> None:
            notes.append(title)

    mon = Monitor(Counter([5, 50, 60]), interval=1, thresholds=[Threshold("queue.depth", above=10)],
                  notifiers=[Rec()], sink=seen.extend)
    assert [r.name for r in mon.step()] == ["queue.depth"]
    assert [r.name for r in mon.step()] == ["queue.depth", "notification"]
    assert [r.name for r in mon.step()] == ["queue.depth"]
    assert notes == ["ALERT: queue.depth on q1 is above 10"] and len(seen) == 4


def test_loop_runs_for_its_duration_and_survives_a_failing_step() -> None:
    source = Counter([1, -1, 2, 3, 4, 5, 6, 7, 8, 9])
    mon = Monitor(source, interval=0.05)
    started = time.monotonic()
    taken = mon.loop(duration=0.3)
    elapsed = time.monotonic() - started
    assert 0.25 <= elapsed < 1.0
    assert source.calls >= 5 and taken == source.calls - 1, "the broken step was logged and skipped"


def test_stop_from_another_thread_ends_the_loop() -> None:
    mon = Monitor(Counter([1]), interval=10)
    timer = threading.Timer(0.2, mon.stop)
    timer.start()
    started = time.monotonic()
    mon.loop()
    timer.join()
    assert time.monotonic() - started < 2 and mon.steps == 1


def test_sigterm_stops_the_disk_command_cleanly_and_keeps_its_records(tmp_path: Path) -> None:
    code, out, err = cli_until_sigterm(["disk", str(tmp_path), "--interval", "0.1"], tmp_path / "home")
    assert code == 0, err
    assert "used %" in out and "Traceback" not in err
    with DataMonitor(load_config(home=tmp_path / "home")) as dm:
        assert dm.store.count() >= 7 * 3, "at least three steps were stored"
