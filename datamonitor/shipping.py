"""Shipping the outbox to Elasticsearch: bulk ``create`` with retries, then marking the store.

Documents go with ``op_type=create`` and their deterministic ``_id``. A 409
answer therefore means "already delivered" (by an earlier run that died
before it could mark the store) and counts as shipped: nothing is ever
indexed twice. The client's ``streaming_bulk`` chunks and retries 429/502/
503/504 with exponential backoff; connection errors are retried here, with
backoff too. A document rejected for good (a mapping conflict, say) becomes a
dead letter in the store, with the reason, and the rest of its chunk goes on.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import elasticsearch
from elasticsearch import helpers

from .config import EsSettings
from .connection import CLIENT_ERRORS, translate_error
from .errors import AuthenticationFailed, AuthorizationFailed, ElasticsearchError
from .store import PENDING, Store, StoredDocument

__all__ = ["RETRY_STATUS", "Outcome", "ShipResult", "send_documents", "ship"]

log = logging.getLogger(__name__)

#: HTTP statuses that mean "try again later", for a whole request or one document.
RETRY_STATUS = (429, 502, 503, 504)
CREATED, DUPLICATE, RETRY, DEAD = "created", "duplicate", "retry", "dead"


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


def _classify(item: dict[str, Any]) -> Outcome:
    _op, info = next(iter(item.items()))
    status = int(info.get("status", 0) or 0)
    index, doc_id = str(info.get("_index")), str(info.get("_id"))
    if 200 <= status < 300:
        return Outcome(index, doc_id, CREATED)
    if status == 409:
        return Outcome(index, doc_id, DUPLICATE)
    reason = f"{status} {_item_reason(info)}"
    if status in RETRY_STATUS or status >= 500 or status == 0:
        return Outcome(index, doc_id, RETRY, reason)
    return Outcome(index, doc_id, DEAD, reason)


def send_documents(
    client: Any,
    docs: Sequence[StoredDocument],
    settings: EsSettings,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[list[Outcome], ElasticsearchError | None]:
    """Bulk-create ``docs``; returns an outcome per document answered, and the error that stopped it.

    Never raises for the cluster's sake: a caller can always mark what did
    get through before it handles the error.
    """
    remaining = {(d.index, d.doc_id): d for d in docs}
    outcomes: list[Outcome] = []
    attempt = 0
    while remaining:
        actions = (
            {"_op_type": "create", "_index": d.index, "_id": d.doc_id, "_source": d.body} for d in list(remaining.values())
        )
        try:
            for _ok, item in helpers.streaming_bulk(
                client,
                actions,
                chunk_size=settings.chunk_size,
                max_retries=settings.max_retries,
                initial_backoff=settings.initial_backoff,
                max_backoff=settings.max_backoff,
                retry_on_status=RETRY_STATUS,
                raise_on_error=False,
                raise_on_exception=True,
                yield_ok=True,
            ):
                outcome = _classify(item)
                remaining.pop((outcome.index, outcome.doc_id), None)
                outcomes.append(outcome)
        except CLIENT_ERRORS as exc:
            error = translate_error(exc, settings, "bulk")
            retriable = not isinstance(error, (AuthenticationFailed, AuthorizationFailed)) and (
                not isinstance(exc, elasticsearch.ApiError) or exc.status_code in RETRY_STATUS
            )
            if not retriable or attempt >= settings.max_retries:
                return outcomes, error
            delay = min(settings.max_backoff, settings.initial_backoff * 2**attempt) * (0.5 + random.random() / 2)
            attempt += 1
            log.warning("%s; retry %d of %d in %.1fs", error, attempt, settings.max_retries, delay)
            sleep(delay)
    return outcomes, None


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
    goes on with the next batch unless the cluster itself failed.
    """
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
        store.mark_shipped((o.index, o.doc_id) for o in outcomes if o.status in (CREATED, DUPLICATE))
        store.mark_failed(
            (o.index, o.doc_id, o.reason or "", o.status == DEAD) for o in outcomes if o.status in (RETRY, DEAD)
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
            log.warning("shipping stopped: %s", error)
            break
    result.pending = store.count(PENDING)
    return result
