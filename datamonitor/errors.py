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
    └── ElasticsearchError     anything between us and the cluster
        ├── NotConfigured      an Elasticsearch call with no cluster configured
        ├── ClusterUnreachable connection refused, DNS, TLS or timeout
        ├── AuthenticationFailed   401: bad credentials
        ├── AuthorizationFailed    403: the user lacks a privilege
        └── RequestRejected    any other error answer from the cluster
"""

from __future__ import annotations

__all__ = [
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
    "SourceError",
    "StoreError",
]


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
