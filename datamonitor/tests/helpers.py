"""Helpers shared by the tests: a real HTTP server on loopback, and a CLI process stopped with SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


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


def cli_until_sigterm(args: Sequence[str], home: Path, *, start_wait: float = 1.5,
                      during: Callable[[], None] | None = None, after_wait: float = 0.0,
                      timeout: float = 20.0) -> tuple[int, str, str]:
    """Run ``python -m datamonitor ARGS`` with its own home, act while it runs, SIGTERM it; exit code, stdout, stderr."""
    env = {**os.environ, "DATAMONITOR_HOME": str(home)}
    proc = subprocess.Popen([sys.executable, "-m", "datamonitor", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        time.sleep(start_wait)
        if during is not None:
            during()
        time.sleep(after_wait)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, out, err
