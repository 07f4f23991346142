"""The directory watcher: finished data files become KPIs, files still being written are left alone.

watchdog (inotify on Linux) reports a file closed after writing, moved or
renamed into a watched folder, or created there (a file moved in from a folder
that is not watched comes as a creation only). Names matching the ignore patterns are skipped:
by default ``*.tmp*``, ``*.part``, ``*.crdownload`` and dotfiles, which covers
rsync's ``.name.XXXXXX``. A file is measured only once its size and modification
time have held still for ``settle`` seconds, so a growing file waits. Each
measured file is remembered in the store by path and SHA-256. At start-up,
files that arrived while the watcher was down are measured, and a restart never
measures the same content twice. Every ``rescan_every`` seconds (10) the folders
are listed again and a file the events missed is offered: the kernel drops
events when its queue overflows (16,384 by default, four a file of an rsync
burst: a 20,000-file burst lost 15,000 files before this scan), and some
filesystems (NFS, FUSE) send none for other machines' writes. A file the watcher
has handled and whose signature is unchanged is not read again (:mod:`.listing`).

Each file is hashed once, here, and the hash is handed to the measurement.
Given ``measure`` and ``commit``, workers measure files in parallel and one
committer stores what they finished in one transaction per round: one file at
a time when files trickle in, with no wait; in a burst, each commit waits up to
``gather`` (50 ms) for the files still being measured and takes them along (a
group commit: ~50 transactions for a 1,000-file burst rather than ~940, which
halves the committer's CPU, the process's scarcest resource in a burst).
"""

from __future__ import annotations

import errno
import logging
import os
import queue
import signal
import stat
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from watchdog.events import (
    DirCreatedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer

from ..errors import StoreError, one_line, shown
from ..rawinput import file_digest
from .listing import Known, Signature, ignore_matcher, regular_files, signature

__all__ = ["DEFAULT_IGNORE", "DirectoryWatcher", "Measured", "ignored", "shown"]

log = logging.getLogger(__name__)
#: the events the watcher asks for. Asking for these only (watchdog turns them into the inotify mask) spares the
#: observer threads a write's IN_MODIFY, a chmod's IN_ATTRIB and the IN_OPEN / IN_CLOSE_NOWRITE of every read,
#: the watcher's own three reads of each file among them: 4 events a file of an rsync burst instead of ~14.
#: Directory creations and moves keep a recursive watch on new folders.
EVENTS = [FileClosedEvent, FileCreatedEvent, FileMovedEvent, DirCreatedEvent, DirMovedEvent]
#: watchdog 7 keeps IN_DONT_FOLLOW in a filtered mask; before 7 (Python 3.10 gets 6) a filter dropped it, and a
#: symbolic link to a watched folder then moved that folder's watch to the link's path: all events there are asked
#: for (more CPU in a burst, no wrong paths)
_FILTER = EVENTS if int(version("watchdog").split(".")[0]) >= 7 else None
DEFAULT_IGNORE = ("*.tmp*", "*.part", "*.crdownload", ".*")


def ignored(path: Path, patterns: Iterable[str]) -> bool:
    """True for a name matching an ignore pattern (files still being written, hidden files)."""
    return ignore_matcher(patterns)(path.name)


def _being_written(path: Path) -> bool:
    """Whether a process holds the file open for writing, where the system tells (a read lease is refused then:
    ``fcntl(F_SETLEASE)``, which needs the file's owner or CAP_LEASE); False where it cannot tell."""
    try:
        import fcntl

        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except (ImportError, OSError):
        return False
    try:
        # a writer opening the file while the lease is held breaks it with a signal to this process: SIGIO by
        # default, which would end it; SIGURG's default is to be ignored
        fcntl.fcntl(fd, fcntl.F_SETSIG, signal.SIGURG)
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_RDLCK)
    except OSError as exc:
        return exc.errno == errno.EAGAIN  # open for writing; EACCES, EINVAL: this system cannot tell
    else:
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_UNLCK)
        return False
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Measured:
    """A finished file on its way to the store: ``commit`` stores ``value`` and keeps ``key -> sha256`` as state."""

    path: Path
    sha256: str
    key: str
    #: what ``measure`` returned; None when it failed (the content is remembered all the same)
    value: Any


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: DirectoryWatcher) -> None:
        self.watcher = watcher

    def dispatch(self, event: FileSystemEvent) -> None:
        try:
            super().dispatch(event)
        except Exception as exc:  # noqa: BLE001 - a fault on one event must not end watchdog's thread (and the watcher)
            log.error("%s: %s", shown(Path(os.fsdecode(event.src_path))), one_line(exc, 200))

    def on_closed(self, event: FileSystemEvent) -> None:
        if isinstance(event, FileClosedEvent) and not event.is_directory:
            self.watcher.offer(Path(os.fsdecode(event.src_path)))

    def on_created(self, event: FileSystemEvent) -> None:
        # a file moved in from a folder that is not watched (``mv /staging/x.csv /inbox/``) comes as a creation
        # only, with no close to follow; a file created here and still written waits out ``settle`` (and its
        # close offers it again)
        if isinstance(event, FileCreatedEvent) and not event.is_directory:
            self.watcher.offer(Path(os.fsdecode(event.src_path)))

    def on_moved(self, event: FileSystemEvent) -> None:
        if isinstance(event, FileMovedEvent) and not event.is_directory:
            # a rename is atomic: the file was finished under its temporary name, so it need not settle
            self.watcher.offer(Path(os.fsdecode(event.dest_path)), delay=0.0)


class DirectoryWatcher:
    """Watch folders and hand each finished file to ``process`` once (or to ``measure``, then ``commit``).

    :param process: measures and stores one file, and the watcher then remembers it in ``state``.
    :param measure: ``measure(path, sha256)`` measures one file without storing it ...
    :param commit: ... and ``commit(list[Measured])`` stores several, with each one's
        ``key -> sha256`` state, in one transaction. A :class:`~datamonitor.errors.StoreError`
        puts all of them back for later.
    :param state: remembers processed files: ``get(key)`` (and ``set(key, value)`` when
        ``process`` is used), kept in the store so it survives a restart; None keeps it in memory.
    :param tick: called every ``tick_every`` seconds while the watcher runs, from its scheduler thread (the facade
        checks there for files that are late: :meth:`~datamonitor.DataMonitor.check_overdue`); what it raises is
        logged and the watcher goes on.
    :param rescan_every: list the folders again this often (seconds) and offer the files the events missed (an
        overflowed inotify queue, a network filesystem); None never does.
    """

    def __init__(self, dirs: Iterable[str | Path], process: Callable[[Path], Any] | None = None, *,
                 measure: Callable[[Path, str], Any] | None = None,
                 commit: Callable[[list[Measured]], Any] | None = None, recursive: bool = False,
                 ignore: Iterable[str] = DEFAULT_IGNORE, settle: float = 0.5, state: Any = None,
                 workers: int = 2, clock: Callable[[], float] = time.monotonic,
                 on_stop: Callable[[], Any] | None = None, tick: Callable[[], Any] | None = None,
                 tick_every: float = 60.0, rescan_every: float | None = 10.0) -> None:
        if (process is None) == (measure is None or commit is None) or (measure is None) != (commit is None):
            raise TypeError("give either process, or both measure and commit")
        self.dirs = [Path(d).resolve() for d in dirs]
        for d in self.dirs:
            if not d.is_dir():
                raise NotADirectoryError(f"{d}: not a directory")
        self.process, self.measure, self.commit, self.recursive = process, measure, commit, recursive
        #: called once everything is stored at stop (the facade closes its engine workers there)
        self.on_stop = on_stop
        #: called every ``tick_every`` seconds while it runs (the facade checks for late files there)
        self.tick, self.tick_every = tick, tick_every
        self.rescan_every = rescan_every
        #: files handled for good (measured, failed, known content, refused), with their signature then: a rescan
        #: offers a file again only when it changed; kept only while rescans run
        self._known = Known()
        self._rescanner: threading.Thread | None = None
        #: files offered by a rescan: ones the events had missed (or that changed unseen)
        self.rescued = 0
        self.ignore, self.settle, self._clock = tuple(ignore), settle, clock
        self._is_ignored = ignore_matcher(self.ignore)
        self._state = state if state is not None else _MemoryState()
        self._pending: dict[Path, tuple[float, int, float]] = {}
        #: files handed to a worker and not yet finished (committed, failed or put back): one at a time per path
        self._inflight: set[Path] = set()
        self._lock = threading.Condition()
        self._stop = threading.Event()
        self._observer: Any = None
        self._scheduler: threading.Thread | None = None
        self._ready: queue.Queue[Path | None] = queue.Queue()
        self._measured: queue.Queue[Measured | None] = queue.Queue()
        self._committer: threading.Thread | None = None
        #: the most files one commit takes
        self.max_batch = 256
        #: the longest a commit waits for files still being measured, to take them along
        self.gather = 0.05
        self._workers: list[threading.Thread] = []
        self._n_workers = max(1, workers)
        self._busy = 0
        self._count_lock = threading.Lock()
        self.processed = 0
        #: files whose measurement failed (logged at ERROR; their content is remembered, not retried)
        self.failed = 0
        #: times a file was put back because the store could not take it (full, or its disk full)
        self.deferred = 0
        #: seconds before a file refused by a full store is tried again
        self.retry_after = 5.0

    # --------------------------------------------------------------- intake
    def _inside(self, path: Path) -> bool:
        try:
            resolved = path.resolve()
        except (OSError, RuntimeError):  # RuntimeError: a symbolic link loop, before Python 3.13
            return False
        return any(resolved.parent == root or (self.recursive and root in resolved.parents) for root in self.dirs)

    def offer(self, path: Path, delay: float | None = None) -> None:
        """A candidate file: queued until it holds still, unless its name is ignored or it lies outside."""
        if self._is_ignored(path.name) or not self._inside(path):
            return
        try:
            st = path.lstat()
        except OSError:
            return  # gone already: a temporary file renamed away, say
        if not stat.S_ISREG(st.st_mode):  # a FIFO would block a worker; a link to a file here measured it twice
            log.debug("%s: not a regular file, skipped", shown(path))
            return
        try:
            str(path).encode("utf-8")
        except UnicodeEncodeError:  # the store cannot keep its name
            log.error("%s: the file name is not valid UTF-8; rename the file to measure it", shown(path))
            self._remember(path, signature(st))  # said once, not at every rescan
            return
        with self._lock:
            wait = self.settle if delay is None else delay
            self._pending[path] = (self._clock() + wait, st.st_size, st.st_mtime)
            self._lock.notify()

    def scan(self) -> int:
        """Queue every file already in the folders (arrived while the watcher was down), in name order; returns
        how many."""
        paths = sorted(path for path, _st in self._listed())
        for path in paths:
            self.offer(Path(path))
        return len(paths)

    def rescan(self) -> int:
        """Queue the files in the folders that the watcher has not handled as they are now (missed events, an
        overflowed queue); returns how many."""
        with self._lock:
            busy = {str(p) for p in self._pending} | {str(p) for p in self._inflight}
        fresh = self._known.changed(self._listed(), busy)
        for path in fresh:
            self.offer(Path(path))
        if fresh:
            log.info("%d file(s) found by listing the folders that no event had offered, e.g. %s", len(fresh),
                     shown(Path(fresh[0])))
            self.rescued += len(fresh)
        return len(fresh)

    def _listed(self) -> Iterator[tuple[str, os.stat_result]]:
        return regular_files(self.dirs, recursive=self.recursive, ignored=self._is_ignored, stop=self._stop)

    def _remember(self, path: Path, sig: Signature) -> None:
        if self.rescan_every:  # read by rescans only: not kept without them
            self._known.remember(str(path), sig)

    def _rescan_loop(self) -> None:
        """List the folders every ``rescan_every`` seconds; a folder so big that listing it takes more than 5 % of
        that time is listed less often."""
        assert self.rescan_every
        interval = self.rescan_every
        while not self._stop.wait(interval):
            started = time.monotonic()
            try:
                self.rescan()
            except Exception as exc:  # noqa: BLE001 - the watcher goes on; the next listing tries again
                log.warning("listing the watched folders failed: %s", one_line(exc, 200))
            interval = max(self.rescan_every, 20 * (time.monotonic() - started))

    # --------------------------------------------------------------- worker
    def _due(self) -> list[Path]:
        now = self._clock()
        ready = []
        for path, (due, size, mtime) in list(self._pending.items()):
            if due > now:
                continue
            if path in self._inflight:  # offered again while it is measured: judged once that one is stored,
                self._pending[path] = (now + self.settle, size, mtime)  # when the state knows its content
                continue
            try:
                st = path.stat()
            except OSError:
                del self._pending[path]
                continue
            if (st.st_size, st.st_mtime) != (size, mtime):  # still growing: wait again
                self._pending[path] = (now + self.settle, st.st_size, st.st_mtime)
                continue
            del self._pending[path]
            self._inflight.add(path)
            ready.append(path)
        return ready

    def _work(self) -> None:
        while True:
            path = self._ready.get()
            if path is None:
                return
            handed_over = False
            try:
                handed_over = self._handle(path)
            except Exception as exc:  # noqa: BLE001 - a fault on one file must not end a worker (and the watcher)
                log.error("%s: %s", shown(path), one_line(exc, 200))
                self._done(0, failed=1, files=0)
            finally:
                if not handed_over:
                    self._done(0)
                    self._finished([path])

    def _done(self, processed: int, deferred: int = 0, failed: int = 0, files: int = 1) -> None:
        with self._count_lock:
            self._busy -= files
            self.processed += processed
            self.deferred += deferred
            self.failed += failed

    def _finished(self, paths: Iterable[Path]) -> None:
        with self._lock:
            self._inflight.difference_update(paths)
            self._lock.notify()

    def _handle(self, path: Path) -> bool:
        """Measure one file; True when it was handed to the committer, which then accounts for it."""
        key = f"watch:{path}"
        try:
            sig = signature(path.lstat())  # taken before the read: a change after it is seen as one
        except OSError as exc:
            log.warning("%s: vanished before it could be measured: %s", shown(path), exc.strerror or exc)
            return False
        if _being_written(path):  # a writer that paused longer than ``settle``: its close offers it again
            log.debug("%s: still open for writing", shown(path))
            self._remember(path, sig)  # and a rescan, once it changed
            return False
        try:
            digest = file_digest(path, 1 << 20)  # a path swapped for a FIFO since it was offered: refused
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                log.warning("%s: vanished before it could be measured: %s", shown(path), exc.strerror or exc)
            else:  # unreadable (permissions, no longer a regular file): said once for this version of the file
                log.error("%s: cannot be read: %s", shown(path), exc.strerror or exc)
                self._remember(path, sig)
            return False
        self._remember(path, sig)  # handled from here on; a full store offers it again itself
        if self._state.get(key) == digest:
            log.debug("%s: already measured with this content", path)
            return False
        if self.measure is not None:
            try:
                value = self.measure(path, digest)
            except Exception as exc:  # noqa: BLE001 - one bad file must not stop the watcher
                log.error("%s: %s", shown(path), exc)
                value = None
            if _changed(path, sig):  # its KPIs may not be those of the bytes hashed: not stored, and the file
                log.info("%s: changed while it was measured; measured again once it holds still", shown(path))
                self._known.forget(str(path))  # measured again (once it settles) under its new content's hash
                self.offer(path)
                return False
            self._measured.put(Measured(path, digest, key, value))
            return True
        assert self.process is not None
        try:
            self.process(path)
        except StoreError as exc:  # a full store (max_size, or the disk): the file waits, it is not lost
            log.warning("%s: not measured yet, trying again in %g s: %s", shown(path), self.retry_after, exc)
            self._done(0, deferred=1, files=0)
            self.offer(path, delay=self.retry_after)
            return False
        except Exception as exc:  # noqa: BLE001 - one bad file must not stop the watcher
            log.error("%s: %s", shown(path), exc)
            self._state.set(key, digest)
            self._done(0, failed=1, files=0)
            return False
        self._state.set(key, digest)
        self._done(1, files=0)
        return False

    def _commit_loop(self) -> None:
        """Store what the workers finished: all that is ready, in one transaction."""
        assert self.commit is not None
        stopping = False
        while not stopping:
            first = self._measured.get()
            if first is None:
                return
            batch = [first]
            deadline = time.monotonic() + self.gather
            while len(batch) < self.max_batch:
                try:
                    item = self._measured.get_nowait()
                except queue.Empty:
                    with self._count_lock:
                        others = self._busy > len(batch)  # files still being measured (or queued for it)
                    wait = deadline - time.monotonic()
                    if not others or wait <= 0:
                        break
                    try:
                        item = self._measured.get(timeout=wait)
                    except queue.Empty:
                        break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            failed = sum(1 for m in batch if m.value is None)
            try:
                self.commit(batch)
            except StoreError as exc:  # a full store (max_size, or the disk): the files wait, they are not lost
                log.warning("%d file(s) not stored yet, trying again in %g s: %s", len(batch), self.retry_after, exc)
                for m in batch:
                    self.offer(m.path, delay=self.retry_after)
                self._done(0, deferred=len(batch), files=len(batch))
            except Exception as exc:  # noqa: BLE001 - the watcher goes on; a restart's catch-up measures them
                log.error("storing %d file(s) failed: %s", len(batch), exc)
                self._done(0, failed=len(batch), files=len(batch))
            else:
                if isinstance(self._state, _MemoryState):  # a store's state was saved by commit, with the records
                    for m in batch:
                        self._state.set(m.key, m.sha256)
                self._done(len(batch) - failed, failed=failed, files=len(batch))
            self._finished(m.path for m in batch)

    def _run(self) -> None:
        next_tick = self._clock() + self.tick_every
        while not self._stop.is_set():
            if self.tick is not None and self._clock() >= next_tick:
                next_tick = self._clock() + self.tick_every
                try:
                    self.tick()
                except Exception as exc:  # noqa: BLE001 - the watcher goes on; the next tick tries again
                    log.warning("the watcher's timer failed: %s", exc)
            with self._lock:
                ready = self._due()
                if not ready:
                    waits = [due - self._clock() for due, _s, _m in self._pending.values()]
                    self._lock.wait(timeout=max(0.01, min(waits)) if waits else 0.5)
                    continue
            with self._count_lock:  # all of them in flight before the first is taken: a commit waits for them
                self._busy += len(ready)
            for path in ready:
                self._ready.put(path)

    # ------------------------------------------------------------ lifecycle
    def start(self, *, catch_up: bool = True) -> None:
        """Start the observer and the worker; with ``catch_up``, queue the files already there."""
        self._observer = Observer()
        handler = _Handler(self)
        for d in self.dirs:
            self._observer.schedule(handler, str(d), recursive=self.recursive, event_filter=_FILTER)
        self._observer.start()
        self._workers = [threading.Thread(target=self._work, name=f"datamonitor-measure-{i}", daemon=True)
                         for i in range(self._n_workers)]
        for worker in self._workers:
            worker.start()
        if self.commit is not None:
            self._committer = threading.Thread(target=self._commit_loop, name="datamonitor-commit", daemon=True)
            self._committer.start()
        self._scheduler = threading.Thread(target=self._run, name="datamonitor-watch", daemon=True)
        self._scheduler.start()
        if self.rescan_every:
            if not catch_up:  # the files there now are not the watcher's to measure: only their changes are
                self._known.fill(self._listed())
            self._rescanner = threading.Thread(target=self._rescan_loop, name="datamonitor-rescan", daemon=True)
            self._rescanner.start()
        if catch_up:
            self.scan()

    def idle(self) -> bool:
        """True when no file waits to be measured or is being measured."""
        with self._lock, self._count_lock:
            return not self._pending and self._busy == 0

    def stop(self) -> None:
        """Stop watching; files still settling are left for the next start's catch-up scan."""
        self._stop.set()
        with self._lock:
            self._lock.notify_all()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join()
        if self._scheduler is not None:
            self._scheduler.join()
        if self._rescanner is not None:
            self._rescanner.join()
        for _ in self._workers:
            self._ready.put(None)  # after the files already handed over: those are finished first
        for worker in self._workers:
            worker.join()
        if self._committer is not None:
            self._measured.put(None)  # after what the workers finished: that is stored first
            self._committer.join()
        if self.on_stop is not None:
            self.on_stop()


def _changed(path: Path, sig: Signature) -> bool:
    """Whether the file at ``path`` is no longer the one with this signature (written to, replaced or gone)."""
    try:
        return signature(path.lstat()) != sig
    except OSError:
        return True


class _MemoryState:
    def __init__(self) -> None:
        self._data: dict[str, Any] = {}

    def get(self, key: str) -> Any:
        return self._data.get(key)

    def set(self, key: str, value: Any) -> None:
        self._data[key] = value
