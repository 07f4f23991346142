"""The options more than one command takes, declared once: the common bundle every command takes (a parent
parser), ``--duration``, and the argument types they share."""

from __future__ import annotations

import argparse

__all__ = ["LEVELS", "common", "port", "stop_after"]

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
#: the common options' values when given neither before nor after the command's name
COMMON_DEFAULTS = {"json": False, "verbose": 0, "es": None, "home": None, "store": None, "config": None,
                   "quiet": False, "log_level": None}


def common() -> argparse.ArgumentParser:
    """Options every command takes, before or after its name (a parent of the main parser and of each command's)."""
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("common options")
    sup = argparse.SUPPRESS
    g.add_argument("--es", metavar="URL", default=sup, help="Elasticsearch URL(s), comma-separated (env DATAMONITOR_ES_URL)")
    g.add_argument("--home", metavar="DIR", default=sup, help="where the store and run files live (env DATAMONITOR_HOME)")
    g.add_argument("--store", metavar="FILE", default=sup, help="the SQLite store file (default <home>/datamonitor.db)")
    g.add_argument("--config", metavar="FILE", default=sup,
                   help="config file: TOML, or YAML when named .yaml/.yml (env DATAMONITOR_CONFIG)")
    g.add_argument("--json", action="store_true", default=sup, help="machine-readable output: JSON, NDJSON for documents")
    g.add_argument("-v", "--verbose", action="count", default=sup, help="more logging on stderr (-vv for debug)")
    g.add_argument("-q", "--quiet", action="store_true", default=sup, help="errors only on stderr: no warnings, "
                                                                             "progress or per-step lines")
    g.add_argument("--log-level", type=str.upper, choices=LEVELS, default=sup, metavar="LEVEL",
                   help="logging level on stderr: debug, info, warning (default), error")
    return p


def stop_after(p: argparse.ArgumentParser) -> None:
    """``--duration T``: the commands that run until stopped (run, watch, udp) also stop after T."""
    from ..cliutil import duration

    p.add_argument("--duration", type=duration, metavar="T", help="stop after T (seconds, or 30s, 5m, 1h)")


def port(text: str) -> int:
    """An argparse type: a UDP or TCP port, 0 to 65535."""
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"{number} is not in 0-65535")
    return number
