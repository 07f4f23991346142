"""Many datagrams per system call: Linux's ``recvmmsg(2)`` through ctypes (the standard library has no binding).

Why: the receiving thread gives up the GIL for each system call. While another thread
holds it (the store writing a flush), a thread that receives one datagram per call gets
the GIL back once per switch interval (5 ms), so one datagram per 5 ms; with
``recvmmsg`` it takes everything that waits, up to :data:`SLOTS` datagrams, per turn.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import socket
import sys
from ctypes import POINTER, Structure, c_char, c_int, c_size_t, c_uint, c_uint32, c_void_p

__all__ = ["BatchReceiver", "batch_receiver"]

MSG_WAITFORONE = 0x10000
SLOTS = 512


class _Iovec(Structure):
    _fields_ = [("iov_base", c_void_p), ("iov_len", c_size_t)]


class _Msghdr(Structure):
    _fields_ = [("msg_name", c_void_p), ("msg_namelen", c_uint32), ("msg_iov", POINTER(_Iovec)),
                ("msg_iovlen", c_size_t), ("msg_control", c_void_p), ("msg_controllen", c_size_t),
                ("msg_flags", c_int)]


class _Mmsghdr(Structure):
    _fields_ = [("msg_hdr", _Msghdr), ("msg_len", c_uint)]


class BatchReceiver:
    """Receives the datagrams waiting on ``sock``, up to ``slots`` of up to ``size`` bytes each per call.

    A longer datagram comes truncated to ``size`` bytes, as ``recv(size)`` gives it. The socket's
    ``SO_RCVTIMEO`` bounds the wait for the first one; then :meth:`receive` raises BlockingIOError.
    """

    def __init__(self, sock: socket.socket, size: int, slots: int = SLOTS) -> None:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        self._call = libc.recvmmsg
        self._call.argtypes = [c_int, POINTER(_Mmsghdr), c_uint, c_int, c_void_p]
        self._call.restype = c_int
        self._fd, self._size, self._slots = sock.fileno(), size, slots
        self._buf = (c_char * (size * slots))()
        base = ctypes.addressof(self._buf)
        self._iov = (_Iovec * slots)()
        self._msgs = (_Mmsghdr * slots)()
        for i in range(slots):
            self._iov[i].iov_base, self._iov[i].iov_len = base + i * size, size
            self._msgs[i].msg_hdr.msg_iov = ctypes.pointer(self._iov[i])
            self._msgs[i].msg_hdr.msg_iovlen = 1
        stride = ctypes.sizeof(_Mmsghdr) // 4
        self._lens = memoryview(self._msgs).cast("B").cast("I")[_Mmsghdr.msg_len.offset // 4::stride]
        self._view = memoryview(self._buf).cast("B")

    def receive(self) -> list[bytes]:
        """The datagrams waiting (at least one); raises BlockingIOError after ``SO_RCVTIMEO`` without any."""
        n = self._call(self._fd, self._msgs, self._slots, MSG_WAITFORONE, None)
        if n < 0:
            code = ctypes.get_errno()
            if code == errno.EINTR:
                return []
            raise OSError(code, os.strerror(code))  # EAGAIN: BlockingIOError
        view, size = self._view, self._size
        return [view[i * size:i * size + length].tobytes() for i, length in enumerate(self._lens[:n].tolist())]


def batch_receiver(sock: socket.socket, size: int) -> BatchReceiver | None:
    """A :class:`BatchReceiver` on Linux; None where ``recvmmsg`` is not to be had."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return BatchReceiver(sock, size)
    except (OSError, AttributeError, TypeError, ValueError):
        return None
