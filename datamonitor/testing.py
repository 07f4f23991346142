"""A fake Elasticsearch cluster for your tests: ElasticMock, extended with what it lacks.

datamonitor itself works under ElasticMock's plain ``@elasticmock`` decorator.
This module is for tests that want more: :class:`FakeCluster` subclasses
ElasticMock's ``FakeElasticsearch`` (no HTTP, no server), and
:func:`fake_elasticsearch` patches ``elasticsearch.Elasticsearch`` with it, one
fake per first host, as ElasticMock does. The pytest plugin
(``datamonitor.pytest_plugin``, registered as an entry point) gives the same as
the ``fake_clusters`` fixture. Needs the ``testing`` extra
(``pip install 'datamonitor[testing]'``: ElasticMockNew). :class:`FakeCluster` adds:

- what the client's bulk helpers need: ``options()``, ``transport.serializers``,
  ``_otel`` and a ``.body`` on the bulk response;
- index templates, component templates and ILM policies (put and get);
- wildcard index names in ``search``;
- fault injection: whole-request failures (a status, a timeout, a connection reset,
  or a reset after the cluster has already indexed part of the request),
  per-document rejections, and a log of every accepted ``create`` and of the ids
  in every bulk request;
- optionally, persistence of accepted documents in an append-only file, so a
  subprocess that is SIGKILLed leaves behind what "the cluster" had accepted.
"""

from __future__ import annotations

import errno
import fnmatch
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import elasticsearch
from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig, ObjectApiResponse
from elastic_transport import ConnectionError as TransportConnectionError
from elasticmock.fake_cluster import FakeClusterClient
from elasticmock.fake_elasticsearch import FakeElasticsearch
from elasticmock.fake_indices import FakeIndicesClient
from elasticsearch.serializer import JsonSerializer
from urllib3.connection import HTTPConnection
from urllib3.exceptions import NewConnectionError

try:  # a private module of the client, needed only by its own bulk helpers (streaming_bulk reads client._otel)
    from elasticsearch._otel import OpenTelemetry
except ImportError:  # pragma: no cover - a client without it does not read it either
    OpenTelemetry = None  # type: ignore[assignment,misc]

__all__ = ["FakeCluster", "PartialReset", "api_error", "connection_refused", "fake_elasticsearch"]


def _meta(status: int) -> ApiResponseMeta:
    node = NodeConfig("http", "fake", 9200)
    return ApiResponseMeta(status=status, http_version="1.1", headers=HttpHeaders(), duration=0.0, node=node)


def api_error(status: int, error_type: str = "error", reason: str = "") -> elasticsearch.ApiError:
    """The exception the client raises for an HTTP error answer."""
    body = {"error": {"type": error_type, "reason": reason, "root_cause": [{"type": error_type, "reason": reason}]},
            "status": status}
    cls = {401: elasticsearch.AuthenticationException, 403: elasticsearch.AuthorizationException,
           404: elasticsearch.NotFoundError, 409: elasticsearch.ConflictError,
           400: elasticsearch.BadRequestError}.get(status, elasticsearch.ApiError)
    return cls(message=error_type, meta=_meta(status), body=body)


def connection_refused(host: str = "fake-es", port: int = 9200) -> TransportConnectionError:
    """The error elastic-transport's urllib3 node raises when nothing listens: a ``ConnectionError``
    wrapping urllib3's ``NewConnectionError``, itself raised from the socket's ``ConnectionRefusedError``."""
    refused = ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")
    message = f"Failed to establish a new connection: [Errno {errno.ECONNREFUSED}] Connection refused"
    cause = NewConnectionError(HTTPConnection(host, port), message)
    cause.__cause__ = refused
    err = TransportConnectionError(str(cause), errors=(cause,))
    err.__cause__ = cause
    return err


def _patterns_overlap(a: str, b: str) -> bool:
    """Whether some index name matches both patterns (exact for literals and trailing ``*``; else a sample)."""
    if a.count("*") <= 1 and b.count("*") <= 1 and a.rstrip("*").count("*") == 0 and b.rstrip("*").count("*") == 0:
        ha, hb = a.rstrip("*"), b.rstrip("*")
        if a.endswith("*") and b.endswith("*"):
            return ha.startswith(hb) or hb.startswith(ha)
        if a.endswith("*"):
            return hb.startswith(ha)
        if b.endswith("*"):
            return ha.startswith(hb)
        return a == b
    return fnmatch.fnmatchcase(a.replace("*", "x"), b) or fnmatch.fnmatchcase(b.replace("*", "x"), a)


class _Indices(FakeIndicesClient):
    def put_index_template(self, *, name: str, **body: Any) -> dict[str, Any]:
        self._client.calls.append(("put_index_template", name))
        # Elasticsearch refuses overlapping patterns at one priority (MetadataIndexTemplateService)
        patterns, prio = body.get("index_patterns") or [], body.get("priority") or 0
        for other, tmpl in self._client.index_templates.items():
            if other != name and (tmpl.get("priority") or 0) == prio and any(
                    _patterns_overlap(p, q) for p in patterns for q in tmpl.get("index_patterns", [])):
                raise api_error(400, "illegal_argument_exception",
                                f"index template [{name}] has index patterns {patterns} matching patterns from existing "
                                f"templates [{other}] with patterns ({other} => {tmpl['index_patterns']}) that have the "
                                f"same priority [{prio}], multiple index templates may not match during index creation, "
                                "please use a different priority")
        self._client.index_templates[name] = {k: v for k, v in body.items() if v is not None and k != "meta"} | (
            {"_meta": body["meta"]} if body.get("meta") else {})
        return {"acknowledged": True}

    def get_index_template(self, *, name: str, **_: Any) -> dict[str, Any]:
        if name not in self._client.index_templates:
            raise api_error(404, "resource_not_found_exception", f"index template matching [{name}] not found")
        return {"index_templates": [{"name": name, "index_template": self._client.index_templates[name]}]}


class _Cluster(FakeClusterClient):
    def put_component_template(self, *, name: str, template: Any, meta: Any = None, **_: Any) -> dict[str, Any]:
        self._client.calls.append(("put_component_template", name))
        self._client.component_templates[name] = {"template": template} | ({"_meta": meta} if meta else {})
        return {"acknowledged": True}

    def get_component_template(self, *, name: str, **_: Any) -> dict[str, Any]:
        if name not in self._client.component_templates:
            raise api_error(404, "resource_not_found_exception", f"component template matching [{name}] not found")
        return {"component_templates": [{"name": name, "component_template": self._client.component_templates[name]}]}


class _Ilm:
    def __init__(self, client: FakeCluster) -> None:
        self._client = client

    def put_lifecycle(self, *, name: str, policy: Any, **_: Any) -> dict[str, Any]:
        self._client.calls.append(("put_lifecycle", name))
        self._client.ilm_policies[name] = policy
        return {"acknowledged": True}

    def get_lifecycle(self, *, name: str, **_: Any) -> dict[str, Any]:
        if name not in self._client.ilm_policies:
            raise api_error(404, "resource_not_found_exception", f"Lifecycle policy not found: {name}")
        return {name: {"version": 1, "policy": self._client.ilm_policies[name]}}


@dataclass(frozen=True)
class PartialReset:
    """A bulk fault: the cluster indexes the first ``after`` documents, then the connection is reset."""

    after: int


class FakeCluster(FakeElasticsearch):
    """ElasticMock's fake, completed for bulk helpers, templates and fault injection."""

    def __init__(self, hosts: Any = None, *, persist: str | os.PathLike[str] | None = None, **kwargs: Any) -> None:
        self._ids: set[tuple[str, str]] = set()
        super().__init__(hosts=hosts, **kwargs)
        self.hosts = hosts
        self.init_kwargs = kwargs
        if OpenTelemetry is not None:
            self._otel = OpenTelemetry(enabled=False)
        self.index_templates: dict[str, Any] = {}
        self.component_templates: dict[str, Any] = {}
        self.ilm_policies: dict[str, Any] = {}
        self.calls: list[tuple[str, str]] = []
        #: every (index, id) that a create accepted, in order; a duplicate here is a duplicate in the cluster
        self.accepted: list[tuple[str, str]] = []
        #: faults for the next bulk requests, in order: an int status, an exception to raise, or
        #: ``PartialReset(k)``: index the first k documents of the request, then reset the connection
        self.bulk_faults: list[Any] = []
        #: the document ids of every bulk request, in order (answered or not), while ``log_requests``
        self.requests: list[list[str]] = []
        self.log_requests = True
        #: per-document answers: doc id -> (status, error type, reason), applied every time
        self.reject: dict[str, tuple[int, str, str]] = {}
        #: per-document answers used once: doc id -> list of statuses
        self.reject_once: dict[str, list[int]] = {}
        self.bulk_requests = 0
        #: seconds each bulk request takes after indexing, before it answers: widens the window for a kill
        #: between the cluster's acceptance and the client's mark
        self.bulk_delay = 0.0
        self.unreachable = False
        #: the ``_index`` each answer names, from the index asked for: set it to ``lambda i: f".ds-{i}-000001"`` to
        #: answer as an alias or a data stream does, with the backing index
        self.answer_index: Any = None
        #: fail the test (AssertionError) on a bulk request beyond this many: a guard against endless resending
        self.bulk_limit: int | None = None
        self._persist = Path(persist) if persist else None
        self._lock = threading.Lock()
        if self._persist is not None and self._persist.exists():
            self._replay()

    # ----------------------------------------- O(1) existence (ElasticMock scans a list)
    def exists(self, index: str, id: str, *args: Any, **kwargs: Any) -> bool:  # noqa: A002
        return (index, id) in self._ids

    def index(self, index: str, *args: Any, id: str | None = None, **kwargs: Any) -> Any:  # noqa: A002
        result = super().index(index, *args, id=id, **kwargs)
        self._ids.add((index, result["_id"]))
        return result

    def delete(self, index: str, id: str, *args: Any, **kwargs: Any) -> Any:  # noqa: A002
        result = super().delete(index, id, *args, **kwargs)
        self._ids.discard((index, id))
        return result

    # ---------------------------------------------------- what helpers need
    def options(self, **_: Any) -> FakeCluster:
        return self

    @property
    def transport(self) -> Any:
        return SimpleNamespace(serializers=SimpleNamespace(get_serializer=lambda _mt: JsonSerializer()))

    @property
    def indices(self) -> Any:
        return _Indices(self)

    @property
    def cluster(self) -> Any:
        return _Cluster(self)

    @property
    def ilm(self) -> Any:
        return _Ilm(self)

    def close(self) -> None:
        pass

    def _check_reachable(self) -> None:
        if self.unreachable:
            raise connection_refused()

    def info(self, *args: Any, **kwargs: Any) -> Any:
        self._check_reachable()
        return {"name": "fake-node", "cluster_name": "fake-cluster", "cluster_uuid": "fake",
                "version": {"number": "8.19.0", "build_flavor": "default"}, "tagline": "You Know, for Search"}

    def get(self, index: str, id: str, *args: Any, **kwargs: Any) -> Any:  # noqa: A002
        self._check_reachable()
        return super().get(index, id, *args, **kwargs)

    def search(self, index: Any = None, body: Any = None, **kwargs: Any) -> Any:
        self._check_reachable()
        docs = self._FakeElasticsearch__documents_dict
        names = [index] if isinstance(index, str) else list(index or docs)
        expanded = []
        for name in names:
            for part in str(name).split(","):
                if any(c in part for c in "*?"):
                    expanded.extend(sorted(fnmatch.filter(docs.keys(), part)))
                elif part in docs or not kwargs.get("ignore_unavailable"):
                    expanded.append(part)
        body = dict(body or {})
        size = body.pop("size", kwargs.pop("size", 10))
        kwargs.pop("ignore_unavailable", None)
        if not expanded:
            return {"hits": {"total": {"value": 0, "relation": "eq"}, "hits": []}}
        result = super().search(index=expanded, body=body, size=size, **kwargs)
        return result

    # ------------------------------------------------------------------ bulk
    def bulk(self, body: Any = None, index: Any = None, operations: Any = None, **kwargs: Any) -> Any:
        self._check_reachable()
        with self._lock:
            self.bulk_requests += 1
            if self.bulk_limit is not None and self.bulk_requests > self.bulk_limit:
                raise AssertionError(f"more than {self.bulk_limit} bulk requests: the client resends without end")
            lines = [op.decode() if isinstance(op, bytes) else op for op in (operations or body)]
            parsed = []
            it = iter(lines)
            for header_line in it:
                header = json.loads(header_line) if isinstance(header_line, str) else header_line
                op, meta = next(iter(header.items()))
                source_line = next(it)
                source = json.loads(source_line) if isinstance(source_line, str) else source_line
                parsed.append((op, meta.get("_index") or index, meta["_id"], source))
            if self.log_requests:
                self.requests.append([doc_id for _op, _idx, doc_id, _src in parsed])
            fault = self.bulk_faults.pop(0) if self.bulk_faults else None
            if isinstance(fault, PartialReset):
                for op, idx, doc_id, source in parsed[:fault.after]:
                    self._bulk_item(op, idx, doc_id, source)
                raise TransportConnectionError("Connection reset by peer")
            if isinstance(fault, BaseException):
                raise fault
            if fault is not None:
                raise api_error(int(fault), "fault", f"injected {fault}")
            items = [self._bulk_item(op, idx, doc_id, source) for op, idx, doc_id, source in parsed]
            if self.bulk_delay:  # indexed, answer not yet sent: the window a crash test aims at
                time.sleep(self.bulk_delay)
            errors = any("error" in item[op] for item, (op, *_rest) in zip(items, parsed, strict=True))
            return ObjectApiResponse(body={"errors": errors, "took": 1, "items": items}, meta=_meta(200))

    def _bulk_item(self, op: str, idx: str, doc_id: str, source: dict[str, Any]) -> dict[str, Any]:
        base = {"_index": self.answer_index(idx) if self.answer_index else idx, "_id": doc_id}
        once = self.reject_once.get(doc_id)
        if once:
            status = once.pop(0)
            return {op: base | {"status": status, "error": {"type": "injected", "reason": f"injected {status}"}}}
        if doc_id in self.reject:
            status, etype, reason = self.reject[doc_id]
            return {op: base | {"status": status, "error": {"type": etype, "reason": reason}}}
        if op == "create" and self.exists(idx, doc_id):
            return {op: base | {"status": 409, "error": {
                "type": "version_conflict_engine_exception",
                "reason": f"[{doc_id}]: version conflict, document already exists"}}}
        self.index(index=idx, id=doc_id, document=source)
        self.accepted.append((idx, doc_id))
        if self._persist is not None:
            with self._persist.open("a", encoding="utf-8") as fh:
                # a SIGKILL loses no flushed write (the kernel has it); fsync would only add power-loss safety
                fh.write(json.dumps({"_index": idx, "_id": doc_id, "_source": source}) + "\n")
                fh.flush()
        return {op: base | {"status": 201, "result": "created", "_version": 1}}

    def _replay(self) -> None:
        assert self._persist is not None
        for line in self._persist.read_text(encoding="utf-8").splitlines():
            try:
                doc = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line torn by a kill: that document was never acknowledged
            self.index(index=doc["_index"], id=doc["_id"], document=doc["_source"])
            self.accepted.append((doc["_index"], doc["_id"]))

    # --------------------------------------------------------------- helpers
    def all_documents(self) -> list[dict[str, Any]]:
        """Every stored document, across indices."""
        return [d for docs in self._FakeElasticsearch__documents_dict.values() for d in docs]


@contextmanager
def fake_elasticsearch(cls: type[FakeCluster] | None = None, **kwargs: Any) -> Iterator[dict[str, FakeCluster]]:
    """Patch ``elasticsearch.Elasticsearch`` with :class:`FakeCluster` (or ``cls``), one per first host, as ElasticMock does."""
    clusters: dict[str, FakeCluster] = {}
    make = cls or FakeCluster

    def factory(hosts: Any = None, **client_kwargs: Any) -> FakeCluster:
        key = str(hosts[0] if isinstance(hosts, list) and hosts else hosts)
        if key not in clusters:
            clusters[key] = make(hosts, **kwargs, **client_kwargs)
        return clusters[key]

    with mock.patch("elasticsearch.Elasticsearch", factory):
        yield clusters
