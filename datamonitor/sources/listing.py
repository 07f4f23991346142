"""Watched folders listed: their regular files, and which of them changed since the watcher handled them.

The directory watcher lists its folders at start-up (the catch-up) and again every
few seconds, to find the files whose events were lost (an overflowed inotify
queue, a network filesystem). A folder of 100,000 files must cost little to list
again, so the listing uses ``os.scandir`` (the file type comes with the name),
one compiled pattern for the ignored names and plain strings for paths, and a
file's signature (device, inode, size, modification and change times) tells
whether it changed without reading it. ``utime`` can set the modification time
back, not the change time, so a rewrite that keeps size and modification time
(``cp -p``, ``touch -r``) still shows.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator

__all__ = ["Known", "Signature", "ignore_matcher", "regular_files", "signature"]

#: device, inode, size, modification time and change time (ns) of a file
Signature = tuple[int, int, int, int, int]

#: a folder that vanishes or cannot be read while it is listed is left out of that listing, not the whole of it
_SKIPPED = (errno.ENOENT, errno.ENOTDIR, errno.EACCES, errno.EPERM, errno.ELOOP)


def signature(st: os.stat_result) -> Signature:
    """What tells a file changed without reading it (see the module's docstring)."""
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def ignore_matcher(patterns: Iterable[str]) -> Callable[[str], bool]:
    """Whether a file name matches one of the shell patterns (``fnmatch``'s rules), as one compiled regex."""
    parts = [fnmatch.translate(p) for p in patterns]
    if not parts:
        return lambda _name: False
    match = re.compile("|".join(f"(?:{p})" for p in parts)).match
    return lambda name: match(name) is not None


def regular_files(roots: Iterable[str | os.PathLike[str]], *, recursive: bool, ignored: Callable[[str], bool],
                  stop: threading.Event | None = None) -> Iterator[tuple[str, os.stat_result]]:
    """Each regular file in the folders (no symbolic link, no link to a folder followed), whose name is not
    ignored, with its ``lstat``; each path once, in no particular order. A folder that vanishes or cannot be read
    meanwhile is skipped; ``stop`` ends the listing early."""
    seen: set[str] = set()
    folders = [os.fspath(r) for r in roots]
    while folders:
        folder = folders.pop()
        try:
            with os.scandir(folder) as entries:
                for n, entry in enumerate(entries):
                    if stop is not None and not n % 1024 and stop.is_set():
                        return
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            if recursive:
                                folders.append(entry.path)
                            continue
                        if not entry.is_file(follow_symlinks=False) or ignored(entry.name):
                            continue
                        st = entry.stat(follow_symlinks=False)
                    except OSError:  # gone since the folder was read
                        continue
                    if entry.path not in seen:  # nested roots list a file twice
                        seen.add(entry.path)
                        yield entry.path, st
        except OSError as exc:
            if exc.errno not in _SKIPPED:
                raise


class Known:
    """The files the watcher has handled for good, by path, with their signature then. Safe to share between
    threads; reads take no lock (a dict lookup is atomic)."""

    def __init__(self) -> None:
        self._sig: dict[str, Signature] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._sig)

    def remember(self, path: str, sig: Signature) -> None:
        with self._lock:
            self._sig[path] = sig

    def forget(self, path: str) -> None:
        with self._lock:
            self._sig.pop(path, None)

    def fill(self, listing: Iterable[tuple[str, os.stat_result]]) -> None:
        """Take every listed file as handled (a watcher started without its catch-up)."""
        sigs = {path: signature(st) for path, st in listing}
        with self._lock:
            self._sig.update(sigs)

    def changed(self, listing: Iterable[tuple[str, os.stat_result]], busy: set[str]) -> list[str]:
        """The listed files not handled as they are now (new, or changed since), but those in ``busy``; the files
        no longer listed are forgotten."""
        known, fresh, present = self._sig, [], set()
        for path, st in listing:
            present.add(path)
            if path not in busy and known.get(path) != signature(st):
                fresh.append(path)
        with self._lock:
            for gone in [p for p in known if p not in present]:
                del known[gone]
        return fresh
