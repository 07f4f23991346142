"""Reading documents back, from the local store or from the cluster, in the shape Elasticsearch answers with."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .config import EsSettings
from .connection import CLIENT_ERRORS, response_body, translate_error
from .records import Field
from .store import Store

__all__ = ["cluster_get", "cluster_query", "cluster_search", "local_get", "local_search"]


def local_get(store: Store, settings: EsSettings, index: str, docid: str) -> dict[str, Any]:
    """``es_get`` without a cluster: the store answers; the configured prefix as ``index`` means any index."""
    stored = store.get(docid, None if index == settings.index_prefix else index)
    if stored is None:
        return {"_index": index, "_id": docid, "found": False}
    return stored.as_get_response()


def cluster_get(client: Any, store: Store, settings: EsSettings, index: str, docid: str) -> dict[str, Any]:
    """``es_get`` from the cluster; with the configured prefix as ``index``, the dated index is found from the store."""
    import elasticsearch

    if index == settings.index_prefix and settings.index_period != "none":
        stored = store.get(docid)
        if stored is not None:
            index = stored.index
    try:
        resp = client.get(index=index, id=docid)
    except elasticsearch.NotFoundError as exc:
        body = exc.body if isinstance(exc.body, dict) else {}
        if "found" in body:
            return dict(body)
        return {"_index": index, "_id": docid, "found": False}
    except CLIENT_ERRORS as exc:
        raise translate_error(exc, settings, "get") from None
    return dict(response_body(resp))


def local_search(store: Store, *, name: str | None, since: str | None, limit: int, file: str | None,
                 dataset: str | None, subject: str | None) -> list[dict[str, Any]]:
    """The newest documents in the store, as search hits (``_index``, ``_id``, ``_source``)."""
    docs = store.search(name=name, since=since, limit=limit, fields={"file": file, "dataset": dataset,
                                                                    "subject": subject})
    return [{"_index": d.index, "_id": d.doc_id, "_source": d.source} for d in docs]


def cluster_query(index: str, *, name: str | None, since: str | None, limit: int, file: str | None = None,
                  dataset: str | None = None, subject: str | None = None) -> dict[str, Any]:
    """The search body for the same filters: ``term`` for a plain value, ``wildcard`` for a shell pattern."""
    from elasticsearch.dsl import Q, Search

    def match(field: str, pattern: str) -> Any:
        return Q("wildcard", **{field: {"value": pattern}}) if any(c in pattern for c in "*?") \
            else Q("term", **{field: pattern})

    search = Search(index=index).sort("-" + Field.TIMESTAMP)[:limit]
    for field, pattern in ((Field.NAME, name), (Field.DATASET, dataset), (Field.SUBJECT, subject)):
        if pattern is not None:
            search = search.filter(match(field, pattern))
    if file is not None:
        # a bool of should clauses alone needs one of them to match (minimum_should_match defaults to 1)
        search = search.filter(Q("bool", should=[match(Field.FILE_PATH, file), match(Field.FILE_NAME, file)]))
    if since is not None:
        search = search.filter("range", **{Field.TIMESTAMP: {"gte": since}})
    body: dict[str, Any] = search.to_dict()
    return body


def cluster_search(call: Callable[[str, Callable[[Any], Any]], Any], index: str, *, name: str | None,
                   since: str | None, limit: int, file: str | None = None, dataset: str | None = None,
                   subject: str | None = None) -> list[dict[str, Any]]:
    """The newest documents in the cluster's ``index`` pattern, as search hits; ``call`` runs the request."""
    body = cluster_query(index, name=name, since=since, limit=limit, file=file, dataset=dataset, subject=subject)
    resp = call("search", lambda es: es.search(index=index, body=body, ignore_unavailable=True))
    return [{"_index": h["_index"], "_id": h["_id"], "_source": h["_source"]} for h in resp["hits"]["hits"]]
