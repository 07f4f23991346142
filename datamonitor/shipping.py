"""Shipping the outbox to Elasticsearch: bulk ``create`` with one retry loop, then marking the store.

Documents go with ``op_type=create`` and their deterministic ``_id``. A 409
answer therefore means "already delivered" (by an earlier run that died
before it could mark the store) and counts as shipped: nothing is ever
indexed twice.

This module owns every retry of a bulk request, and nothing else retries it:
the client is built without status or timeout retries (see
:func:`~datamonitor.connection.build_client`), so ``max_retries = 2`` means at
most three bulk requests per chunk. A whole request answered 429/502/503/504,
a timeout or a reset is tried again with exponential backoff; so is a
document answered 429 or 5xx, alone. A refused connection is not: it is known
at once, and the documents wait in the store. An answer the client cannot use
(not Elasticsearch, or a bulk answer without ``items``) stops the run with one
line naming the endpoint. A document rejected for good (a mapping conflict,
say) becomes a dead letter in the store, with the reason, and the rest of its
chunk goes on.

The client's ``bulk`` call is used directly rather than ``helpers.streaming_bulk``:
that helper retries on its own (so the attempts multiplied), reads
``client._otel`` and ``client.transport`` (which ElasticMock's plain fake lacks),
and raises ``KeyError`` on an answer without ``items``.

Answers are matched to documents by position, as the bulk API defines them
("the result of each operation in the bulk request, in the order they were
submitted": elasticsearch-specification ``specification/_global/bulk/BulkResponse.ts``),
never by ``_index``, which names the backing index when the target is an alias
or a data stream (``BulkResponseItemBase.ts``).

Only one shipper runs per store at a time, across threads and processes: a
thread lock plus an ``fcntl`` lock on ``<store>.ship-lock`` beside the store.
A second shipper waits, then ships only what is still pending.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import elasticsearch

from .config import EsSettings
from .connection import CLIENT_ERRORS, describe_hosts, is_refused, response_body, translate_error
from .errors import AuthenticationFailed, AuthorizationFailed, ClusterUnreachable, ElasticsearchError, RequestRejected
from .store import PENDING, DocKey, Failure, Store, StoredDocument

try:  # POSIX; elsewhere the thread lock alone serialises shippers of one process
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["RETRY_STATUS", "Outcome", "ShipResult", "send_documents", "ship", "ship_lock"]

log = logging.getLogger(__name__)

#: HTTP statuses that mean "try again later", for a whole request or one document.
RETRY_STATUS = (429, 502, 503, 504)
CREATED, DUPLICATE, RETRY, DEAD = "created", "duplicate", "retry", "dead"
#: at most this many bytes of documents in one bulk request (the client's helpers default to 100 MiB)
MAX_CHUNK_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class Outcome:
    """What happened to one document in a bulk request."""

    index: str
    doc_id: str
    status: str
    reason: str | None = None


@dataclass
class ShipResult:
    """Counts of one shipping run, and why it stopped early, if it did."""

    created: int = 0
    duplicates: int = 0
    retry: int = 0
    dead: int = 0
    pending: int = 0
    failures: list[Outcome] = field(default_factory=list)
    error: str | None = None

    @property
    def shipped(self) -> int:
        """How many documents are now known to be in Elasticsearch, new ones and ones already there."""
        return self.created + self.duplicates

    def as_dict(self) -> dict[str, Any]:
        return {
            "shipped": self.shipped,
            "created": self.created,
            "duplicates": self.duplicates,
            "retry": self.retry,
            "dead": self.dead,
            "pending": self.pending,
            "error": self.error,
            "failures": [{"index": f.index, "id": f.doc_id, "status": f.status, "reason": f.reason} for f in self.failures],
        }


def _item_reason(info: dict[str, Any]) -> str:
    err = info.get("error")
    if isinstance(err, dict):
        reason = f"{err.get('type', 'error')}: {err.get('reason', '')}".rstrip(": ")
        cause = err.get("caused_by")
        if isinstance(cause, dict) and cause.get("reason"):
            reason += f" ({cause.get('type', '')}: {cause['reason']})"
        return reason
    return str(err) if err is not None else f"status {info.get('status')}"


def _classify(doc: StoredDocument, item: Any) -> Outcome | None:
    """The outcome of one answered document, or None when the item is not a bulk answer for it."""
    if not isinstance(item, dict) or len(item) != 1:
        return None
    info = next(iter(item.values()))
    if not isinstance(info, dict) or info.get("_id", doc.doc_id) != doc.doc_id:
        return None
    try:
        status = int(info.get("status", 0) or 0)
    except (TypeError, ValueError):
        return None
    if 200 <= status < 300:
        return Outcome(doc.index, doc.doc_id, CREATED)
    if status == 409:
        return Outcome(doc.index, doc.doc_id, DUPLICATE)
    reason = f"{status} {_item_reason(info)}"
    if status in RETRY_STATUS or status >= 500 or status == 0:
        return Outcome(doc.index, doc.doc_id, RETRY, reason)
    return Outcome(doc.index, doc.doc_id, DEAD, reason)


def _chunks(docs: Sequence[StoredDocument], size: int) -> Iterator[list[StoredDocument]]:
    chunk: list[StoredDocument] = []
    nbytes = 0
    for doc in docs:
        if chunk and (len(chunk) >= size or nbytes + len(doc.body) > MAX_CHUNK_BYTES):
            yield chunk
            chunk, nbytes = [], 0
        chunk.append(doc)
        nbytes += len(doc.body)
    if chunk:
        yield chunk


def _unusable(settings: EsSettings, what: str) -> RequestRejected:
    return RequestRejected(f"bulk: the answer of {describe_hosts(settings)} cannot be used ({what}); "
                           "the documents stay pending")


def _request(client: Any, chunk: list[StoredDocument], settings: EsSettings) -> list[Any]:
    """One bulk request; the answer's items, one per document in order. Raises the client's errors, or ours."""
    operations: list[Any] = []
    for doc in chunk:
        operations.append({"create": {"_index": doc.index, "_id": doc.doc_id}})
        operations.append(doc.body)  # already compact JSON: sent as it is stored
    try:
        answer = response_body(client.bulk(operations=operations))
    except elasticsearch.UnsupportedProductError:
        raise _unusable(settings, "it is not Elasticsearch") from None
    except elasticsearch.SerializationError:
        raise _unusable(settings, "not JSON") from None
    items = answer.get("items") if isinstance(answer, dict) else None
    if not isinstance(items, list):
        raise _unusable(settings, "no 'items' in the bulk answer")
    if len(items) != len(chunk):
        raise _unusable(settings, f"{len(items)} items for {len(chunk)} documents")
    return items


def _backoff(settings: EsSettings, attempt: int) -> float:
    """Exponential backoff with jitter: half to all of ``initial * 2**attempt``, capped."""
    return float(min(settings.max_backoff, settings.initial_backoff * 2**attempt) * (0.5 + random.random() / 2))


def _retriable(exc: BaseException, error: ElasticsearchError) -> bool:
    if isinstance(error, (AuthenticationFailed, AuthorizationFailed)) or is_refused(exc):
        return False
    if isinstance(exc, elasticsearch.ApiError):
        return exc.status_code in RETRY_STATUS
    return isinstance(error, ClusterUnreachable)  # a timeout, a reset: the request may go through next time


def send_documents(
    client: Any,
    docs: Sequence[StoredDocument],
    settings: EsSettings,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[list[Outcome], ElasticsearchError | None]:
    """Bulk-create ``docs``; returns an outcome per document answered, and the error that stopped it.

    Each chunk gets at most ``1 + settings.max_retries`` requests: a retry
    re-sends only the documents still unanswered or answered "later". Never
    raises for the cluster's sake: a caller can always mark what did get
    through before it handles the error.
    """
    outcomes: list[Outcome] = []
    for chunk in _chunks(docs, settings.chunk_size):
        todo = chunk
        attempt = 0
        while todo:
            try:
                items = _request(client, todo, settings)
            except RequestRejected as exc:  # an unusable answer: retrying would not make it usable
                return outcomes, exc
            except CLIENT_ERRORS as exc:
                error = translate_error(exc, settings, "bulk")
                if not _retriable(exc, error) or attempt >= settings.max_retries:
                    return outcomes, error
                delay = _backoff(settings, attempt)
                attempt += 1
                log.warning("%s; retry %d of %d in %.1fs", error, attempt, settings.max_retries, delay)
                sleep(delay)
                continue
            later: list[StoredDocument] = []
            for doc, item in zip(todo, items, strict=True):
                outcome = _classify(doc, item)
                if outcome is None:
                    return outcomes, _unusable(settings, f"the answer for document {doc.doc_id} is not for it")
                if outcome.status == RETRY and attempt < settings.max_retries:
                    later.append(doc)
                else:
                    outcomes.append(outcome)
            todo = later
            if todo:
                delay = _backoff(settings, attempt)
                attempt += 1
                log.info("%d document(s) answered 'later'; retry %d of %d in %.1fs",
                         len(todo), attempt, settings.max_retries, delay)
                sleep(delay)
    return outcomes, None


# ------------------------------------------------------------ one shipper at a time

_THREAD_LOCKS: dict[str, threading.Lock] = {}
_THREAD_LOCKS_GUARD = threading.Lock()


def _lock_file(store: Store) -> Path | None:
    path = Path(store.path)
    if str(path) in ("", ":memory:") or not path.parent.is_dir():
        return None
    return path.with_name(path.name + ".ship-lock")


@contextmanager
def ship_lock(store: Store) -> Iterator[None]:
    """Hold the store's shipping lock: one shipper at a time per store, across threads and processes."""
    lock_path = _lock_file(store)
    key = str(lock_path.resolve()) if lock_path is not None else f"id:{id(store)}"
    with _THREAD_LOCKS_GUARD:
        thread_lock = _THREAD_LOCKS.setdefault(key, threading.Lock())
    with thread_lock:
        if lock_path is None or fcntl is None:
            yield
            return
        with open(lock_path, "a+b") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def ship(
    store: Store,
    client: Any,
    settings: EsSettings,
    *,
    retry_dead: bool = False,
    progress: Callable[[int, int], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> ShipResult:
    """Deliver every pending document in the store, oldest first, and mark each one.

    ``progress(done, total)`` is called after each batch. Documents that are
    still retriable after all retries stay pending for the next run; the run
    goes on with the next batch unless the cluster itself failed. Waits while
    another shipper of the same store runs.
    """
    with ship_lock(store):
        return _ship_locked(store, client, settings, retry_dead=retry_dead, progress=progress, sleep=sleep)


def _ship_locked(
    store: Store,
    client: Any,
    settings: EsSettings,
    *,
    retry_dead: bool,
    progress: Callable[[int, int], None] | None,
    sleep: Callable[[float], None],
) -> ShipResult:
    result = ShipResult()
    if retry_dead:
        requeued = store.requeue_dead()
        if requeued:
            log.info("re-queued %d dead document(s)", requeued)
    total = store.count(PENDING)
    done = 0
    last_seq = 0
    batch_size = settings.chunk_size * 4
    while True:
        batch = store.pending(batch_size, after_seq=last_seq)
        if not batch:
            break
        last_seq = batch[-1].seq
        outcomes, error = send_documents(client, batch, settings, sleep=sleep)
        store.mark_shipped(DocKey(o.index, o.doc_id) for o in outcomes if o.status in (CREATED, DUPLICATE))
        store.mark_failed(
            Failure(o.index, o.doc_id, o.reason or "", o.status == DEAD) for o in outcomes if o.status in (RETRY, DEAD)
        )
        for o in outcomes:
            if o.status == CREATED:
                result.created += 1
            elif o.status == DUPLICATE:
                result.duplicates += 1
            else:
                result.failures.append(o)
                if o.status == DEAD:
                    result.dead += 1
                    log.error("document %s in %s rejected for good: %s", o.doc_id, o.index, o.reason)
                else:
                    result.retry += 1
        done += len(outcomes)
        if progress is not None:
            progress(done, total)
        if error is not None:
            result.error = str(error)
            # the caller reports it (the CLI in one line); logged here for the service's log file
            log.info("shipping stopped: %s", error)
            break
    result.pending = store.count(PENDING)
    return result
