"""The command line's parser: every command, its help and options; the common options are declared once."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from .. import __version__
from ..cliutil import suggest_in_error
from ..errors import EXIT_USAGE
from ..monitor import DataMonitor
from . import commands_data, commands_store
from .options import COMMON_DEFAULTS, common

__all__ = ["Command", "build_parser", "parse"]

Command = Callable[[DataMonitor, argparse.Namespace, TextIO], int]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line and exit 2, as argparse does, with our prefix and a hint
        self.exit(EXIT_USAGE, f"datamonitor: error: {suggest_in_error(self, message)}\n")


def build_parser() -> argparse.ArgumentParser:
    shared = common()
    parser = _Parser(
        prog="datamonitor",
        description="Collect data KPIs, keep them in a local store and ship them to Elasticsearch.",
        parents=[shared],
        epilog="Without --es (or DATAMONITOR_ES_URL), documents stay in the embedded SQLite store.",
    )
    parser.add_argument("-V", "--version", action="version", version=f"datamonitor {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=argparse.ArgumentParser)

    def add(name: str, help_: str, fn: Command, *, ships: bool = False) -> argparse.ArgumentParser:
        """A command: its help, the common options, and its function; ``ships``: it reports its own shipping."""
        p = sub.add_parser(name, help=help_, description=help_.replace("%%", "%"), parents=[shared])
        p.error = parser.error  # type: ignore[method-assign]  # one prefix and exit code for every usage error
        p.set_defaults(func=fn, ships=ships)
        return p

    commands_store.register(add)
    commands_data.register(add)
    commands_store.register_last(add)
    commands_data.register_checks(add)
    commands_store.register_help(add)
    return parser


def parse(argv: Sequence[str] | None) -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    """The parser and the arguments, with the common options' defaults filled in."""
    parser = build_parser()
    args = parser.parse_args(argv)
    for name, default in COMMON_DEFAULTS.items():
        if not hasattr(args, name):
            setattr(args, name, default)
    return parser, args
