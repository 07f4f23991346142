"""Building the Elasticsearch client from settings, and turning its errors into ours.

The client class is looked up on the ``elasticsearch`` module at call time, so
ElasticMock's ``patch('elasticsearch.Elasticsearch', ...)`` stands in for it
in tests. Secrets go to the client and nowhere else: error messages name the
host, never the credentials.
"""

from __future__ import annotations

import dataclasses
import errno
import logging
import os
from collections.abc import Mapping
from typing import Any

import elasticsearch
from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout, SerializationError, TlsError, TransportError
from urllib3.exceptions import NewConnectionError

from .config import EsSettings, hosts_fields
from .errors import (
    AuthenticationFailed,
    AuthorizationFailed,
    ClusterUnreachable,
    ConfigError,
    ElasticsearchError,
    NotConfigured,
    RequestRejected,
)

__all__ = ["build_client", "connect_settings", "describe_hosts", "is_refused", "response_body", "translate_error"]

log = logging.getLogger(__name__)
#: the errnos of a connection that could not be made at all
_NO_CONNECTION = frozenset((errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH))


def response_body(resp: Any) -> Any:
    """The parsed body of a client response (ElasticMock's fake returns it bare)."""
    return getattr(resp, "body", resp)


def describe_hosts(settings: EsSettings) -> str:
    """The hosts, comma-separated, as they may be shown (they never hold credentials)."""
    return ", ".join(settings.hosts) or "(no cluster)"


def connect_settings(es: EsSettings, hosts: object, options: Mapping[str, Any]) -> EsSettings:
    """The settings ``DataMonitor.es_connect(hosts, **options)`` connects with, over the configured ``es``.

    Credentials given here replace the other kind configured elsewhere; missing
    secrets come from ``DATAMONITOR_ES_PASSWORD`` and ``DATAMONITOR_ES_API_KEY``.
    """
    changes: dict[str, Any] = {}
    options = dict(options)
    if hosts is not None:
        changes.update(hosts_fields(hosts))
    if "basic_auth" in options:
        auth = options.pop("basic_auth")
        if not (isinstance(auth, (tuple, list)) and len(auth) == 2):
            raise ConfigError("basic_auth must be a (username, password) pair")
        changes["username"], changes["password"] = auth
    unknown = set(options) - {f.name for f in dataclasses.fields(EsSettings)}
    if unknown:
        raise ConfigError(f"es_connect: unknown option(s) {', '.join(sorted(unknown))}")
    changes.update(options)
    if "api_key" in changes and "username" not in changes:
        changes.update(username=None, password=None)
    elif "username" in changes and "api_key" not in changes:
        changes["api_key"] = None
    es = dataclasses.replace(es, **changes)
    if es.username and not es.password and os.environ.get("DATAMONITOR_ES_PASSWORD"):
        es = dataclasses.replace(es, password=os.environ["DATAMONITOR_ES_PASSWORD"])
    if not es.api_key and not es.username and os.environ.get("DATAMONITOR_ES_API_KEY"):
        es = dataclasses.replace(es, api_key=os.environ["DATAMONITOR_ES_API_KEY"])
    if not es.configured:
        es = dataclasses.replace(es, hosts=("http://localhost:9200",))
    return es


def build_client(settings: EsSettings) -> Any:
    """An ``Elasticsearch`` client for the settings; nothing is sent until it is used.

    The client does not retry on its own: the shipper's loop owns the retries
    (:mod:`datamonitor.shipping`), so ``max_retries`` means what it says. The
    client only moves on to another host when one cannot be reached, at most
    once per other host.
    """
    if not settings.configured:
        raise NotConfigured("no Elasticsearch configured: give --es URL, DATAMONITOR_ES_URL or [elasticsearch] url")
    kwargs: dict[str, Any] = {
        "request_timeout": settings.request_timeout,
        "retry_on_timeout": False,
        "retry_on_status": (),
        "max_retries": max(0, len(settings.hosts) - 1),
    }
    if settings.api_key:
        kwargs["api_key"] = settings.api_key
    elif settings.username:
        kwargs["basic_auth"] = (settings.username, settings.password or "")
    if any(h.startswith("https:") for h in settings.hosts):
        kwargs["verify_certs"] = settings.verify_certs
        if settings.ca_certs:
            kwargs["ca_certs"] = settings.ca_certs
        if settings.client_cert:
            kwargs["client_cert"] = settings.client_cert
        if settings.client_key:
            kwargs["client_key"] = settings.client_key
        if not settings.verify_certs:
            log.warning(
                "TLS certificate verification is OFF for %s: anyone on the path can read and change the traffic",
                describe_hosts(settings),
            )
    return elasticsearch.Elasticsearch(list(settings.hosts), **kwargs)


def _reason(exc: elasticsearch.ApiError) -> str:
    body = exc.body
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            root = (err.get("root_cause") or [err])[0]
            return f"{root.get('type', 'error')}: {root.get('reason', '')}".strip(": ")
        if isinstance(err, str):
            return err
    return str(exc.message)


def is_refused(exc: BaseException) -> bool:
    """True when no connection could be made at all (refused, no route, unknown host): known at once, not retried.

    Decided by type, never by the message. elastic-transport's nodes wrap what failed: the urllib3
    node (``elastic_transport/_node/_http_urllib3.py``, ``perform_request``) raises
    ``ConnectionError(str(e), errors=(e,))`` ``from e`` where ``e`` is urllib3's ``NewConnectionError``
    ("failed to establish a new connection": refused, no route; its subclass ``NameResolutionError``
    for an unknown host), itself raised from the socket's ``ConnectionRefusedError``; the requests
    node (``_http_requests.py``) raises ``from None``, which keeps the chain in ``__context__``
    (requests' ``ConnectionError`` ← urllib3's ``MaxRetryError`` ← ``NewConnectionError``); older
    releases raised inside the ``except``, with ``errors=(e,)``. So this walks ``errors``,
    ``__cause__`` and ``__context__`` for a ``NewConnectionError`` or an ``OSError`` whose errno says
    the connection was refused or had no route.
    """
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        node = todo.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, (NewConnectionError, ConnectionRefusedError)) or (
                isinstance(node, OSError) and node.errno in _NO_CONNECTION):
            return True
        todo.extend(e for e in getattr(node, "errors", ()) if isinstance(e, BaseException))
        todo.extend(e for e in (node.__cause__, node.__context__) if e is not None)
    return False


def translate_error(exc: BaseException, settings: EsSettings, action: str) -> ElasticsearchError:
    """Our error for a client exception, with the action and the hosts, and no secret."""
    hosts = describe_hosts(settings)
    if isinstance(exc, ElasticsearchError):
        return exc
    if isinstance(exc, elasticsearch.AuthenticationException):
        return AuthenticationFailed(f"Elasticsearch at {hosts} rejected the credentials (401)", action=action)
    if isinstance(exc, elasticsearch.AuthorizationException):
        return AuthorizationFailed(f"not allowed on {hosts} (403): {_reason(exc)}", action=action)
    if isinstance(exc, elasticsearch.ApiError):
        return RequestRejected(f"Elasticsearch at {hosts} answered {exc.status_code}: {_reason(exc)}", action=action)
    if isinstance(exc, TlsError):
        return ClusterUnreachable(f"TLS handshake with {hosts} failed: {type(exc).__name__}", action=action)
    if isinstance(exc, ConnectionTimeout):
        return ClusterUnreachable(f"Elasticsearch at {hosts} timed out", action=action)
    if is_refused(exc):
        return ClusterUnreachable(f"cannot reach Elasticsearch at {hosts}: connection refused", action=action)
    if isinstance(exc, (TransportConnectionError, ConnectionError, OSError)):
        return ClusterUnreachable(f"cannot reach Elasticsearch at {hosts}", action=action)
    if isinstance(exc, SerializationError):
        return RequestRejected(f"cannot encode the request: {exc}", action=action)
    if isinstance(exc, TransportError):
        return ClusterUnreachable(f"transport error talking to {hosts}: {type(exc).__name__}", action=action)
    return ElasticsearchError(f"{type(exc).__name__}", action=action)


#: The client errors that :func:`translate_error` knows; catch these around client calls.
CLIENT_ERRORS = (elasticsearch.ApiError, TransportError, ConnectionError, OSError)
