"""The one exception tree of datamonitor, and the exit code of each branch.

Every error the library raises on purpose is a :class:`DataMonitorError`; catch
that to handle them all. Messages carry context (a path, a line, a field, a
document id) and never a secret; where a caller needs a part of the message, the
error carries it as an attribute (``ConfigError.reason``, ``ElasticsearchError.action``),
so nothing branches on the text of a message.

::

    DataMonitorError
    ├── UsageError                 how datamonitor was asked to run is wrong             exit 2
    │   ├── ConfigError            a bad config file, option or environment variable
    │   │   └── UnknownKey         a key a section does not take (with the key meant)
    │   └── NotConfigured          an Elasticsearch call with no cluster configured (also an ElasticsearchError)
    ├── InputError                 what datamonitor was given to read is wrong
    │   ├── PayloadError           a KPI payload that cannot become a document            exit 2
    │   └── SourceError            a data file or input cannot be read (names the path, and line)   exit 1
    ├── StoreError                 the local SQLite store cannot be opened or written      exit 1
    │   └── BacklogFull            a bounded store is full and pauses collection
    ├── ElasticsearchError         anything between us and the cluster                     exit 1
    │   ├── NotConfigured          (above)                                                 exit 2
    │   ├── ClusterUnreachable     connection refused, DNS, TLS or timeout                 exit 3
    │   ├── AuthenticationFailed   401: bad credentials
    │   ├── AuthorizationFailed    403: the user lacks a privilege
    │   └── RequestRejected        any other error answer from the cluster, or one that cannot be used
    └── RuntimeFailure             this machine or a process of ours failed at run time    exit 1
        ├── ResourceUnavailable    the system refused a resource: a port in use, a permission, a full disk   exit 5
        └── DaemonError            a background process would not start, stop, or is already running

The command line turns them into exit codes with :func:`exit_code`, through the one
table :data:`EXIT_CODES` (the most specific class of an error that the table names
wins); the table is also in ``docs/cli.rst``:

====  ==========================================================================
0     success
1     an operation failed (a file could not be measured, the cluster refused a request)
2     bad usage, input or config (argparse, UsageError, PayloadError)
3     documents were not delivered and wait in the store: the cluster is unreachable,
      refused the connection or the credentials, or gave an answer that cannot be used
4     some documents were rejected for good (dead letters)
5     a runtime failure of this machine: a port in use, a permission, a full disk
130   interrupted (Ctrl-C)
====  ==========================================================================
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

__all__ = [
    "EXIT_CODES",
    "EXIT_FAIL",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_REJECTED",
    "EXIT_RUNTIME",
    "EXIT_UNDELIVERED",
    "EXIT_USAGE",
    "AuthenticationFailed",
    "AuthorizationFailed",
    "BacklogFull",
    "ClusterUnreachable",
    "ConfigError",
    "DaemonError",
    "DataMonitorError",
    "ElasticsearchError",
    "InputError",
    "NotConfigured",
    "PayloadError",
    "RequestRejected",
    "ResourceUnavailable",
    "RuntimeFailure",
    "SourceError",
    "StoreError",
    "UnknownKey",
    "UsageError",
    "exit_code",
    "one_line",
]

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_UNDELIVERED, EXIT_REJECTED, EXIT_RUNTIME, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 5, 130


class DataMonitorError(Exception):
    """Base of every error datamonitor raises on purpose."""

    @property
    def lines(self) -> list[str]:
        """The message as the command line prints it: one line each."""
        return str(self).splitlines() or [""]


# ------------------------------------------------------------------ usage

class UsageError(DataMonitorError):
    """How datamonitor was asked to run is wrong: an option, the config, a missing cluster."""


class ConfigError(UsageError, ValueError):
    """A config file, option or environment variable is wrong; the message names it.

    :param reason: the message without its place (``must be positive, not 0``), for a caller that names
        the place its own way (an argparse option, a section of the file).
    :param key: the key of a table the reason is about, when the message does not name it yet.
    :param problems: several problems found at once (``test config``, ``run``): one line each.
    """

    def __init__(self, message: str = "", *, reason: str | None = None, key: str | None = None,
                 problems: Iterable[str] = ()) -> None:
        self.problems = tuple(problems)
        super().__init__(message or "\n".join(self.problems))
        self.reason = reason if reason is not None else str(self)
        self.key = key

    @classmethod
    def at(cls, where: str, reason: str) -> ConfigError:
        """``<where>: <reason>``, with the reason kept apart."""
        return cls(f"{where}: {reason}", reason=reason)

    @property
    def lines(self) -> list[str]:
        return list(self.problems) if self.problems else super().lines


class UnknownKey(ConfigError):
    """A key that a section of the config does not take; ``suggestion`` is the known key closest to it."""

    def __init__(self, message: str, *, key: str, known: Iterable[str], suggestion: str | None = None) -> None:
        super().__init__(message, key=key)
        self.known, self.suggestion = tuple(known), suggestion


# ------------------------------------------------------------------ input

class InputError(DataMonitorError):
    """What datamonitor was given to read is wrong: a payload, a data file."""


class PayloadError(InputError, ValueError):
    """A KPI payload cannot become a document; the message names the field."""


class SourceError(InputError):
    """A data file or other input cannot be read; the message names the path (and the line).

    Raised about one file, it carries it: ``path`` is the file and ``reason`` the message without it, so a
    caller that names the file itself (the watcher's log line) or wraps the error never parses the text.
    """

    def __init__(self, reason: str, *, path: str | os.PathLike[str] | None = None) -> None:
        super().__init__(reason if path is None else f"{shown(path)}: {reason}")
        self.reason, self.path = reason, path

    def __reduce__(self) -> tuple[Any, ...]:  # the keyword survives a pickle (the file engine's process)
        return (_source_error, (type(self), self.reason, self.path))


def _source_error(cls: type[SourceError], reason: str, path: str | os.PathLike[str] | None) -> SourceError:
    return cls(reason, path=path)


def shown(path: str | os.PathLike[str]) -> str:
    """A path as an error or log line names it: one with a newline or another control character quoted and escaped,
    so that the line stays one line and cannot forge another."""
    text = os.fsdecode(path)
    return text if text.isprintable() else repr(text)


# ------------------------------------------------------------------ store

class StoreError(DataMonitorError):
    """The local store cannot be opened, read or written."""


class BacklogFull(StoreError):
    """The store holds ``max_size`` bytes of undelivered documents and pauses: nothing of the batch was stored."""


# ---------------------------------------------------------------- cluster

class ElasticsearchError(DataMonitorError):
    """Base of the errors that come from talking to Elasticsearch.

    :param action: what was being done (``search``, ``bulk``); the message is then ``<action>: <reason>``.
    """

    def __init__(self, reason: str = "", *, action: str | None = None) -> None:
        super().__init__(f"{action}: {reason}" if action else reason)
        self.reason, self.action = reason, action


class NotConfigured(ElasticsearchError, UsageError):
    """An Elasticsearch operation was asked for, but no cluster is configured."""


class ClusterUnreachable(ElasticsearchError):
    """The cluster cannot be reached (refused, DNS, TLS, timeout); documents wait in the store."""


class AuthenticationFailed(ElasticsearchError):
    """The cluster rejected the credentials (HTTP 401)."""


class AuthorizationFailed(ElasticsearchError):
    """The credentials lack a privilege for the request (HTTP 403)."""


class RequestRejected(ElasticsearchError):
    """The cluster answered a request with an error other than 401/403."""


# ---------------------------------------------------------------- runtime

class RuntimeFailure(DataMonitorError):
    """This machine, or a process of ours, failed at run time."""


class ResourceUnavailable(RuntimeFailure):
    """The operating system refused something a command needs: a port in use, a permission, a full disk."""


class DaemonError(RuntimeFailure):
    """A background process (``watch start``) would not start or stop, or already runs."""


#: The command line's exit code of each branch; an error takes the entry of the first class of its MRO listed here.
EXIT_CODES: dict[type[BaseException], int] = {
    KeyboardInterrupt: EXIT_INTERRUPTED,
    NotConfigured: EXIT_USAGE,
    UsageError: EXIT_USAGE,
    PayloadError: EXIT_USAGE,
    ClusterUnreachable: EXIT_UNDELIVERED,
    ResourceUnavailable: EXIT_RUNTIME,
    OSError: EXIT_RUNTIME,
    DataMonitorError: EXIT_FAIL,
}


def one_line(exc: BaseException, limit: int = 300) -> str:
    """An engine's error as one line: its type and the first line of its message, cut at ``limit`` characters."""
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first[:limit]}" if first else type(exc).__name__


def exit_code(exc: BaseException) -> int:
    """The command line's exit code for an error (:data:`EXIT_CODES`); 1 for anything it does not name."""
    return next((EXIT_CODES[cls] for cls in type(exc).__mro__ if cls in EXIT_CODES), EXIT_FAIL)
