"""The local SQLite store: the embedded database and the outbox in front of Elasticsearch.

Every document is committed here first (WAL mode, ``synchronous=FULL``), keyed
by its deterministic id, so a crash loses nothing and a repeat adds nothing.
Shipping marks documents ``shipped`` only after Elasticsearch acknowledged
them; a document it rejects for good becomes ``dead``, with the reason.

The backlog (documents not yet delivered: pending and dead) can be bounded by
``max_size`` bytes of JSON, as Metricbeat bounds its disk queue. When a batch
would not fit, ``when_full`` decides: ``"pause"`` stores nothing and raises
:class:`~datamonitor.errors.BacklogFull` (the caller keeps its input and tries
again after shipping), ``"drop_oldest"`` deletes the oldest undelivered
documents to make room and counts them. Both counters live in the store, so
they survive restarts, and neither case is ever silent.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .config import WHEN_FULL  # the [store] model owns its choices
from .errors import BacklogFull, StoreError
from .records import Field, NewDocument
from .storeschema import migrate
from .storetypes import DEAD, PENDING, SHIPPED, DocKey, DocState, Failure, PutResult, StoredDocument, StoreStats

__all__ = ["DEAD", "PENDING", "SHIPPED", "WHEN_FULL", "DocKey", "DocState", "Failure", "NewDocument", "PutResult",
           "Store", "StoreStats", "StoredDocument"]

log = logging.getLogger(__name__)

#: what a bounded store does when a batch does not fit
# where search(fields=...) looks in a document's JSON
_FIELD_PATHS = {"file": (Field.FILE_PATH, Field.FILE_NAME), "dataset": (Field.DATASET,), "subject": (Field.SUBJECT,)}


def _wal(db: sqlite3.Connection, timeout: float = 30.0) -> None:
    """Switch the store to WAL. The switch does not wait out the busy timeout (two processes opening a new store at
    once: one failed at once with "database is locked"), so a locked database is tried again for ``timeout``
    seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


def _describe(path: Path, exc: sqlite3.Error) -> str:
    text = str(exc)
    code = getattr(exc, "sqlite_errorname", "")
    if "full" in text or code.startswith(("SQLITE_FULL", "SQLITE_IOERR")) or "disk I/O" in text:
        return f"{path}: cannot write the store ({text}): is the disk full? Nothing of this batch was stored"
    return f"{path}: {text}"


_COLUMNS = "seq, doc_id, idx, body, state, attempts, last_error, created, shipped"


class Store:
    """A SQLite file of documents; safe to share between threads of one process.

    :param path: the database file; its folder is created if missing.
    :param max_size: the most bytes of undelivered documents to hold; None for no bound.
    :param when_full: ``"pause"`` or ``"drop_oldest"``, see the module's docstring.
    :param clock: seconds since the epoch, injectable for tests.
    """

    def __init__(self, path: str | Path, *, max_size: int | None = None, when_full: str = "pause",
                 clock: Callable[[], float] = time.time) -> None:
        if when_full not in WHEN_FULL:
            raise StoreError(f"when_full must be one of {', '.join(WHEN_FULL)}, not {when_full!r}")
        if max_size is not None and max_size < 1:
            raise StoreError(f"max_size must be positive, not {max_size}")
        self.path = Path(path)
        self.max_size, self.when_full = max_size, when_full
        self._clock = clock
        self._lock = threading.RLock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), timeout=30.0, isolation_level=None, check_same_thread=False)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"{self.path}: cannot open the store: {exc}") from exc
        try:
            _wal(self._db)
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA busy_timeout=30000")
            self._db.execute("PRAGMA cache_size=-32768")  # 32 MiB: more of a big store's id index in memory
            with self._lock:
                migrate(self._db, self.path)
            self.legacy_ids_until: str | None = self.get_meta("legacy_ids_until")
        except (sqlite3.Error, OSError, StoreError) as exc:
            self._db.close()
            if isinstance(exc, StoreError):
                raise
            raise StoreError(f"{self.path}: cannot open the store: {exc}") from exc

    # -------------------------------------------------------------- plumbing
    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                    self._db.execute("COMMIT")
                except BaseException:
                    # also after a failed COMMIT (a full disk): the next write must start clean
                    if self._db.in_transaction:
                        try:
                            self._db.execute("ROLLBACK")
                        except sqlite3.Error:
                            log.debug("rollback failed", exc_info=True)
                    raise
            except sqlite3.Error as exc:
                raise StoreError(_describe(self.path, exc)) from exc

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: {exc}") from exc

    @staticmethod
    def _row(row: Sequence[Any]) -> StoredDocument:
        seq, doc_id, idx, body, state, attempts, last_error, created, shipped = row
        return StoredDocument(seq, doc_id, idx, body, DocState(state), attempts, last_error, created, shipped)

    # ---------------------------------------------------------------- writes
    def put(self, documents: Iterable[NewDocument], *, count_refused: bool = True,
            state: Mapping[str, Any] | None = None) -> PutResult:
        """Commit documents in one transaction, with the state that goes with them.

        A document whose (index, id) is already stored is left as it is: the
        first copy of an observation wins, here as in Elasticsearch. ``state``
        (key -> JSON value, see :mod:`datamonitor.state`) is kept in the same
        transaction, so what is known about the documents (a dataset's schema,
        the files the watcher measured) is saved exactly when they are. A paused,
        full store raises :class:`BacklogFull`, keeps neither, and counts the
        batch as refused (``count_refused=False`` when the caller will make
        room and try again).
        """
        now = self._clock()
        rows = [(doc_id, idx, ts, name, body, now, len(body.encode())) for doc_id, idx, ts, name, body in documents]
        meta_rows = [(key, json.dumps(value)) for key, value in (state or {}).items()]
        if not rows and not meta_rows:
            return PutResult(0, 0)
        dropped = added = 0
        refused: BacklogFull | None = None
        with self._write() as db:
            if self.max_size is not None and rows:
                incoming = sum(r[6] for r in rows)
                if self._counter(db, "backlog_bytes") + incoming > self.max_size:
                    incoming = self._new_bytes(db, rows)  # a repeat adds nothing: no room is made for it
                try:
                    dropped = self._make_room(db, incoming)
                except BacklogFull as exc:
                    refused = exc
            if refused is None:
                if rows:
                    added = self._insert(db, rows)
                if meta_rows:
                    db.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", meta_rows)
            elif count_refused:  # counted in the same transaction, and nothing else is written
                db.execute("UPDATE counters SET value = value + ? WHERE name = 'refused'", (len(rows),))
        if refused is not None:
            raise refused
        return PutResult(added, len(rows) - added, dropped)

    @staticmethod
    def _insert(db: sqlite3.Connection, rows: list[tuple[str, str, str, str, str, float, int]]) -> int:
        """Within a write: insert new documents, count their bytes in the backlog; returns how many were new."""
        last = db.execute("SELECT COALESCE(MAX(seq), 0) FROM documents").fetchone()[0]
        # rowcount, not total_changes: the counter's update is not a document
        added: int = db.executemany(
            "INSERT OR IGNORE INTO documents (doc_id, idx, ts, name, body, created, size) VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        ).rowcount
        if added == len(rows):
            grown = sum(r[6] for r in rows)
        else:  # some were already stored: count the bytes of those that were not, which came after ``last``
            grown = db.execute("SELECT COALESCE(SUM(size), 0) FROM documents WHERE seq > ?", (last,)).fetchone()[0]
        db.execute("UPDATE counters SET value = value + ? WHERE name = 'backlog_bytes'", (grown,))
        return added

    @staticmethod
    def _new_bytes(db: sqlite3.Connection, rows: list[tuple[str, str, str, str, str, float, int]]) -> int:
        """Within a write: the bytes of the rows not stored yet (each row once)."""
        seen: set[tuple[str, str]] = set()
        total = 0
        for doc_id, idx, *_rest, size in rows:
            if (doc_id, idx) in seen:
                continue
            seen.add((doc_id, idx))
            if db.execute("SELECT 1 FROM documents WHERE doc_id = ? AND idx = ?", (doc_id, idx)).fetchone() is None:
                total += size
        return total

    def _make_room(self, db: sqlite3.Connection, incoming: int) -> int:
        """Within a write: fit ``incoming`` bytes under ``max_size`` (dropping the oldest, if allowed)."""
        assert self.max_size is not None
        backlog = self._counter(db, "backlog_bytes")
        excess = backlog + incoming - self.max_size
        if excess <= 0:
            return 0
        if self.when_full == "pause" or incoming > self.max_size:
            raise BacklogFull(
                f"{self.path}: the backlog is full ({backlog:,} of max_size {self.max_size:,} bytes waiting for "
                f"Elasticsearch; {incoming:,} more would not fit): nothing was stored; ship to make room, or raise "
                "[store] max_size")
        freed, last_seq, dropped = 0, 0, 0
        while freed < excess:
            rows = db.execute("SELECT seq, size FROM documents WHERE state != 1 AND seq > ? "
                              "ORDER BY seq LIMIT 500", (last_seq,)).fetchall()
            if not rows:
                break
            for seq, size in rows:
                freed += size
                last_seq = seq
                dropped += 1
                if freed >= excess:
                    break
        db.execute("DELETE FROM documents WHERE state != 1 AND seq <= ?", (last_seq,))
        db.execute("UPDATE counters SET value = value + ? WHERE name = 'dropped'", (dropped,))
        return dropped

    @staticmethod
    def _counter(db: sqlite3.Connection, name: str) -> int:
        row = db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else 0

    def mark_shipped(self, keys: Iterable[DocKey]) -> int:
        """Mark documents as delivered; returns how many changed."""
        now = self._clock()
        rows = [(now, idx, doc_id) for idx, doc_id in keys]
        if not rows:
            return 0
        with self._write() as db:
            changed = db.executemany(
                "UPDATE documents SET state = 1, shipped = ?, last_error = NULL WHERE idx = ? AND doc_id = ?", rows
            ).rowcount
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('last_shipment', ?)", (repr(now),))
        return changed

    def mark_failed(self, failures: Iterable[Failure]) -> None:
        """Record failed attempts; dead ones stop being retried."""
        rows = [(DEAD if dead else PENDING, reason, idx, doc_id) for idx, doc_id, reason, dead in failures]
        if not rows:
            return
        with self._write() as db:
            db.executemany(
                "UPDATE documents SET state = ?, attempts = attempts + 1, last_error = ? WHERE idx = ? AND doc_id = ?",
                rows,
            )

    def requeue_dead(self) -> int:
        """Put every dead document back in the queue (``ship --retry-dead``); returns how many."""
        with self._write() as db:
            cur = db.execute("UPDATE documents SET state = 0 WHERE state = 2")
            return cur.rowcount

    # ----------------------------------------------------------------- reads
    def pending(self, limit: int, after_seq: int = 0) -> list[StoredDocument]:
        """The oldest documents that still wait for Elasticsearch, in the order they were stored."""
        rows = self._query(
            f"SELECT {_COLUMNS} FROM documents WHERE state = 0 AND seq > ? ORDER BY seq LIMIT ?", (after_seq, limit)
        )
        return [self._row(r) for r in rows]

    def dead(self, limit: int = 100) -> list[StoredDocument]:
        """Documents that Elasticsearch rejected for good, with their reasons."""
        rows = self._query(f"SELECT {_COLUMNS} FROM documents WHERE state = 2 ORDER BY seq LIMIT ?", (limit,))
        return [self._row(r) for r in rows]

    def get(self, doc_id: str, index: str | None = None) -> StoredDocument | None:
        """One document by id (and index, when ids could repeat across indices)."""
        if index is None:
            rows = self._query(f"SELECT {_COLUMNS} FROM documents WHERE doc_id = ? ORDER BY seq LIMIT 1", (doc_id,))
        else:
            rows = self._query(f"SELECT {_COLUMNS} FROM documents WHERE doc_id = ? AND idx = ?", (doc_id, index))
        return self._row(rows[0]) if rows else None

    def search(
        self,
        *,
        name: str | None = None,
        since: str | None = None,
        index: str | None = None,
        limit: int = 20,
        fields: Mapping[str, str | None] | None = None,
    ) -> list[StoredDocument]:
        """The newest documents first, optionally for one KPI name, after a time, or in one index (or prefix).

        ``name`` and ``fields`` (``file``: path or name, ``dataset``, ``subject``) take shell wildcards.
        """
        where, params = [], []
        if name is not None:  # * and ? are wildcards, as in Elasticsearch's wildcard query; [ is literal
            where.append("name GLOB ?" if any(c in name for c in "*?") else "name = ?")
            params.append(name.replace("[", "[[]"))
        for key, pattern in (fields or {}).items():
            if pattern is not None:
                paths = _FIELD_PATHS[key]
                where.append("(" + " OR ".join(f"json_extract(body, '$.{p}') GLOB ?" for p in paths) + ")")
                params.extend([pattern.replace("[", "[[]")] * len(paths))
        if since is not None:
            where.append("ts >= ?")
            params.append(since)
        if index is not None:
            where.append("(idx = ? OR idx LIKE ? ESCAPE '\\')")
            escaped = index.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            params.extend([index, escaped + "-%"])
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self._query(f"SELECT {_COLUMNS} FROM documents {clause} ORDER BY ts DESC, seq DESC LIMIT ?", [*params, limit])
        return [self._row(r) for r in rows]

    def iter_documents(self, since: str | None = None, page: int = 5000) -> Iterator[StoredDocument]:
        """Every document (after ``since``, an ISO time), oldest first, read a page at a time."""
        last_ts, last_seq = "", 0
        while True:
            rows = self._query(
                f"SELECT {_COLUMNS}, ts FROM documents WHERE ts >= ? AND (ts > ? OR (ts = ? AND seq > ?)) "
                "ORDER BY ts, seq LIMIT ?", (since or "", last_ts, last_ts, last_seq, page))
            if not rows:
                return
            for r in rows:
                yield self._row(r[:-1])
            last_seq, last_ts = rows[-1][0], rows[-1][-1]

    def count(self, state: DocState | int | None = None, *, name: str | None = None) -> int:
        """How many documents there are, in one state or in all, of one KPI name or of all."""
        where = " AND ".join(clause for clause, value in (("state = ?", state), ("name = ?", name)) if value is not None)
        params = [value for value in (state, name) if value is not None]
        return int(self._query("SELECT COUNT(*) FROM documents" + (f" WHERE {where}" if where else ""), params)[0][0])

    def stats(self) -> StoreStats:
        """Counts by state, file size and times, for ``status``."""
        counts = dict(self._query("SELECT state, COUNT(*) FROM documents GROUP BY state"))
        oldest = self._query("SELECT MIN(created) FROM documents WHERE state = 0")[0][0]
        last = self._query("SELECT value FROM meta WHERE key = 'last_shipment'")
        size = sum(p.stat().st_size for p in self._files() if p.exists())
        counters = dict(self._query("SELECT name, value FROM counters"))
        return StoreStats(
            path=str(self.path),
            size_bytes=size,
            total=sum(counts.values()),
            pending=counts.get(PENDING, 0),
            shipped=counts.get(SHIPPED, 0),
            dead=counts.get(DEAD, 0),
            oldest_pending=oldest,
            last_shipment=float(last[0][0]) if last else None,
            backlog_bytes=int(counters.get("backlog_bytes", 0)),
            max_size=self.max_size,
            when_full=self.when_full,
            dropped=int(counters.get("dropped", 0)),
            refused=int(counters.get("refused", 0)),
        )

    def _files(self) -> list[Path]:
        return [self.path, Path(f"{self.path}-wal"), Path(f"{self.path}-shm")]

    def get_meta(self, key: str) -> Any:
        """A JSON value kept under ``key`` (a dataset's last schema, say), or None."""
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return json.loads(rows[0][0]) if rows else None

    def set_meta(self, key: str, value: Any) -> None:
        """Keep a JSON value under ``key``, at once (to keep it with documents, give it to :meth:`put`)."""
        with self._write() as db:
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, json.dumps(value)))

    def meta_items(self, prefix: str = "") -> dict[str, Any]:
        """Every JSON value kept under a key that starts with ``prefix`` (a :class:`~datamonitor.state.Namespace`)."""
        rows = self._query("SELECT key, value FROM meta WHERE substr(key, 1, ?) = ? ORDER BY key", (len(prefix), prefix))
        return {key: json.loads(value) for key, value in rows}

    @property
    def schema_version(self) -> int:
        """The layout's version this file is at (``PRAGMA user_version``, see :mod:`datamonitor.storeschema`)."""
        return int(self._query("PRAGMA user_version")[0][0])

    def integrity_check(self) -> str:
        """SQLite's own ``PRAGMA integrity_check``: ``"ok"`` when the file is sound."""
        return str(self._query("PRAGMA integrity_check")[0][0])

    def close(self) -> None:
        """Close the database; the store cannot be used afterwards."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"
