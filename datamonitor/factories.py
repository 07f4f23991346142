"""What :class:`~datamonitor.monitor.DataMonitor` builds over its store: file runs, watchers and monitor loops.

Each takes the facade through :class:`Recorder`, the part of it they need:
commit records with the state that belongs to them, and ship.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .baseline import SchemaHistory
from .errors import DataMonitorError, SourceError
from .profiling import ProfileOptions
from .records import KpiRecord, dataset_key
from .sources import files
from .state import Namespace, PendingState, StateChanges, StoredState
from .store import PutResult, Store

if TYPE_CHECKING:
    from .loop import Monitor
    from .notify import Notifier, Threshold
    from .shipping import ShipResult
    from .sources.watch import DirectoryWatcher, Measured

__all__ = ["Recorder", "collect_files", "make_monitor", "make_watcher"]

log = logging.getLogger("datamonitor.monitor")
_watch_log = logging.getLogger("datamonitor.sources.watch")  # one line per file the watcher measured

# A file run commits its files' records together, up to this many or this long after the last commit.
_BATCH_RECORDS = 20_000
_BATCH_SECONDS = 1.0


class Recorder(Protocol):
    """The facade as these builders use it."""

    @property
    def store(self) -> Store: ...

    @property
    def configured(self) -> bool: ...

    def put_records(self, records: Iterable[KpiRecord], *, state: StateChanges | None = None) -> PutResult: ...

    def record(self, kpis: Iterable[KpiRecord], *, index: str | None = None, ship: bool = True) -> list[str]: ...

    def ship(self) -> ShipResult: ...

    def check_overdue(self, now: datetime | None = None) -> list[KpiRecord]: ...


def collect_files(dm: Recorder, paths: Iterable[str | Path], options: ProfileOptions, *, recursive: bool,
                  progress: Callable[[Path, float], None] | None) -> list[files.FileResult]:
    """Measure files and store their KPIs in batches, each with its datasets' new schemas; see ``collect_file``."""
    pending = PendingState(dm.store)
    source = files.FileSource(paths, options, recursive=recursive, schemas=SchemaHistory(pending), progress=progress)
    results: list[files.FileResult] = []
    batch: list[KpiRecord] = []
    state: dict[str, Any] = {}
    flushed = time.monotonic()
    for result in source.results_iter():
        results.append(result)
        batch.extend(result.records)
        state.update(pending.take())  # FileSource saved this file's schema: it goes with its records
        if len(batch) >= _BATCH_RECORDS or time.monotonic() - flushed >= _BATCH_SECONDS:
            dm.put_records(batch, state=state)
            pending.forget(state)
            batch, state, flushed = [], {}, time.monotonic()
    if batch or state:
        dm.put_records(batch, state=state)
    if dm.configured and any(r.records for r in results):
        dm.ship()
    return results


def make_monitor(dm: Recorder, source: Any, *, interval: float, thresholds: Iterable[Threshold],
                 notifiers: Iterable[Notifier]) -> Monitor:
    """A monitor loop whose records are stored (and shipped) by ``dm``, its thresholds' states kept in the store."""
    from .loop import Monitor

    return Monitor(source, interval=interval, thresholds=thresholds, notifiers=list(notifiers),
                   sink=lambda records: dm.record(records), state=StoredState(dm.store, Namespace.THRESHOLD))


def make_watcher(dm: Recorder, dirs: Iterable[str | Path], profile: ProfileOptions, *, recursive: bool,
                 settle: float, ignore: Iterable[str] | None, workers: int) -> DirectoryWatcher:
    """A directory watcher that measures each finished file once and commits files, schemas and memory together."""
    from .isolation import EnginePool
    from .sources.watch import DEFAULT_IGNORE, DirectoryWatcher, shown

    schemas = PendingState(dm.store)
    history = SchemaHistory(schemas)
    # each file in a worker process (one per watcher worker, started now): an engine crash fails one file
    engines = EnginePool(warm=workers)

    def measure(path: Path, digest: str) -> tuple[files.FileResult, dict[str, Any]]:
        """One file's records and its dataset's new schema, not stored yet; hashed once, by the watcher."""
        key = dataset_key(path.resolve())
        try:
            with engines.engine() as engine:
                result = files.file_kpis(path, profile, previous_schema=history.get(key), sha256=digest,
                                         engine=engine)
        except SourceError as exc:
            raise SourceError(exc.reason) from None  # the watcher names the file
        state: dict[str, Any] = {}
        if result.profile is not None and result.profile.columns:
            change = history.updated(key, {"schema": [list(c) for c in result.profile.schema],
                                           "sha256": result.sha256})
            if change is not None:
                state = schemas.lay(*change)
        return result, state

    def commit(done: list[Measured]) -> None:
        """The records of several files, their schemas and the watcher's memory of them: one transaction."""
        batch: list[KpiRecord] = []
        state: dict[str, Any] = {}
        for m in done:
            if m.value is not None:
                result, changes = m.value
                batch.extend(result.records)
                state.update(changes)
            state[Namespace.WATCHER.key(m.key)] = m.sha256
        try:
            dm.put_records(batch, state=state)
        finally:
            schemas.forget(state)  # committed, or refused: then these files are measured again
        for m in done:
            if m.value is not None:
                _watch_log.info("%s: measured, %d KPIs", shown(m.path), len(m.value[0].records))
        if dm.configured and batch:
            try:
                dm.ship()
            except DataMonitorError as exc:  # stored: the next shipment takes them
                log.warning("the watcher's documents are stored but not shipped yet: %s", exc)

    return DirectoryWatcher(dirs, measure=measure, commit=commit, recursive=recursive, on_stop=engines.close,
                            settle=settle, ignore=DEFAULT_IGNORE if ignore is None else ignore,
                            state=StoredState(dm.store, Namespace.WATCHER), workers=workers,
                            tick=dm.check_overdue)  # late files are news without waiting for the next
