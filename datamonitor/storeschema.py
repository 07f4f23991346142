"""The store's tables and their migrations: numbered steps, registered in order, run in one transaction.

A new store gets the present layout at once (:data:`LAYOUT`). An older one
(``PRAGMA user_version`` below :data:`VERSION`) runs each registered step after
its version, in order, then records the new version, all in the transaction
that opened it: a store is at one version or the next, never in between. To
change the layout: change :data:`LAYOUT`, register the step that brings the
previous version to it with :func:`migration`, and a test holds the two equal
(``test_store.py``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from .errors import StoreError

__all__ = ["LAYOUT", "MIGRATIONS", "VERSION", "Migration", "migrate", "migration"]

_TABLE = """
CREATE TABLE documents (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id     TEXT    NOT NULL,
    idx        TEXT    NOT NULL,
    ts         TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    body       TEXT    NOT NULL,
    state      INTEGER NOT NULL DEFAULT 0,
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created    REAL    NOT NULL,
    shipped    REAL,
    size       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX documents_pending ON documents (seq) WHERE state = 0;
CREATE INDEX documents_dead ON documents (seq) WHERE state = 2;
CREATE INDEX documents_name_ts ON documents (name, ts);
CREATE INDEX documents_ts ON documents (ts);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
# One index keyed by the random document id, not two: it is the uniqueness of (id, index) and
# the look-up by id alone. Random keys make every insert touch its own page, so each such
# index costs a page write per document (measured: two of them halved the insert rate at 150,000).
# A store made by schema 1 keeps its table's UNIQUE (idx, doc_id) and its index on doc_id instead.
_KEY = "CREATE UNIQUE INDEX documents_key ON documents (doc_id, idx);"
# the backlog's size, kept in the same transaction as every change to it: by Store.put for new
# documents (one update per batch, not one per row), by these triggers for the rest
_COUNTERS = """
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TRIGGER backlog_delete AFTER DELETE ON documents WHEN OLD.state != 1 BEGIN
    UPDATE counters SET value = value - OLD.size WHERE name = 'backlog_bytes';
END;
CREATE TRIGGER backlog_state AFTER UPDATE OF state ON documents
    WHEN (OLD.state = 1) != (NEW.state = 1) BEGIN
    UPDATE counters SET value = value + (CASE WHEN NEW.state = 1 THEN -1 ELSE 1 END)
        * NEW.size WHERE name = 'backlog_bytes';
END;
"""
_COUNT = """
UPDATE documents SET size = length(CAST(body AS BLOB));
INSERT OR REPLACE INTO counters (name, value)
    SELECT 'backlog_bytes', COALESCE(SUM(size), 0) FROM documents WHERE state != 1;
INSERT OR IGNORE INTO counters (name, value) VALUES ('dropped', 0), ('refused', 0);
"""
#: the present layout, made at once in a new store
LAYOUT = _TABLE + _KEY + _COUNTERS + _COUNT


@dataclass(frozen=True)
class Migration:
    """One step: brings a store from ``version - 1`` to ``version``, inside the opening transaction."""

    version: int
    description: str
    apply: Callable[[sqlite3.Connection], None]


MIGRATIONS: dict[int, Migration] = {}


def migration(version: int, description: str) -> Callable[[Callable[[sqlite3.Connection], None]],
                                                            Callable[[sqlite3.Connection], None]]:
    """Register a step; steps are numbered 2, 3, ... with no gap (schema 1 is where stores began)."""
    def register(apply: Callable[[sqlite3.Connection], None]) -> Callable[[sqlite3.Connection], None]:
        if version in MIGRATIONS or version != max(MIGRATIONS, default=1) + 1:
            raise ValueError(f"migration {version}: steps are numbered in order, once each")
        MIGRATIONS[version] = Migration(version, description, apply)
        return apply
    return register


def run_script(db: sqlite3.Connection, script: str) -> None:
    """Run SQL statements one by one inside the caller's transaction (``executescript`` would commit it)."""
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            db.execute(statement)
            statement = ""
    if statement.strip():
        raise ValueError(f"an unfinished SQL statement: {statement.strip()[:60]}")


@migration(2, "the backlog's size: a size column, the counters table and its triggers, counted once")
def _backlog(db: sqlite3.Connection) -> None:
    db.execute("ALTER TABLE documents ADD COLUMN size INTEGER NOT NULL DEFAULT 0")
    db.execute("CREATE INDEX IF NOT EXISTS documents_id ON documents (doc_id)")  # schema 1's look-up by id
    run_script(db, _COUNTERS + _COUNT)


@migration(3, "time-ordered ids: the observations already stored keep their version 1 ids")
def _legacy_ids(db: sqlite3.Connection) -> None:
    db.execute("DROP TRIGGER IF EXISTS backlog_insert")  # schema 2 counted inserts row by row
    # a re-sent observation must still be recognised (see encoder.Encoder); an empty store has none
    db.execute("INSERT OR IGNORE INTO meta (key, value) "
               "SELECT 'legacy_ids_until', json_quote(MAX(ts)) FROM documents HAVING COUNT(*) > 0")


#: the layout's version: the last step's
VERSION = max(MIGRATIONS)


def migrate(db: sqlite3.Connection, path: object) -> None:
    """Bring the store at ``db`` to :data:`VERSION`, or make it, in one ``BEGIN IMMEDIATE`` transaction."""
    db.execute("BEGIN IMMEDIATE")  # read the version under the lock: two processes may open a store at once
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > VERSION:
            raise StoreError(f"{path}: store schema {version} is newer than this datamonitor ({VERSION})")
        if version == 0:
            run_script(db, LAYOUT)
        for step in sorted(MIGRATIONS)[version - 1 if version else len(MIGRATIONS):]:
            MIGRATIONS[step].apply(db)
        if version != VERSION:
            db.execute(f"PRAGMA user_version={VERSION}")
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:  # also after a failed COMMIT: the store stays at its version
            db.execute("ROLLBACK")
        raise
