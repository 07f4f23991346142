"""The UDP listener's receiving thread: datagrams taken in batches, counted by their bytes.

The thread takes the waiting datagrams with ``recvmmsg`` (:mod:`datamonitor.sources.mmsg`;
``recv`` where there is none) and only counts each datagram's bytes in a dict (identical
datagrams, such as the same counter increment, collapse into one entry). Every ``BATCH``
datagrams, or when the socket is idle, it hands the batch to the listener to parse. Also
here: the kernel's drop counter for a socket, and its receive-buffer limit.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import time
from collections.abc import Callable

from .mmsg import batch_receiver

__all__ = ["BATCH", "drain", "receive", "rmem_max", "socket_drops"]

log = logging.getLogger(__name__)
#: datagrams received between two parses
BATCH = 2048

#: takes a batch: each distinct datagram and how often it came
Take = Callable[[dict[bytes, int]], None]


def rmem_max() -> int | None:
    """``net.core.rmem_max``: the largest receive buffer the kernel grants; None where it cannot be read."""
    try:
        with open("/proc/sys/net/core/rmem_max") as f:
            return int(f.read())
    except (OSError, ValueError):
        return None


def socket_drops(sock: socket.socket) -> int | None:
    """Datagrams the kernel dropped for this socket since it was opened (its receive buffer was full).

    The ``drops`` column of ``/proc/net/udp`` (or ``udp6``) for the socket's inode; None where there is none.
    """
    try:
        inode = str(os.fstat(sock.fileno()).st_ino)
    except OSError:
        return None
    for path in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(path) as f:
                next(f, None)
                for line in f:
                    fields = line.split()
                    if len(fields) > 12 and fields[9] == inode:
                        return int(fields[12])
        except (OSError, ValueError):
            continue
    return None


def receive(sock: socket.socket, size: int, take: Take, halted: Callable[[], bool]) -> None:
    """Until ``halted()``: count datagrams (at most ``size`` bytes) by their bytes, ``take`` them every
    ``BATCH`` or when the socket times out idle; then :func:`drain` the socket."""
    many = batch_receiver(sock, size)
    receive_: Callable[[], list[bytes]] = many.receive if many is not None else (lambda: [sock.recv(size)])
    while not halted():
        batch: dict[bytes, int] = {}
        pop = batch.pop
        count = 0
        try:
            while count < BATCH:
                datagrams = receive_()
                for data in datagrams:
                    batch[data] = pop(data, 0) + 1  # moved to the end: the dict's order is the last arrival's
                count += len(datagrams)
        except (BlockingIOError, InterruptedError, TimeoutError):
            pass  # idle for the socket's timeout
        except OSError as exc:
            if exc.errno == errno.EBADF:
                break
            log.warning("receiving a datagram failed: %s", exc)
        if batch:
            take(batch)
    drain(sock, size, take)


def drain(sock: socket.socket, size: int, take: Take, limit: float = 2.0) -> None:
    """At stop: ``take`` what already waits in the socket's buffer (for at most ``limit`` seconds)."""
    batch: dict[bytes, int] = {}
    try:
        sock.setblocking(False)
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            for _ in range(BATCH):
                data = sock.recv(size)
                batch[data] = batch.pop(data, 0) + 1
            take(batch)
            batch = {}
    except OSError:
        pass
    if batch:
        take(batch)
