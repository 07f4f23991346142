"""Helpers shared by the tests: waiting on a condition, free ports, a CLI process that says when it is ready.

A test never sleeps and then asserts: it waits until the condition it asserts holds (``wait_until``), or until
the process under test says it is ready (``running_cli``'s ``ready`` line), with a generous timeout that only
a failure reaches.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal, TypeVar

T = TypeVar("T")

#: how long a wait lasts before it fails; only a broken or hung test reaches it, so it is generous (2 shared cores)
TIMEOUT = 30.0


def _failure(what: str, timeout: float, last: object) -> AssertionError:
    return AssertionError(f"waited {timeout:g} s for {what or 'the condition'}; last seen: {last!r}")


def wait_until(condition: Callable[[], T], *, timeout: float = TIMEOUT, what: str = "",
               every: float = 0.02) -> T:
    """Call ``condition`` until it returns something true, and return that; fail naming ``what`` after ``timeout``.

    An exception from ``condition`` ends the wait at once (a process that died, say).
    """
    deadline = time.monotonic() + timeout
    while True:
        last = condition()
        if last:
            return last
        if time.monotonic() > deadline:
            raise _failure(what, timeout, last)
        time.sleep(every)


async def wait_until_async(condition: Callable[[], T], *, timeout: float = TIMEOUT, what: str = "",
                           every: float = 0.01) -> T:
    """``wait_until`` inside an event loop: the loop goes on serving while the test waits."""
    deadline = time.monotonic() + timeout
    while True:
        last = condition()
        if last:
            return last
        if time.monotonic() > deadline:
            raise _failure(what, timeout, last)
        await asyncio.sleep(every)


def free_port(kind: Literal["udp", "tcp"] = "udp") -> int:
    """A port on 127.0.0.1 that nothing listens on now (the kernel's choice, released at once)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def udp_bound(port: int) -> bool:
    """True once this process has a UDP socket bound to ``port`` (a listener started in a thread is up)."""
    import psutil

    me = psutil.Process()
    connections = me.net_connections if hasattr(me, "net_connections") else me.connections  # psutil < 6
    return any(c.laddr and c.laddr[1] == port for c in connections(kind="udp"))


@contextmanager
def loopback_http(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve ``handler`` on 127.0.0.1 at a free port; yields the base URL and stops the server after."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class RunningCli:
    """``python -m datamonitor`` running: its output read as it comes, so a test can wait on a line."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self._out: list[str] = []
        self._err: list[str] = []
        self._readers = [threading.Thread(target=self._read, args=(stream, lines), daemon=True)
                         for stream, lines in ((proc.stdout, self._out), (proc.stderr, self._err))]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream: object, lines: list[str]) -> None:
        for line in stream:  # type: ignore[attr-defined]  # a text pipe: ends when the process closes it
            lines.append(line)

    @property
    def err(self) -> str:
        return "".join(self._err)

    @property
    def out(self) -> str:
        return "".join(self._out)

    def wait_for(self, condition: Callable[[], T], what: str, timeout: float = TIMEOUT) -> T:
        """``wait_until`` that fails at once, with the process's stderr, if the process exits meanwhile."""
        def check() -> T:
            result = condition()
            if not result and self.proc.poll() is not None:
                raise AssertionError(f"the command exited ({self.proc.returncode}) before {what}: {self.err}")
            return result

        return wait_until(check, timeout=timeout, what=what)

    def wait_for_line(self, text: str, count: int = 1, timeout: float = TIMEOUT) -> None:
        """Wait until ``count`` lines of stderr hold ``text`` (a readiness line, or one line per file measured)."""
        self.wait_for(lambda: sum(text in line for line in list(self._err)) >= count,
                      f"{count} stderr line(s) with {text!r}", timeout)

    def stop(self, timeout: float = TIMEOUT) -> tuple[int, str, str]:
        """SIGTERM, as a service manager stops it; the exit code, stdout and stderr."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout)
        return code, self.out, self.err


@contextmanager
def running_cli(args: Sequence[str], home: Path, *, ready: str | None = None) -> Iterator[RunningCli]:
    """Start ``python -m datamonitor ARGS`` with its own home; with ``ready``, wait for that line on stderr first.

    The process is stopped with SIGTERM by ``RunningCli.stop``, or killed here if the test failed before.
    """
    env = {**os.environ, "DATAMONITOR_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "datamonitor", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    running = RunningCli(proc)
    try:
        if ready is not None:
            running.wait_for_line(ready)
        yield running
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for reader in running._readers:
            reader.join(TIMEOUT)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def stored(home: Path, name: str) -> int:
    """How many documents named ``name`` the store in ``home`` holds now (0 before it exists); read while a
    CLI process writes to it, as ``datamonitor status`` would."""
    from datamonitor.store import Store

    path = home / "datamonitor.db"
    if not path.exists():
        return 0
    with Store(path) as store:
        return store.count(name=name)


class MemoryMeta:
    """A key-value state kept in memory (``get_meta``/``set_meta``, as the store has), for Baselines alone."""

    def __init__(self) -> None:
        self.state: dict[str, Any] = {}

    def get_meta(self, key: str) -> Any:
        return self.state.get(key)

    def set_meta(self, key: str, value: Any) -> None:
        self.state[key] = value


def memory_meta() -> MemoryMeta:
    return MemoryMeta()
