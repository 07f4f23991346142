"""The SQLite store: first copy wins, states, search, stats, integrity, threads."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from datamonitor import StoreError
from datamonitor.store import DEAD, PENDING, SHIPPED, DocKey, DocState, Failure, NewDocument, Store


def row(i: int, idx: str = "dm-kpi-2026.11", name: str = "rows", ts: str | None = None) -> NewDocument:
    ts = ts or f"2026-11-23T10:00:{i % 60:02d}.000Z"
    return NewDocument(f"id{i}", idx, ts, name, f'{{"@timestamp":"{ts}","kpi":{{"name":"{name}","value":{i}}}}}')


@pytest.fixture
def store(tmp_path: Path) -> Store:
    with Store(tmp_path / "sub" / "s.db") as s:
        yield s


def test_opens_in_wal_mode_and_creates_its_folder(tmp_path: Path) -> None:
    with Store(tmp_path / "a" / "b" / "s.db") as s:
        with sqlite3.connect(s.path) as other:  # a connection of its own: the mode is the file's
            assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert s.integrity_check() == "ok"


def test_put_keeps_the_first_copy_and_counts_duplicates(store: Store) -> None:
    assert store.put([row(1), row(2)]).added == 2
    again = store.put([row(1), row(3)])
    assert (again.added, again.duplicates) == (1, 1)
    assert store.count() == 3
    # same id in another index is another document
    assert store.put([row(1, idx="other")]).added == 1


def test_pending_is_oldest_first_and_marks_move_states(store: Store) -> None:
    store.put([row(i) for i in range(10)])
    batch = store.pending(4)
    assert [d.doc_id for d in batch] == ["id0", "id1", "id2", "id3"]
    assert store.mark_shipped([DocKey(d.index, d.doc_id) for d in batch]) == 4
    store.mark_failed([Failure("dm-kpi-2026.11", "id4", "400 mapper_parsing_exception", True),
                       Failure("dm-kpi-2026.11", "id5", "503 busy", False)])
    assert (store.count(PENDING), store.count(SHIPPED), store.count(DEAD)) == (5, 4, 1)
    dead = store.dead()[0]
    assert (dead.doc_id, dead.last_error, dead.attempts, dead.state_name) == ("id4", "400 mapper_parsing_exception", 1, "dead")
    assert store.get("id5").attempts == 1 and store.get("id5").state == PENDING
    assert [d.doc_id for d in store.pending(100, after_seq=store.get("id6").seq)] == ["id7", "id8", "id9"]
    assert store.requeue_dead() == 1 and store.count(DEAD) == 0


def test_search_filters_and_orders_newest_first(store: Store) -> None:
    store.put([row(1, name="a", ts="2026-11-01T00:00:00.000Z"), row(2, name="b", ts="2026-11-02T00:00:00.000Z"),
               row(3, name="a", ts="2026-11-03T00:00:00.000Z"), row(4, idx="dm-kpi-v0", name="a")])
    assert [d.doc_id for d in store.search(name="a", limit=10)] == ["id4", "id3", "id1"]
    assert [d.doc_id for d in store.search(since="2026-11-02T00:00:00.000Z", limit=10)][-1] == "id2"
    assert [d.doc_id for d in store.search(index="dm-kpi-v0")] == ["id4"]
    assert len(store.search(index="dm-kpi")) == 4  # the prefix covers its dated indices
    assert store.search(index="dm%") == []  # LIKE wildcards in names are literal
    assert len(store.search(limit=2)) == 2


def test_get_answers_like_elasticsearch(store: Store) -> None:
    store.put([row(7)])
    resp = store.get("id7").as_get_response()
    assert resp["found"] is True and resp["_id"] == "id7" and resp["_source"]["kpi"]["value"] == 7
    assert store.get("nope") is None


def test_stats(store: Store) -> None:
    store.put([row(i) for i in range(3)])
    store.mark_shipped([("dm-kpi-2026.11", "id0")])
    st = store.stats()
    assert (st.total, st.pending, st.shipped, st.dead) == (3, 2, 1, 0)
    assert st.size_bytes > 0 and st.last_shipment is not None and st.oldest_pending is not None


def test_survives_reopen(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as s:
        s.put([row(i) for i in range(100)])
    with Store(tmp_path / "s.db") as s:
        assert s.count(PENDING) == 100 and s.integrity_check() == "ok"


def test_threads_share_one_store(store: Store) -> None:
    def writer(base: int) -> None:
        for i in range(50):
            store.put([row(base + i)])

    threads = [threading.Thread(target=writer, args=(k * 1000,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.count() == 200


def test_two_connections_see_each_other(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as a, Store(tmp_path / "s.db") as b:
        a.put([row(1)])
        assert b.count() == 1


def test_unopenable_store_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot open the store"):
        Store(blocker / "s.db")


def test_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match=str(bad)):
        Store(bad)


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version=99")
    db.close()
    with pytest.raises(StoreError, match="newer"):
        Store(path)


def test_iter_documents_pages_through_everything_in_time_order(store: Store) -> None:
    store.put([row(i, ts=f"2026-11-{1 + i % 20:02d}T00:00:00.000Z") for i in range(57)])
    docs = list(store.iter_documents(page=10))
    assert len(docs) == 57 and len({d.doc_id for d in docs}) == 57
    times = [d.source["@timestamp"] for d in docs]
    assert times == sorted(times)
    assert len(list(store.iter_documents(since="2026-11-15T00:00:00.000Z", page=4))) == sum(
        1 for i in range(57) if 1 + i % 20 >= 15)


def test_meta_is_committed_with_the_documents_or_not_at_all(tmp_path: Path) -> None:
    from datamonitor.errors import BacklogFull

    with Store(tmp_path / "s.db", max_size=2 * len(row(0)[4])) as store:
        store.put([row(0)], state={"schema:a": [["x", "integer"]], "state:watch:/in/a.csv": "abc"})
        assert store.get_meta("schema:a") == [["x", "integer"]] and store.get_meta("state:watch:/in/a.csv") == "abc"
        with pytest.raises(BacklogFull):
            store.put([row(1), row(2)], state={"schema:a": [["x", "string"]]})
        assert store.count() == 1 and store.get_meta("schema:a") == [["x", "integer"]]
        assert store.put([], state={"k": 1}).added == 0 and store.get_meta("k") == 1


def test_a_failed_write_keeps_neither_documents_nor_meta(store: Store) -> None:
    with sqlite3.connect(store.path) as other:
        other.execute("CREATE TRIGGER refuse BEFORE INSERT ON documents WHEN NEW.doc_id = 'id2' "
                      "BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END")
    with pytest.raises(StoreError, match="Nothing of this batch was stored"):
        store.put([row(1), row(2)], state={"schema:a": [["x", "integer"]]})
    assert store.count() == 0 and store.get_meta("schema:a") is None


def test_a_new_store_has_no_legacy_ids(store: Store) -> None:
    assert store.legacy_ids_until is None
    assert store.schema_version == 3


def test_states_come_back_as_the_enum_and_counts_filter_by_state_and_name(store: Store) -> None:
    store.put([row(1, name="a"), row(2, name="a"), row(3, name="b")])
    store.mark_shipped([DocKey("dm-kpi-2026.11", "id2")])
    docs = {d.doc_id: d for d in store.search(limit=10)}
    assert docs["id2"].state is DocState.SHIPPED and docs["id1"].state is DocState.PENDING
    assert [docs[i].state_name for i in ("id1", "id2")] == ["pending", "shipped"]
    assert (store.count(name="a"), store.count(PENDING, name="a"), store.count(SHIPPED, name="b")) == (2, 1, 0)


def test_meta_items_lists_one_namespace_exactly(store: Store) -> None:
    store.put([], state={"schema:a": 1, "schema:b": [2], "Schema:c": 3, "state:x": "d", "schema": 4})
    assert store.meta_items("schema:") == {"schema:a": 1, "schema:b": [2]}
    assert set(store.meta_items()) >= {"schema:a", "Schema:c", "state:x", "schema"}


def _layout(path: Path) -> dict[str, object]:
    """Tables with their columns, and the indexes and triggers, read from the file with a connection of its own."""
    with sqlite3.connect(path) as db:
        objects = db.execute("SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'").fetchall()
        columns = {name: [c[1:3] for c in db.execute(f"PRAGMA table_info({name})")] for kind, name in objects
                   if kind == "table"}
        counters = dict(db.execute("SELECT name, value FROM counters"))
    return {"objects": sorted(objects), "columns": columns, "counters": counters}


def test_each_migration_step_leads_to_the_layout_a_new_store_gets(tmp_path: Path) -> None:
    from datamonitor.storeschema import LAYOUT, MIGRATIONS, VERSION, run_script

    assert sorted(MIGRATIONS) == list(range(2, VERSION + 1)) and all(m.description for m in MIGRATIONS.values())
    with Store(tmp_path / "new.db"):
        pass
    # a schema 2 store (as schema 2 made it: a trigger per insert), upgraded by step 3
    old = tmp_path / "old.db"
    with sqlite3.connect(old) as db:
        run_script(db, LAYOUT)
        db.execute("CREATE TRIGGER backlog_insert AFTER INSERT ON documents BEGIN SELECT 1; END")
        db.execute("PRAGMA user_version = 2")
    with Store(old) as store:
        assert store.schema_version == VERSION and store.legacy_ids_until is None
    assert _layout(old) == _layout(tmp_path / "new.db")


def test_a_failed_migration_leaves_the_store_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with sqlite3.connect(path) as db:  # schema 1 without its table: step 2 cannot alter it
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        db.execute("PRAGMA user_version = 1")
    with pytest.raises(StoreError, match="cannot open the store"):
        Store(path)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 1
        assert not db.execute("SELECT name FROM sqlite_master WHERE name = 'counters'").fetchall()


def _open_close(path: str, barrier: Any, queue: Any) -> None:
    barrier.wait()
    try:
        Store(path).close()
        queue.put("ok")
    except StoreError as exc:
        queue.put(str(exc))


def test_two_processes_opening_a_new_store_at_once_both_open(tmp_path: Path) -> None:
    """Reviewer's case: the switch to WAL does not wait out the busy timeout, so one of two processes opening a new
    store at the same moment failed at once with "database is locked" (5 of 40 opens)."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    failed = []
    for trial in range(6):
        path = str(tmp_path / f"s{trial}.db")
        barrier, queue = ctx.Barrier(2), ctx.Queue()
        procs = [ctx.Process(target=_open_close, args=(path, barrier, queue)) for _ in range(2)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        failed += [m for m in (queue.get(timeout=10) for _ in procs) if m != "ok"]
    assert failed == []
