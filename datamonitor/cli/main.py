"""``main()``: parse, set up logging, run the command, and turn an error into one line and its exit code."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from ..config import load_config
from ..errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, DataMonitorError, exit_code
from ..monitor import DataMonitor
from ..notify import LogNotifier
from .output import ship_exit
from .parser import parse

__all__ = ["main"]


def _setup_logging(args: argparse.Namespace) -> None:
    if args.log_level is not None:
        level = getattr(logging, args.log_level)
    elif args.quiet:
        level = logging.ERROR
    else:
        level = logging.WARNING if args.verbose <= 0 else logging.INFO if args.verbose == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("datamonitor: %(levelname)s: %(message)s"))
    root = logging.getLogger("datamonitor")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    # the client's own warnings ("node failed, putting on timeout") repeat what our one line says: only with -v
    transport = logging.getLogger("elastic_transport")
    transport.handlers[:] = [handler] if level <= logging.INFO else [logging.NullHandler()]
    transport.setLevel(level)
    transport.propagate = False


def _saved_logging() -> Callable[[], None]:
    """Undo what _setup_logging does, for main(argv) called in a process that goes on (tests, scripts)."""
    names = ("datamonitor", "datamonitor.sources.watch")
    saved = [(lg, lg.handlers[:], lg.level, lg.propagate) for lg in map(logging.getLogger, names)]

    def restore() -> None:
        for lg, handlers, level, propagate in saved:
            lg.handlers[:], lg.propagate = handlers, propagate
            lg.setLevel(level)

    return restore


def _interrupted(exc: BaseException) -> bool:
    """Ctrl-C as a library re-raises it: an error caused by a KeyboardInterrupt."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(seen, KeyboardInterrupt):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _run(dm: DataMonitor, args: argparse.Namespace) -> int:
    """The command; every command that ships says so the same way: one line, and 3 while documents wait."""
    dm.notifiers = [LogNotifier()]  # anomalies found as records are stored: one WARNING line each
    code = int(args.func(dm, args, sys.stdout))
    if not args.ships and dm.last_ship is not None:
        shipped = ship_exit(dm.last_ship)
        code = shipped if shipped != EXIT_OK else code
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser, args = parse(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return EXIT_USAGE
    if args.quiet and (args.verbose or args.log_level):
        parser.error("-q goes with neither -v nor --log-level")
    restore_logging = _saved_logging()
    _setup_logging(args)
    dm = None
    try:
        dm = DataMonitor(load_config(args.config, home=args.home, es_url=args.es, store_path=args.store))
        return _run(dm, args)
    except KeyboardInterrupt:
        sys.stderr.write("datamonitor: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
    except DataMonitorError as exc:  # a config error may name several problems, one a line
        sys.stderr.write("".join(f"datamonitor: {line}\n" for line in exc.lines))
        return exit_code(exc)
    except OSError as exc:  # a file to write, a directory to create: the system said no
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        sys.stderr.write(f"datamonitor: {where}{exc.strerror or exc}\n")
        return exit_code(exc)
    except Exception as exc:
        if not _interrupted(exc):
            raise
        sys.stderr.write("datamonitor: interrupted\n")
        return EXIT_INTERRUPTED
    finally:
        if dm is not None:
            dm.close()
        restore_logging()
