"""The values that cross the store's boundary: document states, keys, failures and what the store returns.

What goes in is :class:`~datamonitor.records.NewDocument` (records make it);
what comes out is typed here, so no positional tuple crosses in either direction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, NamedTuple

__all__ = ["DEAD", "PENDING", "SHIPPED", "STATE_NAMES", "DocKey", "DocState", "Failure", "PutResult", "StoreStats",
           "StoredDocument"]


class DocState(IntEnum):
    """Where a document is on its way to Elasticsearch (stored as this integer)."""

    PENDING = 0
    SHIPPED = 1
    DEAD = 2


PENDING, SHIPPED, DEAD = DocState.PENDING, DocState.SHIPPED, DocState.DEAD
STATE_NAMES = {state: state.name.lower() for state in DocState}


class DocKey(NamedTuple):
    """Which document: its index and id."""

    idx: str  # the index
    doc_id: str


class Failure(NamedTuple):
    """A failed delivery: the document, Elasticsearch's reason, and whether it is dead (never retried)."""

    idx: str  # the index
    doc_id: str
    reason: str
    dead: bool


@dataclass(frozen=True)
class StoredDocument:
    """A document as the store holds it."""

    seq: int
    doc_id: str
    index: str
    body: str
    state: DocState
    attempts: int
    last_error: str | None
    created: float
    shipped: float | None

    @property
    def source(self) -> dict[str, Any]:
        """The document itself, parsed."""
        result: dict[str, Any] = json.loads(self.body)
        return result

    @property
    def state_name(self) -> str:
        return STATE_NAMES[self.state]

    def as_get_response(self) -> dict[str, Any]:
        """The shape Elasticsearch's get API answers with, so callers need not care where it came from."""
        return {"_index": self.index, "_id": self.doc_id, "_version": 1, "found": True, "_source": self.source}


@dataclass(frozen=True)
class PutResult:
    """What :meth:`Store.put` did: documents new, already there, and undelivered ones dropped to make room."""

    added: int
    duplicates: int
    dropped: int = 0


@dataclass(frozen=True)
class StoreStats:
    """Sizes and counts for ``status``."""

    path: str
    size_bytes: int
    total: int
    pending: int
    shipped: int
    dead: int
    oldest_pending: float | None
    last_shipment: float | None
    backlog_bytes: int = 0
    max_size: int | None = None
    when_full: str = "pause"
    dropped: int = 0
    refused: int = 0
