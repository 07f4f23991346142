"""Small JSON state kept in the store beside the documents: schemas, the watcher's files, threshold states.

Each kind of state has its :class:`Namespace` (a key prefix in the store's
``meta`` table). :class:`StoredState` reads and writes one namespace at once;
:class:`PendingState` holds changes back so that the commit that stores the
records they belong to saves them too (``Store.put(..., state=...)``): a batch
the store refuses keeps neither, and the work is done again next time.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from enum import Enum
from typing import Any, Protocol

__all__ = ["KeyValueStore", "Namespace", "PendingState", "StateChanges", "StoredState"]

#: state to save with a batch of documents: full keys (namespace included) -> JSON values
StateChanges = Mapping[str, Any]


class Namespace(str, Enum):
    """Where each kind of state lives: the prefix of its keys."""

    ROOT = ""  # the whole table: for a writer that adds its own prefixes (baseline.SchemaHistory)
    SCHEMA = "schema:"  # a dataset's baseline schema (baseline.SchemaHistory adds this prefix itself)
    WATCHER = "state:"  # the SHA-256 of each file the directory watcher measured
    THRESHOLD = "threshold:"  # whether each threshold is in alert, across restarts

    def key(self, name: str) -> str:
        """The full key of ``name`` in this namespace."""
        return self.value + name


class KeyValueStore(Protocol):
    """What keeps the state: :class:`~datamonitor.store.Store` (``get_meta``/``set_meta``)."""

    def get_meta(self, key: str) -> Any: ...

    def set_meta(self, key: str, value: Any) -> None: ...


class StoredState:
    """One namespace of the store's state, read and written at once (each write its own transaction)."""

    def __init__(self, store: KeyValueStore, namespace: Namespace) -> None:
        self._store, self._namespace = store, namespace

    def get(self, key: str) -> Any:
        return self._store.get_meta(self._namespace.key(key))

    def set(self, key: str, value: Any) -> None:
        self._store.set_meta(self._namespace.key(key), value)


class PendingState:
    """State in the store, with the changes not yet committed laid over it.

    ``set`` only remembers; :meth:`take` hands the changes to the commit that
    stores the records they belong to, so state and records are saved together.
    Until :meth:`forget` (after that commit, or its failure) they still answer ``get``.
    Safe to share between threads (the watcher's workers).
    """

    def __init__(self, store: KeyValueStore, namespace: Namespace = Namespace.ROOT) -> None:
        self._store, self._namespace = store, namespace
        self._overlay: dict[str, Any] = {}
        self._new: dict[str, Any] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Any:
        full = self._namespace.key(key)
        with self._lock:
            if full in self._overlay:
                return self._overlay[full]
        return self._store.get_meta(full)

    def set(self, key: str, value: Any) -> None:
        full = self._namespace.key(key)
        with self._lock:
            self._overlay[full] = self._new[full] = value

    def get_meta(self, key: str) -> Any:  # baseline.SchemaHistory reads and writes through these two
        return self.get(key)

    def set_meta(self, key: str, value: Any) -> None:
        self.set(key, value)

    def lay(self, key: str, value: Any) -> dict[str, Any]:
        """Lay one change over the store and return it, for the caller's own commit."""
        full = self._namespace.key(key)
        with self._lock:
            self._overlay[full] = value
        return {full: value}

    def take(self) -> dict[str, Any]:
        """The changes since the last take, as full keys."""
        with self._lock:
            taken, self._new = self._new, {}
        return taken

    def forget(self, taken: StateChanges) -> None:
        """Stop laying these changes over the store: committed, or refused (and to be measured again)."""
        with self._lock:
            for key, value in taken.items():
                if self._overlay.get(key) is value:
                    del self._overlay[key]
