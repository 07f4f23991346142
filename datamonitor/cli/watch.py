"""``datamonitor watch``: two commands under one name. ``watch DIR...`` watches in the foreground;
``watch start DIR...``, ``watch stop`` and ``watch status`` run that in the background (:mod:`datamonitor.daemon`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

from ..cliutil import duration
from ..errors import EXIT_FAIL, EXIT_OK, PayloadError
from ..monitor import DataMonitor
from ..monitors import WatchMonitor
from .options import stop_after
from .output import print_json

__all__ = ["READY", "register"]

#: the line the foreground watcher writes once it watches; 'watch start' waits for it in the log
READY = "datamonitor: watching"
_BACKGROUND = ("start", "stop", "status")


def register(add: Any) -> None:
    p = add("watch", "watch folders: each finished data file becomes KPIs, until SIGINT/SIGTERM "
                     "(or in the background: watch start|stop|status)", cmd_watch)
    p.add_argument("dirs", nargs="+", metavar="DIR",
                   help="folders to watch; 'start DIR...', 'stop' and 'status' run it in the background")
    p.add_argument("--run-dir", metavar="DIR", help="pid and log files of 'watch start' (default <home>/run)")
    p.add_argument("-r", "--recursive", action="store_true", help="watch sub-folders too")
    p.add_argument("--settle", type=duration, default=0.5, metavar="T",
                   help="a file must keep its size and time this long before it is measured (default 0.5s)")
    p.add_argument("--ignore", action="append", metavar="PATTERN",
                   help="names to skip (repeatable; default *.tmp*, *.part, *.crdownload and dotfiles)")
    stop_after(p)


def cmd_watch(dm: DataMonitor, args: argparse.Namespace, out: TextIO) -> int:
    """``watch start|stop|status`` in the background, else ``watch DIR...`` here."""
    if args.dirs[0] in _BACKGROUND:
        action = {"start": _start, "stop": _stop, "status": _status}[args.dirs[0]]
        run_dir = Path(args.run_dir) if args.run_dir else dm.config.home / "run"
        return action(dm, args, run_dir, out)
    return _watch(dm, args, out)


def _watch(dm: DataMonitor, args: argparse.Namespace, out: TextIO) -> int:
    import signal
    import threading

    from .commands_data import log_each_file

    model = WatchMonitor(dirs=tuple(args.dirs), recursive=args.recursive, settle=args.settle,
                         ignore=tuple(args.ignore) if args.ignore else None)
    try:
        watcher = model.build(dm)
    except NotADirectoryError as exc:
        raise PayloadError(str(exc)) from None
    log_each_file(args)
    done = threading.Event()
    previous = {sig: signal.signal(sig, lambda _s, _f: done.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    watcher.start()
    sys.stderr.write(f"{READY} {', '.join(str(d) for d in watcher.dirs)}\n")
    sys.stderr.flush()
    try:
        done.wait(args.duration)
    finally:
        watcher.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if args.json:
        print_json({"processed": watcher.processed, "failed": watcher.failed}, out)
    else:
        out.write(f"measured {watcher.processed} file(s)" + (f", {watcher.failed} failed" if watcher.failed else "")
                  + "\n")
    return EXIT_OK


def _status(dm: DataMonitor, args: argparse.Namespace, run_dir: Path, out: TextIO) -> int:
    from .. import daemon

    state, pid = daemon.status(run_dir, "watch")
    shown = {"running": f"running (pid {pid})", "stopped": "not running",
             "stale": f"not running; stale pid file ({pid}) in {run_dir}"}[state]
    if args.json:
        print_json({"state": state, "pid": pid}, out)
    else:
        out.write(f"watch: {shown}\n")
    return EXIT_OK if state == "running" else EXIT_FAIL


def _stop(dm: DataMonitor, args: argparse.Namespace, run_dir: Path, out: TextIO) -> int:
    from .. import daemon

    out.write(f"watch: {daemon.stop(run_dir, 'watch')}\n")
    return EXIT_OK


def _start(dm: DataMonitor, args: argparse.Namespace, run_dir: Path, out: TextIO) -> int:
    """``watch DIR...`` again in a background process, with this one's store, config and options."""
    from .. import daemon

    dirs = args.dirs[1:]
    if not dirs:
        raise PayloadError("watch start needs at least one DIR")
    child = ["--home", str(dm.config.home), "--store", str(dm.config.store_file)]
    if dm.config.source:
        child += ["--config", str(dm.config.source)]
    if args.es:
        child += ["--es", args.es]
    child += ["watch", *[str(Path(d).resolve()) for d in dirs], "--settle", str(args.settle)]
    if args.recursive:
        child.append("--recursive")
    for pattern in args.ignore or []:
        child += ["--ignore", pattern]
    pid = daemon.start(run_dir, "watch", child, ready=READY)
    out.write(f"watch: started (pid {pid}); log {run_dir / 'watch.log'}\n")
    return EXIT_OK
