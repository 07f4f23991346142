"""The monitor types of the config file and the command line: one typed model each, with its checks and ``build()``.

A ``[[monitors]]`` entry of type ``disk``, ``watch``, ``udp`` or ``files`` is read
into its model by :func:`~datamonitor.validation.read_fields` (the model's
fields say which keys it takes); ``datamonitor disk``, ``watch`` and ``udp`` fill
the same models from their options. ``build()`` makes the object that measures
(a :class:`~datamonitor.loop.Monitor`, a watcher, a listener); ``start()`` runs it in
the background for the service and returns a :class:`Task`. To add a monitor
type, add a model here and name it in :data:`MONITORS`.
"""

from __future__ import annotations

import asyncio
import glob
import os
import socket
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from .notify import Notifier, Threshold
from .validation import DURATION, REQUIRED, option, parse_duration

if TYPE_CHECKING:
    from .monitor import DataMonitor

__all__ = ["MONITORS", "DiskMonitor", "FilesMonitor", "MonitorModel", "Task", "UdpMonitor", "WatchMonitor"]


def _strings(value: Any, key: str) -> tuple[str, ...]:
    return tuple(value)


@dataclass
class Task:
    """A monitor running in the background: how to stop it, wait for it, and what it did."""

    stop: Callable[[], None]
    summary: Callable[[], dict[str, Any]]
    thread: threading.Thread | None = None

    def join(self, timeout: float | None = None) -> None:
        if self.thread is not None:
            self.thread.join(timeout)


class MonitorModel(Protocol):
    """What the service asks of every monitor type."""

    type: ClassVar[str]

    def problems(self, at: str) -> list[str]:
        """What would stop it, found before anything starts: one line each, prefixed with ``at``."""
        ...

    def start(self, dm: DataMonitor, *, thresholds: Sequence[Threshold], notifiers: Sequence[Notifier],
              label: str) -> Task:
        """Build it and run it in the background."""
        ...


class _Scheduled:
    """A monitor type measured on a schedule: ``build()`` makes a :class:`~datamonitor.loop.Monitor`, and the
    service runs its loop in a thread of its own."""

    def build(self, dm: DataMonitor, *, thresholds: Iterable[Threshold] = (), notifiers: Sequence[Notifier] = ()) -> Any:
        raise NotImplementedError

    def start(self, dm: DataMonitor, *, thresholds: Sequence[Threshold], notifiers: Sequence[Notifier], label: str) -> Task:
        monitor = self.build(dm, thresholds=thresholds, notifiers=notifiers)
        thread = threading.Thread(target=monitor.loop, name=f"datamonitor-{label}", daemon=True)
        thread.start()
        return Task(stop=monitor.stop, summary=lambda: {"steps": monitor.steps}, thread=thread)


def _missing(at: str, key: str, raws: Iterable[str]) -> list[str]:
    return [f"{at}.{key}[{j}]: {raw}: no such file or directory" for j, raw in enumerate(raws)
            if not os.path.exists(os.path.expanduser(raw))]


@dataclass(frozen=True)
class DiskMonitor(_Scheduled):
    """Disk usage of paths (default: every real mounted filesystem), with optional lines to notify on."""

    type: ClassVar[str] = "disk"
    paths: tuple[str, ...] | None = option(None, types=(list,), items=str, parse=_strings)
    interval: float = option(60.0, types=DURATION, parse=parse_duration)
    max_used_pct: float | None = option(None, types=(int, float))
    min_free_gb: float | None = option(None, types=(int, float))

    def thresholds(self) -> list[Threshold]:
        """The lines ``max_used_pct`` and ``min_free_gb`` draw (a point and a GiB of hysteresis)."""
        lines = []
        if self.max_used_pct is not None:
            lines.append(Threshold("disk.used_pct", above=self.max_used_pct, hysteresis=1.0))
        if self.min_free_gb is not None:
            lines.append(Threshold("disk.free_bytes", below=self.min_free_gb * (1 << 30), hysteresis=float(1 << 30)))
        return lines

    def problems(self, at: str) -> list[str]:
        return _missing(at, "paths", self.paths or ())

    def build(self, dm: DataMonitor, *, thresholds: Iterable[Threshold] = (), notifiers: Sequence[Notifier] = ()) -> Any:
        """A :class:`~datamonitor.loop.Monitor` of the disks whose records ``dm`` stores."""
        from .sources.disk import DiskSource

        return dm.monitor(DiskSource(self.paths), interval=self.interval,
                          thresholds=[*thresholds, *self.thresholds()], notifiers=notifiers)


@dataclass(frozen=True)
class FilesMonitor(_Scheduled):
    """Data files, folders and globs measured every ``interval``."""

    type: ClassVar[str] = "files"
    paths: tuple[str, ...] = option(REQUIRED, types=(list,), items=str, parse=_strings)
    interval: float = option(3600.0, types=DURATION, parse=parse_duration)
    recursive: bool = option(False, types=(bool,))

    def problems(self, at: str) -> list[str]:
        problems = []
        for j, raw in enumerate(self.paths):
            text = os.path.expanduser(raw)
            if glob.has_magic(text):
                parts = Path(text).parts
                fixed = Path(*parts[:next(k for k, part in enumerate(parts) if glob.has_magic(part))] or ["."])
                if not fixed.is_dir():
                    problems.append(f"{at}.paths[{j}]: {raw}: no such directory {fixed}")
            elif not os.path.exists(text):
                problems.append(f"{at}.paths[{j}]: {raw}: no such file or directory")
        return problems

    def build(self, dm: DataMonitor, *, thresholds: Iterable[Threshold] = (), notifiers: Sequence[Notifier] = ()) -> Any:
        """A :class:`~datamonitor.loop.Monitor` of the files, with schema drift against the store's history."""
        from .baseline import SchemaHistory
        from .sources.files import FileSource

        source = FileSource(self.paths, recursive=self.recursive, schemas=SchemaHistory(dm.store))
        return dm.monitor(source, interval=self.interval, thresholds=list(thresholds), notifiers=notifiers)


@dataclass(frozen=True)
class WatchMonitor:
    """Folders watched: each finished data file is measured once."""

    type: ClassVar[str] = "watch"
    dirs: tuple[str, ...] = option(REQUIRED, types=(list,), items=str, parse=_strings)
    recursive: bool = option(False, types=(bool,))
    settle: float = option(0.5, types=DURATION, parse=parse_duration)
    ignore: tuple[str, ...] | None = option(None, types=(list,), items=str, parse=_strings)
    workers: int = option(3, types=(int,))

    def problems(self, at: str) -> list[str]:
        problems = []
        for j, raw in enumerate(self.dirs):
            d = Path(raw).expanduser()
            if not d.exists():
                problems.append(f"{at}.dirs[{j}]: {raw}: no such directory")
            elif not d.is_dir():
                problems.append(f"{at}.dirs[{j}]: {raw}: not a directory")
        return problems

    def build(self, dm: DataMonitor) -> Any:
        """The store's :class:`~datamonitor.sources.watch.DirectoryWatcher` of the folders, not started."""
        return dm.watcher(*self.dirs, recursive=self.recursive, settle=self.settle, ignore=self.ignore,
                          workers=self.workers)

    def start(self, dm: DataMonitor, *, thresholds: Sequence[Threshold], notifiers: Sequence[Notifier], label: str) -> Task:
        watcher = self.build(dm)
        watcher.start()
        return Task(stop=watcher.stop, summary=lambda: {"files": watcher.processed, "failed": watcher.failed})


@dataclass(frozen=True)
class UdpMonitor:
    """A UDP listener for KPI datagrams (JSON or StatsD), aggregated every ``flush``."""

    type: ClassVar[str] = "udp"
    host: str = option("127.0.0.1", types=(str,))
    port: int = option(8200, types=(int,))
    flush: float = option(10.0, types=DURATION, parse=parse_duration)
    max_size: int = option(8192, types=(int,))
    secret_env: str = option("DATAMONITOR_UDP_SECRET", types=(str,))

    def problems(self, at: str) -> list[str]:
        if not 0 <= self.port <= 65535:
            return [f"{at}.port: {self.port} is not in 0-65535"]
        try:
            socket.getaddrinfo(self.host, self.port, type=socket.SOCK_DGRAM)
        except OSError as exc:
            return [f"{at}.host: {self.host}: cannot resolve it: {exc.strerror or exc}"]
        return []

    def build(self, dm: DataMonitor, *, env: Mapping[str, str] | None = None) -> Any:
        """A :class:`~datamonitor.sources.udp.UdpListener` whose records ``dm`` stores; the HMAC secret is
        ``$secret_env`` when set."""
        from .sources.udp import UdpListener

        secret = (os.environ if env is None else env).get(self.secret_env)
        return UdpListener(self.host, self.port, flush_interval=self.flush, max_size=self.max_size,
                           secret=secret.encode() if secret else None, sink=lambda records: dm.record(records))

    def start(self, dm: DataMonitor, *, thresholds: Sequence[Threshold], notifiers: Sequence[Notifier], label: str) -> Task:
        listener = self.build(dm)
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=_serve_udp, args=(loop, listener), name=f"datamonitor-{label}", daemon=True)
        thread.start()

        def summary() -> dict[str, Any]:
            t = listener.totals  # as the udp command's last line: what the kernel dropped is counted too
            return {"received": t.received, "accepted": t.accepted, "rejected": t.rejected,
                    "unsupported": t.unsupported, "kernel_drops": listener.kernel_drops, "dropped": listener.dropped}

        def stop() -> None:
            loop.call_soon_threadsafe(listener.stop)

        return Task(stop=stop, summary=summary, thread=thread)


def _serve_udp(loop: asyncio.AbstractEventLoop, listener: Any) -> None:
    """The listener in its own thread and loop; the loop's executor is shut down and the loop closed after."""
    try:
        loop.run_until_complete(listener.serve())
    finally:
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()


#: Every monitor type by the name a config file gives it.
MONITORS: dict[str, type[Any]] = {m.type: m for m in (DiskMonitor, WatchMonitor, UdpMonitor, FilesMonitor)}
