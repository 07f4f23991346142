"""The monitor loop: interval, duration, stop, SIGTERM, and a failing step that does not end it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

from datamonitor import DataMonitor, SourceError, load_config
from datamonitor.loop import Monitor
from datamonitor.notify import Threshold
from datamonitor.records import KpiRecord
from datamonitor.tests.helpers import TIMEOUT, running_cli, stored, wait_until


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


class Clock:
    """A monotonic clock that moves only when the source measures: one second a step."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_loop_runs_for_its_duration_and_survives_a_failing_step() -> None:
    clock = Clock()

    class Timed(Counter):
        def collect(self) -> Iterator[KpiRecord]:
            clock.now += 1.0  # each step takes exactly the interval: the loop never waits
            if self.calls >= 20:
                mon.stop()  # a loop that ignored its duration fails the assertion below instead of hanging
            yield from super().collect()

    source = Timed([1, -1, 2, 3, 4, 5, 6, 7, 8, 9])
    mon = Monitor(source, interval=1.0, clock=clock)
    taken = mon.loop(duration=6.0)
    assert (source.calls, taken, clock.now) == (6, 5, 6.0), "six steps in six seconds; the broken one was skipped"


def test_stop_from_another_thread_ends_the_loop() -> None:
    mon = Monitor(Counter([1]), interval=3600)  # without stop() the loop would wait an hour for its next step
    loop = threading.Thread(target=mon.loop)
    loop.start()
    try:
        wait_until(lambda: mon.steps == 1, what="the first step")
        mon.stop()
        loop.join(timeout=TIMEOUT)
        assert not loop.is_alive(), "stop() ends the interval's wait"
    finally:
        mon.stop()
        loop.join()
    assert mon.steps == 1


def test_sigterm_stops_the_disk_command_cleanly_and_keeps_its_records(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with running_cli(["disk", str(tmp_path), "--interval", "0.1"], home) as cli:
        cli.wait_for(lambda: stored(home, "disk.used_pct") >= 3, "three steps in the store")
        code, out, err = cli.stop()
    assert code == 0, err
    assert "used %" in out and "Traceback" not in err
    with DataMonitor(load_config(home=home)) as dm:
        assert dm.store.count() >= 7 * 3, "at least three steps were stored, whole"
