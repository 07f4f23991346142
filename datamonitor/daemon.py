"""Running a command in the background with a pid file and log files: ``watch start|stop|status``.

The child is a new session (``datamonitor watch ...``), detached from the
terminal, with stdout and stderr appended to ``<run dir>/<name>.log``. The pid
file is written only once the child runs. A pid file whose process is gone, or
whose pid now belongs to another program, is stale: ``status`` says so and
``start`` replaces it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from .errors import DaemonError

__all__ = ["start", "status", "stop"]


def _pid_file(run_dir: Path, name: str) -> Path:
    return run_dir / f"{name}.pid"


def _read_from(path: Path, offset: int) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(offset)
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    """True when ``pid`` runs and is a datamonitor process (not a reused pid, not a zombie)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        # a zombie waits for a parent that may never reap it (the child was orphaned on purpose)
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
            return False
    except (OSError, IndexError):
        pass
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists():
        try:
            return b"datamonitor" in cmdline.read_bytes()
        except OSError:
            return True
    return True


def status(run_dir: Path, name: str) -> tuple[str, int | None]:
    """``("running", pid)``, ``("stopped", None)`` or ``("stale", pid)`` for a pid file without its process."""
    path = _pid_file(run_dir, name)
    try:
        pid = int(path.read_text().strip())
    except FileNotFoundError:
        return "stopped", None
    except (OSError, ValueError):
        return "stale", None
    if not 0 < pid < 1 << 31:  # no process has it (os.kill would overflow)
        return "stale", None
    return ("running", pid) if _alive(pid) else ("stale", pid)


def start(run_dir: Path, name: str, args: list[str], env: dict[str, str] | None = None, *,
          ready: str | None = None, timeout: float = 20.0) -> int:
    """Start ``python -m datamonitor <args>`` in the background; returns its pid.

    With ``ready``, wait until the child writes that text to its log (it is up) or dies
    (an error); without it, the child counts as up once it has lived half a second.
    """
    state, pid = status(run_dir, name)
    if state == "running":
        raise DaemonError(f"{name} is already running (pid {pid}); 'stop' it first")
    run_dir.mkdir(parents=True, exist_ok=True)
    log_path = run_dir / f"{name}.log"
    offset = log_path.stat().st_size if log_path.exists() else 0
    # a short-lived launcher starts the daemon in its own session and exits: the daemon is then nobody's child
    launcher = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", _LAUNCHER, str(log_path), sys.executable, "-m", "datamonitor", *args],
        capture_output=True, text=True, env=env, check=False)
    if launcher.returncode != 0 or not launcher.stdout.strip().isdigit():
        raise DaemonError(f"{name} could not be started: {launcher.stderr.strip()[-300:]}")
    pid = int(launcher.stdout.strip())
    deadline = time.monotonic() + (timeout if ready else 0.5)
    while True:
        if not _alive(pid):
            raise DaemonError(f"{name} exited at once; see {log_path}")
        if ready and ready in _read_from(log_path, offset):
            break
        if time.monotonic() >= deadline:
            if ready:
                _abandon(pid)
                raise DaemonError(f"{name} (pid {pid}) did not report ready within {timeout:g} s and was stopped; "
                                  f"see {log_path}")
            break
        time.sleep(0.05)
    tmp = _pid_file(run_dir, name).with_suffix(".pid.tmp")
    try:
        tmp.write_text(f"{pid}\n")
        tmp.replace(_pid_file(run_dir, name))
    except OSError as exc:  # a process no pid file names could never be stopped: it is not left running
        _abandon(pid)
        if tmp.is_file():
            tmp.unlink()
        raise DaemonError(f"{name} was stopped: its pid file cannot be written: {exc}") from None
    return pid


def _abandon(pid: int) -> None:
    """Stop a background process this start could not hand over (SIGTERM: it stores what it measured)."""
    try:
        os.kill(pid, signal.SIGTERM)
    except OSError:
        pass


_LAUNCHER = """
import subprocess, sys
with open(sys.argv[1], "ab") as log:
    child = subprocess.Popen(sys.argv[2:], stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
print(child.pid)
"""


def stop(run_dir: Path, name: str, timeout: float = 30.0) -> str:
    """SIGTERM the background process and wait for it; returns what was done."""
    state, pid = status(run_dir, name)
    path = _pid_file(run_dir, name)
    if state == "stopped":
        return "not running"
    if state == "stale" or pid is None:
        path.unlink(missing_ok=True)
        return "removed a stale pid file"
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            path.unlink(missing_ok=True)
            return f"stopped (pid {pid})"
        time.sleep(0.1)
    raise DaemonError(f"{name} (pid {pid}) did not stop within {timeout:g} s")
