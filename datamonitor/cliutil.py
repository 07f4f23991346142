"""Helpers of the command line that are not commands: argument types, suggestions, table cells, completion."""

from __future__ import annotations

import argparse
import difflib
import re
from collections.abc import Iterable

from .errors import ConfigError
from .validation import parse_duration

__all__ = ["completion_script", "duration", "suggest", "suggest_in_error", "truncate"]


def duration(text: str) -> float:
    """An argparse type: seconds, or a text with a unit (``30s``, ``5m``, ``1h``, ``7d``); never 0."""
    try:
        return parse_duration(text, "duration")
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(exc.reason) from None


def suggest(word: str, known: Iterable[str]) -> str | None:
    """The known word closest to a mistyped one, or None when none is close."""
    close = difflib.get_close_matches(word, sorted(set(known)), n=1, cutoff=0.6)
    return close[0] if close else None


def _all_options(parser: argparse.ArgumentParser) -> tuple[set[str], set[str]]:
    """Every option string and every command name of the parser and its commands."""
    options: set[str] = set()
    commands: set[str] = set()
    for action in parser._actions:
        options.update(s for s in action.option_strings if s.startswith("--"))
        if isinstance(action, argparse._SubParsersAction):
            commands.update(action.choices)
            for sub in action.choices.values():
                options.update(_all_options(sub)[0])
    return options, commands


def suggest_in_error(parser: argparse.ArgumentParser, message: str) -> str:
    """argparse's message, with "did you mean ...?" for a mistyped option or command."""
    options, commands = _all_options(parser)
    if message.startswith("unrecognized arguments:"):
        hints = []
        for word in message.split(":", 1)[1].split():
            if word.startswith("--"):
                close = suggest(word.split("=", 1)[0], options)
                if close:
                    hints.append(f"{word}: did you mean {close}?")
        return message + ("; " + "; ".join(hints) if hints else "")
    found = re.search(r"argument COMMAND: invalid choice: '([^']*)'", message)
    if found:
        close = suggest(found.group(1), commands)
        if close:
            return f"unknown command '{found.group(1)}': did you mean {close}? (see datamonitor --help)"
    return message


def truncate(text: str, width: int = 40) -> str:
    """A table cell at most ``width`` characters long; the full value stays in ``--json``."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def completion_script(parser: argparse.ArgumentParser, shell: str) -> str:
    """The bash or zsh completion script for the parser, as shtab writes it from the parser itself."""
    import shtab

    return str(shtab.complete(parser, shell=shell))
