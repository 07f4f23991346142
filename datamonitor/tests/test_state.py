"""The store's key-value state: namespaces, changes held back for the commit of their records."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from datamonitor.errors import BacklogFull
from datamonitor.records import NewDocument
from datamonitor.state import Namespace, PendingState, StoredState
from datamonitor.store import Store


def _doc(i: int) -> NewDocument:
    return NewDocument(f"id{i}", "dm-kpi-2026.11", "2026-11-23T10:00:00.000Z", "rows", '{"pad":"' + "x" * 200 + '"}')


def test_stored_state_reads_and_writes_its_own_namespace(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        watcher, thresholds = StoredState(store, Namespace.WATCHER), StoredState(store, Namespace.THRESHOLD)
        watcher.set("/in/a.csv", "abc")
        thresholds.set("/in/a.csv", {"open": True})
        assert (watcher.get("/in/a.csv"), thresholds.get("/in/a.csv")) == ("abc", {"open": True})
        assert store.meta_items() == {"state:/in/a.csv": "abc", "threshold:/in/a.csv": {"open": True}}
        assert watcher.get("/in/b.csv") is None


def test_pending_changes_answer_at_once_and_are_saved_only_by_the_commit_of_their_records(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db", max_size=300) as store:
        pending = PendingState(store, Namespace.SCHEMA)
        pending.set("/in/a_#.csv", ["x"])
        assert pending.get("/in/a_#.csv") == ["x"] and store.get_meta("schema:/in/a_#.csv") is None
        taken = pending.take()
        assert taken == {"schema:/in/a_#.csv": ["x"]} and pending.take() == {}
        with pytest.raises(BacklogFull):  # refused: neither the documents nor the state
            store.put([_doc(1), _doc(2)], state=taken)
        pending.forget(taken)
        assert pending.get("/in/a_#.csv") is None and store.count() == 0
        pending.set("/in/a_#.csv", ["y"])
        taken = pending.take()
        store.put([_doc(1)], state=taken)
        pending.forget(taken)
        assert store.get_meta("schema:/in/a_#.csv") == ["y"] == pending.get("/in/a_#.csv")


def test_a_later_change_is_not_forgotten_with_an_earlier_commit(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        pending = PendingState(store)
        first = pending.lay("schema:k", 1)
        later = pending.lay("schema:k", 2)  # laid while the first was being committed
        pending.forget(first)
        assert pending.get("schema:k") == 2
        pending.forget(later)
        assert pending.get("schema:k") is None


def test_pending_state_is_safe_from_two_threads(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        pending = PendingState(store)

        def work(n: int) -> None:
            for i in range(500):
                pending.set(f"k{n}:{i}", i)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(pending.take()) == 1000
