"""A file's bytes, read once: hashed as they come and decompressed as a stream.

The SHA-256 is computed from the same blocks the readers parse, so a file is
read from disk once. gzip (multi-member), zstd and bz2 are decompressed
incrementally in bounded memory; a stream that ends before its end marker is
an error, not a shorter file. A zip archive must hold one data file.
"""

from __future__ import annotations

import bz2
import errno
import hashlib
import lzma
import os
import queue
import stat
import threading
import time
import zipfile
import zlib
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from .errors import SourceError

__all__ = ["Drain", "EarlyDigest", "RawInput", "background", "check_regular", "close", "file_digest", "identity",
           "open_regular", "prefetch"]

BLOCK = 8 << 20


def check_regular(path: Path) -> os.stat_result:
    """The file's stat, or a one-line SourceError for what cannot be measured (never opens a FIFO)."""
    try:
        st = os.stat(path)
    except OSError as exc:
        if exc.errno == 40:  # ELOOP
            raise SourceError("a symbolic link loop", path=path) from None
        raise SourceError(f"cannot read: {exc.strerror or exc}", path=path) from None
    except ValueError as exc:  # an embedded NUL
        raise SourceError(f"{path!r}: not a valid path: {exc}") from None
    if not stat.S_ISREG(st.st_mode):
        kind = ("a directory" if stat.S_ISDIR(st.st_mode) else "a FIFO" if stat.S_ISFIFO(st.st_mode)
                else "a socket" if stat.S_ISSOCK(st.st_mode) else "a device" if stat.S_ISCHR(st.st_mode)
                or stat.S_ISBLK(st.st_mode) else "special")
        raise SourceError(f"not a regular file ({kind})", path=path)
    return st


def identity(path: Path) -> tuple[int, ...]:
    """What changes when a file is written or replaced: device, inode, size, modification time and change time
    (a rewrite of the same size whose mtime is set back, as ``cp -p`` or ``rsync -t`` do, still moves the ctime,
    which no call can set)."""
    return _identity(os.stat(path))


def _identity(st: os.stat_result) -> tuple[int, ...]:
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def open_regular(path: Path) -> tuple[BinaryIO, os.stat_result]:
    """The file, open for reading, and its stat; OSError for what is no regular file. The open never blocks: a path
    swapped for a FIFO since it was checked is refused, not waited on."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return open(fd, "rb", buffering=0), st


def file_digest(path: Path, block: int = BLOCK) -> str:
    """The SHA-256 of a file's bytes, in a read of its own."""
    fh, _st = open_regular(path)
    with fh:
        digest = _sha256(fh, block)
    assert digest is not None  # nothing can stop it
    return digest


def _sha256(fh: Any, block: int, stop: threading.Event | None = None, sha: Any = None,
            note: Callable[[Any, int], None] | None = None) -> str | None:
    """The SHA-256 of the rest of an open file (continuing ``sha``, when given), read into one buffer (no allocation
    per block); None when ``stop`` was set meanwhile. ``note(sha, bytes)`` is called after each block."""
    sha = hashlib.sha256() if sha is None else sha
    buf = bytearray(block)
    view = memoryview(buf)
    done = 0
    while n := fh.readinto(buf):
        if stop is not None and stop.is_set():
            return None
        sha.update(view[:n])
        if note is not None:
            done += n
            note(sha, done)
    digest: str = sha.hexdigest()
    return digest


class EarlyDigest:
    """A big file's SHA-256, computed in a thread of its own from the moment the file is named.

    The hash runs while the engine loads, the first chunk is typed and the file
    is parsed, in the cycles the pass leaves idle: where the system allows it,
    the thread runs under ``SCHED_IDLE`` (Linux), so it never takes a core from
    the parse's threads; it takes one whenever the pass waits. When the pass
    asks for the digest (:meth:`result`) before the thread is done, the pass
    goes on from the thread's last block (each block leaves a copy of the hash
    so far) at its own priority, so a busy machine, which leaves an idle thread
    no cycle, never holds the digest back.

    The digest belongs to the bytes the pass read only if the file did not change
    between the two reads: :meth:`result` gives it only when the file's identity
    (:func:`identity`) when this object was made (before the pass opens the
    file), when the hash opened it, after the hash and when the pass ended agree.
    """

    #: bytes hashed between two copies of the hash so far (about 0.7 ms of CPU)
    STEP = 1 << 20
    #: how long :meth:`result` waits for the thread to end its block (a starved one is not waited for)
    WAIT = 0.01
    #: how long :meth:`cancel` waits for the thread, woken to the caller's priority, to end its block and close
    #: the file (about 1 ms of work; a machine too busy to give it that leaves it to end on its own)
    CANCEL_WAIT = 2.0

    def __init__(self, path: Path, block: int = STEP) -> None:
        self.path = path
        #: :meth:`result` found the file changed (or unreadable): the next pass hashes what it reads
        self.spoiled = False
        self._found: tuple[str, tuple[int, ...]] | None = None
        #: the thread's digest of the whole file, once it is done
        self._whole: str | None = None
        #: a copy of the thread's hash after its last block, and the bytes it covers
        self._progress: tuple[Any, int] | None = None
        self._taken = False
        self._stop = threading.Event()
        try:
            start: tuple[int, ...] | None = identity(path)
        except OSError:
            start = None
        self._start = start
        self._thread = threading.Thread(target=self._run, args=(block, start), name="datamonitor-hash", daemon=True)
        self._thread.start()

    def _run(self, block: int, start: tuple[int, ...] | None) -> None:
        background()
        try:
            fh, st = open_regular(self.path)
            with fh:
                if _identity(st) != start:  # not the file the pass was given
                    return
                digest = _sha256(fh, block, self._stop, note=self._note)
            if digest is not None and identity(self.path) == start:
                self._whole = digest
        except OSError:  # the pass meets the same error and names it
            pass

    def _note(self, sha: Any, done: int) -> None:
        """Keep what :meth:`result` goes on from if it does not wait for this thread (a copy: the thread goes on)."""
        self._progress = sha.copy(), done

    def cancel(self) -> None:
        """The digest is not wanted (the pass failed, or it is done): stop reading, and close the file before
        returning. Woken again while it runs: it may have lowered itself just after the last wake."""
        self._stop.set()
        deadline = time.monotonic() + self.CANCEL_WAIT
        while self._thread.is_alive() and time.monotonic() < deadline:
            self._halt()
            self._thread.join(0.02)

    def _halt(self) -> None:
        """Tell the thread to stop after its block, and give it back the caller's priority to get there: under
        ``SCHED_IDLE`` a busy machine would leave it, its buffer and its open file waiting for an idle core."""
        self._stop.set()
        tid = self._thread.native_id
        if tid is not None and self._thread.is_alive():  # an ended thread's id may be another's
            wake(tid)

    def result(self) -> str | None:
        """The file's SHA-256; None (and :attr:`spoiled`) when the file changed since it was hashed."""
        if not self._taken:
            self._taken = True
            self._halt()  # the thread stops after its block: the rest is hashed here, at the caller's priority
            self._thread.join(self.WAIT)
            whole, progress = self._whole, self._progress
            if whole is not None and self._start is not None:
                self._found = whole, self._start
            elif self._start is not None:
                self._finish(*(progress or (hashlib.sha256(), 0)))
        try:
            now: tuple[int, ...] | None = identity(self.path)
        except OSError:
            now = None
        if self._found is None or now != self._found[1]:
            self.spoiled = True
            return None
        return self._found[0]

    def _finish(self, sha: Any, done: int) -> None:
        """Hash the rest of the file, from byte ``done``, in this thread."""
        try:
            fh, st = open_regular(self.path)
            with fh:
                if _identity(st) != self._start:
                    return
                fh.seek(done)
                digest = _sha256(fh, BLOCK, sha=sha)
            if digest is not None and identity(self.path) == self._start:
                self._found = digest, self._start
        except OSError:
            pass


def background() -> bool:
    """Run the calling thread only on cycles no other thread wants, where allowed; True if it now does.

    Linux ``SCHED_IDLE`` when this process may undo it (:func:`wake`: root, or ``CAP_SYS_NICE``, or an
    ``RLIMIT_NICE`` of 20); otherwise the lowest priority that still runs on a busy machine (nice 19), since an
    unprivileged thread cannot leave ``SCHED_IDLE`` and would then hold its file open until a core is idle. So a
    thread made so never does work that something waits on (:meth:`EarlyDigest.result` goes on from the thread's
    last block instead).
    """
    try:
        if hasattr(os, "SCHED_IDLE") and _may_raise_priority():
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))  # pid 0: the calling thread
        else:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)  # Linux: a thread's own nice value
    except (OSError, AttributeError):  # a system that refuses it or has neither: the thread keeps its priority
        return False
    return True


def wake(tid: int) -> None:
    """Give a thread made :func:`background` the normal policy back (``SCHED_OTHER``), where allowed."""
    try:
        if os.sched_getscheduler(tid) == os.SCHED_IDLE:
            os.sched_setscheduler(tid, os.SCHED_OTHER, os.sched_param(0))
    except (OSError, AttributeError):  # gone already, or not allowed: it ends its block when it can
        pass


def _may_raise_priority() -> bool:
    """Whether this process may put a thread back from ``SCHED_IDLE`` to ``SCHED_OTHER`` at nice 0 (sched(7))."""
    try:
        import resource

        return os.geteuid() == 0 or resource.getrlimit(resource.RLIMIT_NICE)[0] >= 20
    except (ImportError, AttributeError, OSError, ValueError):
        return False


class RawInput:
    """Iterate a file's decompressed bytes in blocks; ``digest`` holds its SHA-256 once iterated to the end.

    :param known_digest: the caller already hashed this file; it is not hashed again.
    :param hashed: False: the bytes are not hashed (the caller hashes the file itself, or wants no digest).
    """

    def __init__(self, path: Path, compression: str | None, *, known_digest: str | None = None, hashed: bool = True,
                 progress: Callable[[int], None] | None = None, block: int = BLOCK) -> None:
        self.path, self.compression, self.block = path, compression, block
        self.hashed = hashed and not known_digest
        self.digest = known_digest or ""
        self.progress = progress

    def _raw(self) -> Iterator[bytes]:
        sha = hashlib.sha256() if self.hashed else None
        done = 0
        try:
            with self.path.open("rb") as fh:
                while True:
                    data = fh.read(self.block)
                    if not data:
                        break
                    if sha is not None:
                        sha.update(data)
                    done += len(data)
                    if self.progress:
                        self.progress(done)
                    yield data
        except OSError as exc:
            raise SourceError(f"vanished or unreadable while measured: {exc.strerror or exc}", path=self.path) from None
        if sha is not None:
            self.digest = sha.hexdigest()

    def blocks(self) -> Generator[bytes, None, None]:
        """The decompressed bytes, block by block."""
        kind = self.compression
        if kind is None:
            yield from self._raw()
        elif kind == "gzip":
            yield from self._inflate()
        elif kind == "zstd":
            yield from self._zstd()
        elif kind == "bz2":
            yield from self._bz2()
        elif kind == "zip":
            yield from self._zip()
        else:
            raise SourceError(f"unknown compression {kind}", path=self.path)

    def _inflate(self) -> Iterator[bytes]:
        yield from self._members(lambda: zlib.decompressobj(31), zlib.error, "gzip")

    def _members(self, new: Callable[[], Any], error: type[BaseException] | tuple[type[BaseException], ...],
                 name: str) -> Iterator[bytes]:
        """Decompress member after member (gzip and bz2 allow several); a member cut short is an error."""
        d, fed = new(), False
        try:
            for data in self._raw():
                while data:
                    fed = True
                    out = d.decompress(data)
                    if out:
                        yield out
                    if d.eof:
                        data = d.unused_data
                        d, fed = new(), False
                        if not data.strip(b"\x00"):  # padding after the last member
                            data = b""
                    else:
                        data = b""
        except error as exc:
            raise SourceError(f"corrupt {name}: {exc}", path=self.path) from None
        if fed and not d.eof:
            raise SourceError(f"truncated {name}: the stream ends before its end marker", path=self.path)

    def _zstd(self) -> Iterator[bytes]:
        import zstandard

        d = zstandard.ZstdDecompressor().decompressobj()
        try:
            for data in self._raw():
                out = d.decompress(data)
                if out:
                    yield out
        except zstandard.ZstdError as exc:
            raise SourceError(f"corrupt zstd: {exc}", path=self.path) from None
        if not getattr(d, "eof", True):
            raise SourceError("truncated zstd: the stream ends before its end marker", path=self.path)

    def _bz2(self) -> Iterator[bytes]:
        yield from self._members(bz2.BZ2Decompressor, (OSError, EOFError, ValueError), "bz2")

    def _zip(self) -> Iterator[bytes]:
        if self.hashed:  # the archive is read by member, so its hash is a read of its own
            self.digest = file_digest(self.path, self.block)
        try:
            with zipfile.ZipFile(self.path) as zf:
                members = [m for m in zf.infolist() if not m.is_dir()]
                if len(members) != 1:
                    names = ", ".join(m.filename for m in members[:5])
                    raise SourceError(f"a zip archive must hold exactly one data file; it holds "
                                      f"{len(members)} ({names})", path=self.path)
                with zf.open(members[0]) as fh:
                    yield from iter(lambda: fh.read(self.block), b"")
        except (OSError, EOFError, zipfile.BadZipFile, zlib.error, lzma.LZMAError, NotImplementedError,
                RuntimeError) as exc:  # corrupt data of each method, a method zipfile lacks, an encrypted member
            raise SourceError(f"cannot read the zip archive: {exc}", path=self.path) from None


def close(*iterators: Iterator[Any]) -> None:
    """Close generators (and the threads of :func:`prefetch`), in order; other iterators are left as they are."""
    for it in iterators:
        stop = getattr(it, "close", None)
        if stop is not None:
            stop()


def prefetch(items: Iterator[Any], depth: int = 1) -> Iterator[Any]:
    """Run ``items`` in a helper thread, ``depth`` ahead, so that reading overlaps with parsing."""
    q: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def run() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put(("item", item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(("end", None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            q.put(("error", exc))

    thread = threading.Thread(target=run, name="datamonitor-read", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = q.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        while thread.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                thread.join(0.05)


class Drain:
    """Read the rest of the blocks in a thread of their own (the file's digest is computed as they are read)."""

    def __init__(self, blocks: Iterator[bytes]) -> None:
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(blocks,), name="datamonitor-digest", daemon=True)
        self._thread.start()

    def _run(self, blocks: Iterator[bytes]) -> None:
        try:
            for _block in blocks:
                if self._stop.is_set():
                    return
        except BaseException as exc:  # noqa: BLE001 - raised in the reader's thread by finish()
            self._error = exc

    def finish(self, *, wanted: bool = True) -> None:
        """Wait for the last block; ``wanted=False``: the pass failed, stop reading."""
        if not wanted:
            self._stop.set()
        self._thread.join()
        if self._error is not None and wanted:
            raise self._error
