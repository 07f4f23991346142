"""The monitor loop: measure, check thresholds, notify, store; again every interval until stopped.

A :class:`Monitor` wraps a source. ``step()`` measures once. ``loop()`` repeats
it every ``interval`` seconds until ``duration`` has passed or ``stop()`` is
called; in the main thread SIGINT and SIGTERM call ``stop()``, so the current
step finishes, the records are kept and the loop returns.

A step that fails never ends the loop, whatever it raises, as a step of the
watcher, of the UDP listener or a notifier never ends theirs: a
:class:`~datamonitor.errors.DataMonitorError` (a file that cannot be read, a full
store) is one error line; anything else is a bug and is logged with its traceback.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .errors import ConfigError, DataMonitorError
from .notify import Notifier, Threshold, ThresholdSet, send_all
from .records import KpiRecord
from .sources import Source

__all__ = ["Monitor"]

log = logging.getLogger(__name__)


class Monitor:
    """A source measured on a schedule, with thresholds and notifiers.

    :param sink: receives every step's records (and notifications), e.g. ``DataMonitor.record``.
    :param state: keeps the thresholds' state between runs (``get``/``set``); see :class:`~datamonitor.notify.ThresholdSet`.
    """

    def __init__(self, source: Source, *, interval: float = 60.0, thresholds: Iterable[Threshold] = (),
                 notifiers: Sequence[Notifier] = (), sink: Callable[[list[KpiRecord]], Any] | None = None,
                 clock: Callable[[], float] = time.monotonic, state: Any = None) -> None:
        if interval <= 0:
            raise ConfigError(f"interval must be positive, not {interval}", key="interval",
                              reason=f"must be positive, not {interval}")
        self.source, self.interval = source, interval
        self.thresholds = ThresholdSet(thresholds, state=state)
        self.notifiers = list(notifiers)
        self.sink, self._clock = sink, clock
        self._stop = threading.Event()
        self.steps = 0

    def step(self) -> list[KpiRecord]:
        """Measure once; returns the records and the notifications they caused."""
        records = list(self.source.collect())
        notes = self.thresholds.check(records)
        for note in notes:
            send_all(self.notifiers, note.text or "datamonitor", note.message or "")
        out = records + notes
        if self.sink is not None and out:
            self.sink(out)
        self.steps += 1
        return out

    def stop(self) -> None:
        """Ask the loop to return after the current step."""
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def loop(self, duration: float | None = None, *,
             on_step: Callable[[list[KpiRecord]], Any] | None = None) -> int:
        """Step every ``interval`` until ``duration`` seconds passed or ``stop()``; returns the steps taken.

        ``on_step`` sees each step's records (and notifications) after the sink. A step that fails is
        logged, and the loop goes on.
        """
        handlers = self._install_signals()
        deadline = None if duration is None else self._clock() + duration
        taken = 0
        try:
            while not self._stop.is_set():
                started = self._clock()
                try:
                    records = self.step()
                    taken += 1
                except DataMonitorError as exc:
                    log.error("%s: %s", self.source.name, exc)
                except Exception:
                    log.exception("%s: a step failed", self.source.name)
                else:
                    if on_step is not None:
                        on_step(records)
                if deadline is not None and self._clock() >= deadline:
                    break
                wait = self.interval - (self._clock() - started)
                if deadline is not None:
                    wait = min(wait, deadline - self._clock())
                if wait > 0:
                    self._stop.wait(wait)
        finally:
            for sig, old in handlers.items():
                signal.signal(sig, old)
        return taken

    def _install_signals(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}
        previous: dict[int, Any] = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda _signum, _frame: self.stop())
        return previous
