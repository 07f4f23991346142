"""Measuring files in a worker process, so that a native engine's crash costs one file, not the run.

Polars (like any native engine) can die on a hostile file with a signal
Python cannot catch. :class:`IsolatedEngine` keeps one worker process and
sends it one file at a time; if the worker dies, the file is reported as
failed with the signal that killed it, a new worker is started for the next
file, and the run goes on. The worker is started once (importing the engine
costs a fraction of a second), so the per-file cost is one round trip.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import pickle
import signal
import struct
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol

from .errors import SourceError
from .profiling import ProfileOptions, TableProfile

__all__ = ["Engine", "EnginePool", "IsolatedEngine"]

log = logging.getLogger(__name__)
DEFAULT_TARGET = "datamonitor.profiling:profile_file"


def _load(target: str) -> Callable[..., TableProfile]:
    module, _, name = target.partition(":")
    fn: Callable[..., TableProfile] = getattr(importlib.import_module(module), name)
    return fn


class _Channel:
    """Length-prefixed pickles over a pair of binary pipes."""

    def __init__(self, reader: Any, writer: Any) -> None:
        self.reader, self.writer = reader, writer

    def send(self, obj: Any) -> None:
        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        self.writer.write(struct.pack("<Q", len(data)) + data)
        self.writer.flush()

    def recv(self) -> Any:
        head = self.reader.read(8)
        if len(head) < 8:
            raise EOFError("the other end closed")
        (size,) = struct.unpack("<Q", head)
        data = self.reader.read(size)
        if len(data) < size:
            raise EOFError("the other end closed")
        return pickle.loads(data)


def serve(target: str = DEFAULT_TARGET) -> None:
    """The worker's loop: measure each (path, options, sha256) it is sent; answer progress, a profile or an error.

    Its standard output carries the answers, so anything the engine prints goes to standard error.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    conn = _Channel(sys.stdin.buffer, out)
    profile = _load(target)
    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        if request is None:
            return
        path, options, sha256, want_progress = request
        report = (lambda f: conn.send(("progress", f))) if want_progress else None
        try:
            conn.send(("ok", profile(path, options, report, sha256=sha256)))
        except SourceError as exc:
            conn.send(("error", exc))
        except Exception as exc:  # noqa: BLE001 - anything else is one line naming the file
            conn.send(("error", SourceError(f"{type(exc).__name__}: {exc}", path=path)))


class Engine(Protocol):
    """What measures a file in a worker (without one, ``file_kpis`` measures in this process)."""

    def profile(self, path: Path, options: ProfileOptions | None, progress: Callable[[float], None] | None,
                sha256: str | None = None) -> TableProfile: ...

    def close(self) -> None: ...


class IsolatedEngine:
    """Measure each file in a worker process; a crash of the worker fails that file only.

    :param target: ``module:function`` with :func:`~datamonitor.profiling.profile_file`'s signature,
        imported in the worker (tests name one that crashes on purpose).
    """

    def __init__(self, target: str = DEFAULT_TARGET) -> None:
        self.target = target
        self._proc: subprocess.Popen[bytes] | None = None
        self._conn: _Channel | None = None
        self._lock = threading.RLock()
        self.crashes = 0

    @property
    def worker_pid(self) -> int | None:
        """The worker process's id while it runs; None before it starts, after a crash and after :meth:`close`."""
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def _start(self) -> _Channel:
        # a fresh interpreter, not multiprocessing: a user's script is never imported again as __main__
        code = f"from datamonitor.isolation import serve; serve({self.target!r})"
        self._proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._conn = _Channel(self._proc.stdout, self._proc.stdin)
        return self._conn

    def profile(self, path: Path, options: ProfileOptions | None, progress: Callable[[float], None] | None,
                sha256: str | None = None) -> TableProfile:
        with self._lock:
            conn = self._conn if self._proc is not None and self._proc.poll() is None else None
            if conn is None:
                self._reset()
                conn = self._start()
            try:
                conn.send((Path(path), options, sha256, progress is not None))
            except OSError:
                raise self._crashed(path) from None
            return self._answer(path, (lambda _p, f: progress(f)) if progress else None)

    def warm(self) -> None:
        """Start the worker now rather than at the first file."""
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._reset()
                self._start()

    def profile_many(self, jobs: Iterable[tuple[Path, ProfileOptions | None, Any]],
                     progress: Callable[[Path, float], None] | None = None, ahead: int = 1
                     ) -> Iterator[tuple[Path, Any, TableProfile | None, str | None]]:
        """Measure files in order, ``ahead`` files queued beyond the one being measured, so that the worker
        measures the next file while the caller stores the last.

        Each job is ``(path, options, tag)``; each answer is ``(path, tag, profile, error)``. A job whose
        tag is a :class:`SourceError` is not sent: its error comes back in its turn.
        """
        pending: deque[tuple[Path, ProfileOptions | None, Any, bool]] = deque()  # (path, options, tag, sent)
        source = iter(jobs)
        exhausted = False
        with self._lock:
            while True:
                while not exhausted and sum(1 for e in pending if e[3]) <= ahead:
                    try:
                        path, options, tag = next(source)
                    except StopIteration:
                        exhausted = True
                        break
                    send = not isinstance(tag, SourceError)
                    pending.append((path, options, tag, send))
                    if send:
                        self._send(path, options, progress is not None)
                if not pending:
                    return
                path, options, tag, sent = pending.popleft()
                if not sent:
                    yield path, tag, None, str(tag)
                    continue
                try:
                    yield path, tag, self._answer(path, progress), None
                except SourceError as exc:
                    if self._proc is None:  # the worker crashed on this file: the queued ones go to a new one
                        for queued, opts, _tag, was_sent in pending:
                            if was_sent:
                                self._send(queued, opts, progress is not None)
                    yield path, tag, None, str(exc)

    def _send(self, path: Path, options: ProfileOptions | None, progress: bool) -> None:
        """Queue a file for the worker. A worker is started only where none is running: one that died with
        files in flight is not replaced here (the next file would go to the new worker and the answers
        would no longer match the files); its crash is found when the answer for its file is read."""
        conn = self._conn if self._proc is not None else None
        if conn is None:
            conn = self._start()
        try:
            conn.send((Path(path), options, None, progress))
        except OSError:  # it died meanwhile: reported, and the queued files sent again, by profile_many
            pass

    def _answer(self, path: Path, progress: Callable[[Path, float], None] | None) -> TableProfile:
        """The worker's answer for ``path``; a crash is that file's SourceError, and leaves no worker."""
        assert self._conn is not None
        try:
            while True:
                kind, value = self._conn.recv()
                if kind == "progress":
                    if progress is not None:
                        progress(path, value)
                    continue
                if kind == "ok":
                    result: TableProfile = value
                    return result
                raise value  # the worker's SourceError, pickled with its path
        except (EOFError, OSError):
            raise self._crashed(path) from None
        except SourceError:
            raise
        except BaseException:
            self._reset(kill=True)
            raise

    def _crashed(self, path: Path) -> SourceError:
        code = self._proc.wait(10) if self._proc is not None else None
        self._reset()
        self.crashes += 1
        why = f"signal {signal.Signals(-code).name}" if code is not None and code < 0 else f"exit code {code}"
        log.info("%s: the file engine crashed (%s); a new one is started", path, why)  # the caller reports it
        return SourceError(f"the file engine crashed while measuring it ({why}); "
                           "the file was skipped and the run goes on", path=path)

    def _reset(self, kill: bool = False) -> None:
        proc, self._proc, self._conn = self._proc, None, None
        if proc is None:
            return
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:
                    pass
        if kill and proc.poll() is None:
            proc.kill()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def close(self) -> None:
        """Stop the worker: closing its input ends its loop."""
        with self._lock:
            self._reset()

    def __enter__(self) -> IsolatedEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EnginePool:
    """Isolated engines for threads that measure at once (the watcher's workers): one worker process each."""

    def __init__(self, target: str = DEFAULT_TARGET, *, warm: int = 0) -> None:
        """:param warm: start this many workers now (they import the engine while the caller gets ready)."""
        self.target = target
        self._free: list[IsolatedEngine] = []
        self._all: list[IsolatedEngine] = []
        self._lock = threading.Lock()
        for _ in range(warm):
            engine = IsolatedEngine(target)
            engine.warm()
            self._free.append(engine)
            self._all.append(engine)

    @contextlib.contextmanager
    def engine(self) -> Iterator[IsolatedEngine]:
        """An engine no other thread uses meanwhile."""
        with self._lock:
            engine = self._free.pop() if self._free else None
            if engine is None:
                engine = IsolatedEngine(self.target)
                self._all.append(engine)
        try:
            yield engine
        finally:
            with self._lock:
                self._free.append(engine)

    def close(self) -> None:
        """Stop every worker process."""
        with self._lock:
            for engine in self._all:
                engine.close()
