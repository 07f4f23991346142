"""The command line: parse, call the library, print. Nothing else lives here.

``main(argv=None) -> int`` runs it; :mod:`.parser` declares the commands and their
options (the options every command takes are declared once, as a parent parser);
:mod:`.commands_data` holds the commands that measure (file, disk, watch, udp, run,
show, test), :mod:`.commands_store` those that read, write and ship the store
(info, setup, export, report, send, get, search, ship, status, kpis, completion);
:mod:`.output` prints. Exit codes come from one table, :data:`datamonitor.errors.EXIT_CODES`
(0 success; 1 an operation failed; 2 bad usage, input or config; 3 documents were not
delivered and wait in the store; 4 some were rejected for good; 5 a runtime failure
of this machine; 130 interrupted).
"""

from __future__ import annotations

from .main import main
from .parser import build_parser

__all__ = ["build_parser", "main"]
