"""The one exception tree of datamonitor.

Every error the library raises on purpose is a :class:`DataMonitorError`; catch
that to handle them all. Messages carry context (a path, a line, a field, a
document id) and never a secret.

::

    DataMonitorError
    ├── ConfigError            a bad config file, option or environment variable
    ├── PayloadError           a KPI payload that cannot become a document
    ├── StoreError             the local SQLite store cannot be opened or written
    │   └── BacklogFull        a bounded store is full and pauses collection
    ├── SourceError            a data file or input cannot be read (names the path, and line)
    ├── ResourceUnavailable    the system refused a resource: a port in use, a permission, a full disk
    └── ElasticsearchError     anything between us and the cluster
        ├── NotConfigured      an Elasticsearch call with no cluster configured
        ├── ClusterUnreachable connection refused, DNS, TLS or timeout
        ├── AuthenticationFailed   401: bad credentials
        ├── AuthorizationFailed    403: the user lacks a privilege
        └── RequestRejected    any other error answer from the cluster, or one that cannot be used

The command line turns them into exit codes with :func:`exit_code`; the table
is in ``docs/cli.rst``:

====  ==========================================================================
0     success
1     an operation failed (a file could not be measured, the cluster refused a request)
2     bad usage, input or config (argparse, ConfigError, PayloadError, NotConfigured)
3     documents were not delivered and wait in the store: the cluster is unreachable,
      refused the connection or the credentials, or gave an answer that cannot be used
4     some documents were rejected for good (dead letters)
5     a runtime failure of this machine: a port in use, a permission, a full disk
130   interrupted (Ctrl-C)
====  ==========================================================================
"""

from __future__ import annotations

__all__ = [
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
    "DataMonitorError",
    "ElasticsearchError",
    "NotConfigured",
    "PayloadError",
    "RequestRejected",
    "ResourceUnavailable",
    "SourceError",
    "StoreError",
    "exit_code",
]

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_UNDELIVERED, EXIT_REJECTED, EXIT_RUNTIME, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 5, 130


class DataMonitorError(Exception):
    """Base of every error datamonitor raises on purpose."""


class ConfigError(DataMonitorError, ValueError):
    """A config file, option or environment variable is wrong; the message names it."""


class PayloadError(DataMonitorError, ValueError):
    """A KPI payload cannot become a document; the message names the field."""


class StoreError(DataMonitorError):
    """The local store cannot be opened, read or written."""


class BacklogFull(StoreError):
    """The store holds ``max_size`` bytes of undelivered documents and pauses: nothing of the batch was stored."""


class SourceError(DataMonitorError):
    """A data file or other input cannot be read; the message names the path (and the line)."""


class ResourceUnavailable(DataMonitorError):
    """The operating system refused something a command needs: a port in use, a permission, a full disk."""


class ElasticsearchError(DataMonitorError):
    """Base of the errors that come from talking to Elasticsearch."""


class NotConfigured(ElasticsearchError):
    """An Elasticsearch operation was asked for, but no cluster is configured."""


class ClusterUnreachable(ElasticsearchError):
    """The cluster cannot be reached (refused, DNS, TLS, timeout); documents wait in the store."""


class AuthenticationFailed(ElasticsearchError):
    """The cluster rejected the credentials (HTTP 401)."""


class AuthorizationFailed(ElasticsearchError):
    """The credentials lack a privilege for the request (HTTP 403)."""


class RequestRejected(ElasticsearchError):
    """The cluster answered a request with an error other than 401/403."""


def exit_code(exc: BaseException) -> int:
    """The command line's exit code for an error (the table in this module's docstring)."""
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(exc, (ConfigError, PayloadError, NotConfigured)):
        return EXIT_USAGE
    if isinstance(exc, ClusterUnreachable):
        return EXIT_UNDELIVERED
    if isinstance(exc, (ResourceUnavailable, OSError)):
        return EXIT_RUNTIME
    return EXIT_FAIL
