"""Backlog bounds: a full store pauses collection or drops the oldest, counted, never silently."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
from pathlib import Path

import pytest

from datamonitor import DataMonitor, KpiRecord, load_config
from datamonitor.errors import BacklogFull
from datamonitor.sources.udp import UdpListener
from datamonitor.sources.watch import DirectoryWatcher
from datamonitor.store import DEAD, PENDING, SHIPPED, DocKey, Failure, NewDocument, Store
from datamonitor.tests.conftest import FAKE_URL
from datamonitor.tests.fakes import FakeCluster
from datamonitor.tests.helpers import wait_until, wait_until_async


def row(i: int, size: int = 100) -> NewDocument:
    pad = "é" * 10 + "x" * size
    body = f'{{"kpi":{{"name":"rows","value":{i:04d}}},"pad":"{pad}"}}'
    return NewDocument(f"id{i}", "dm-kpi-2026.11", f"2026-11-23T10:00:00.{i:03d}Z", "rows", body)


def true_backlog(store: Store) -> int:
    """The oracle: the bytes of the undelivered bodies, summed by a connection of its own."""
    with sqlite3.connect(store.path) as db:
        sql = "SELECT COALESCE(SUM(length(CAST(body AS BLOB))), 0) FROM documents WHERE state != 1"
        return int(db.execute(sql).fetchone()[0])


def test_the_backlog_counter_follows_every_change_in_utf8_bytes(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        store.put([row(i) for i in range(20)])
        store.put([row(i) for i in range(10, 30)])  # ten duplicates add nothing
        assert store.stats().backlog_bytes == true_backlog(store) == 30 * len(row(0)[4].encode())
        store.mark_shipped([DocKey("dm-kpi-2026.11", f"id{i}") for i in range(12)])
        store.mark_failed([Failure("dm-kpi-2026.11", "id20", "400 mapper", True),
                           Failure("dm-kpi-2026.11", "id21", "503", False)])
        assert store.stats().backlog_bytes == true_backlog(store) == 18 * len(row(0)[4].encode())
        store.requeue_dead()
        assert store.stats().backlog_bytes == true_backlog(store)
    with Store(tmp_path / "s.db") as again:  # survives a reopen
        assert again.stats().backlog_bytes == true_backlog(again)


def test_pause_refuses_the_whole_batch_counts_it_and_resumes_after_shipping(tmp_path: Path) -> None:
    size = len(row(0)[4].encode())
    with Store(tmp_path / "s.db", max_size=10 * size) as store:
        assert store.put([row(i) for i in range(8)]).added == 8
        with pytest.raises(BacklogFull, match=r"backlog is full .* nothing was stored"):
            store.put([row(i) for i in range(8, 11)])
        assert store.count() == 8 and store.stats().refused == 3
        store.mark_shipped([DocKey("dm-kpi-2026.11", f"id{i}") for i in range(4)])
        assert store.put([row(i) for i in range(8, 11)]).added == 3
        stats = store.stats()
        assert (stats.backlog_bytes, stats.dropped) == (7 * size, 0)


def test_drop_oldest_drops_undelivered_only_and_counts_them(tmp_path: Path) -> None:
    size = len(row(0)[4].encode())
    with Store(tmp_path / "s.db", max_size=10 * size, when_full="drop_oldest") as store:
        store.put([row(i) for i in range(10)])
        store.mark_shipped([DocKey("dm-kpi-2026.11", "id0"), DocKey("dm-kpi-2026.11", "id1")])
        store.mark_failed([Failure("dm-kpi-2026.11", "id2", "400 mapper", True)])
        result = store.put([row(i) for i in range(10, 15)])
        assert (result.added, result.dropped) == (5, 3)
        # the delivered ones stay; the oldest undelivered (the dead id2, then id3, id4) went
        assert {d.doc_id for d in store.search(limit=100)} == {f"id{i}" for i in (0, 1, *range(5, 15))}
        stats = store.stats()
        assert stats.backlog_bytes == true_backlog(store) <= 10 * size
        assert (stats.dropped, store.count(SHIPPED), store.count(PENDING), store.count(DEAD)) == (3, 2, 10, 0)
        with pytest.raises(BacklogFull, match="would not fit"):  # a batch larger than the bound never fits
            store.put([row(i) for i in range(100, 111)])


@pytest.mark.parametrize("when_full", ["drop_oldest", "pause"])
def test_a_full_store_makes_no_room_for_documents_it_already_holds(tmp_path: Path, when_full: str) -> None:
    """Reviewer's case: a full store dropped five undelivered documents (or refused the batch) to make room for five
    it already held, which adds nothing. A batch mixing old and new makes room for the new ones only."""
    size = len(row(0)[4].encode())
    with Store(tmp_path / "s.db", max_size=10 * size, when_full=when_full) as store:
        store.put([row(i) for i in range(10)])
        again = store.put([row(i) for i in range(5)])
        assert (again.added, again.duplicates, again.dropped) == (0, 5, 0)
        assert store.count() == 10 and store.stats().refused == 0
        if when_full == "drop_oldest":
            mixed = store.put([row(i) for i in range(5, 10)] + [row(10)])
            assert (mixed.added, mixed.duplicates, mixed.dropped) == (1, 5, 1)
            assert store.stats().backlog_bytes == true_backlog(store) == 10 * size


def test_a_drop_is_logged_and_its_running_total_is_a_kpi(home: Path, caplog: pytest.LogCaptureFixture) -> None:
    import dataclasses

    bounded = dataclasses.replace(load_config(home=home), store_max_size=30_000, store_when_full="drop_oldest")
    with DataMonitor(bounded) as dm:
        for batch in range(4):
            dm.record([KpiRecord(name="rows", value=i, subject=f"b{batch}") for i in range(40)])
        kpi = dm.search(name="datamonitor.store.dropped")
        status = dm.status(check_cluster=False)
        assert kpi and status["dropped"] > 40
        # the running total up to the last batch; storing the KPI itself may drop one more, counted next time
        assert 0 <= status["dropped"] - kpi[0]["_source"]["kpi"]["value"] <= 2
        assert status["backlog_bytes"] <= 30_000
        assert "oldest undelivered document(s)" in caplog.text


def test_pause_with_a_cluster_ships_to_make_room(home: Path, clusters: dict[str, FakeCluster]) -> None:
    import dataclasses

    config = dataclasses.replace(load_config(home=home, es_url=FAKE_URL), store_max_size=20_000)
    with DataMonitor(config) as dm:
        for batch in range(10):  # far more than 20 kB in all: each pause ships the backlog first
            dm.record([KpiRecord(name="rows", value=i, subject=f"b{batch}") for i in range(30)], ship=False)
        assert dm.store.stats().refused == 0
        dm.ship()
        assert len(clusters[FAKE_URL].accepted) == 300


def test_the_watcher_keeps_a_file_the_full_store_refused_and_measures_it_later(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    full = {"on": True}
    measured: list[Path] = []

    def process(path: Path) -> None:
        if full["on"]:
            raise BacklogFull("store full")
        measured.append(path)

    watcher = DirectoryWatcher([folder], process, settle=0.05)
    watcher.retry_after = 0.2
    watcher.start()
    try:
        (folder / "a.csv").write_text("x\n1\n")
        wait_until(lambda: watcher.deferred >= 2, what="a.csv refused twice by the full store")
        assert not measured
        full["on"] = False
        wait_until(lambda: measured, what="a.csv measured once the store has room")
    finally:
        watcher.stop()
    assert measured == [folder / "a.csv"] and watcher.processed == 1


def test_udp_records_refused_by_a_full_store_wait_for_the_next_flush(home: Path) -> None:
    stored: list[KpiRecord] = []
    refuse = {"n": 2}

    def sink(records: list[KpiRecord]) -> None:
        if refuse["n"]:
            refuse["n"] -= 1
            raise BacklogFull("store full")
        stored.extend(records)

    listener = UdpListener("127.0.0.1", 0, flush_interval=0.2, sink=sink)

    async def run() -> None:
        task = asyncio.create_task(listener.serve())
        await wait_until_async(lambda: listener.bound, what="the listener bound")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for _ in range(5):
                sock.sendto(b"jobs.done:1|c", listener.bound)
        # two flushes refused, then a later one (not the final flush at stop) stores them
        await wait_until_async(lambda: sum(r.value for r in stored if r.name == "jobs.done") == 5,
                               what="the five samples stored by a flush after the two refused ones")
        listener.stop()
        await task

    asyncio.run(run())
    counted = sum(r.value for r in stored if r.name == "jobs.done")
    assert counted == 5, "the counter's samples all arrived, late but whole"
    assert listener.dropped == 0


def test_a_schema_1_store_is_upgraded_and_its_backlog_counted(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE documents (seq INTEGER PRIMARY KEY AUTOINCREMENT, doc_id TEXT NOT NULL, idx TEXT NOT NULL,
            ts TEXT NOT NULL, name TEXT NOT NULL, body TEXT NOT NULL, state INTEGER NOT NULL DEFAULT 0,
            attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT, created REAL NOT NULL, shipped REAL,
            UNIQUE (idx, doc_id));
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        PRAGMA user_version = 1;""")
    rows = [row(i) for i in range(6)]
    db.executemany("INSERT INTO documents (doc_id, idx, ts, name, body, created, state) VALUES (?, ?, ?, ?, ?, 0, ?)",
                   [(*r, 1 if i < 2 else 0) for i, r in enumerate(rows)])
    db.commit()
    db.close()
    with Store(path) as store:
        assert store.schema_version == 3
        assert store.stats().backlog_bytes == true_backlog(store) == sum(len(r[4].encode()) for r in rows[2:])
        store.mark_shipped([DocKey("dm-kpi-2026.11", "id2")])
        assert store.stats().backlog_bytes == true_backlog(store)


def test_a_file_the_full_store_refused_leaves_no_records_schema_or_memory_and_is_measured_later(
        tmp_path: Path, home: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    store = Store(home / "bounded.db", max_size=20_000)
    with DataMonitor(load_config(home=home), store=store) as dm:
        dm.record([KpiRecord(name="pad", text="x" * 1000, subject=str(i)) for i in range(15)])
        watcher = dm.watcher(folder, settle=0.05)
        watcher.retry_after = 0.2
        watcher.start()
        try:
            (folder / "a.csv").write_text("id,v\n" + "".join(f"{i},{i}\n" for i in range(50)))
            wait_until(lambda: watcher.deferred >= 2, what="a.csv refused twice by the full store")
            assert watcher.processed == 0
            keys = list(store.meta_items())
            assert not [k for k in keys if k.startswith(("schema:", "state:"))], "nothing saved without the records"
            assert store.count() == 15 and store.stats().refused > 0
            store.max_size = None
            wait_until(lambda: watcher.processed, what="a.csv measured once the store has room")
        finally:
            watcher.stop()
        assert watcher.processed == 1
        keys = list(store.meta_items())
        assert sum(k.startswith("schema:") for k in keys) == 1 and sum(k.startswith("state:") for k in keys) == 1
        assert [h["_source"]["kpi"]["value"] for h in dm.search(name="file.rows")] == [50]


def test_the_backlog_counts_a_batch_with_repeats_inside_and_outside_it_once(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        store.put([row(i) for i in range(5)])
        result = store.put([row(3), row(7), row(7), row(4), row(8, size=500)])
        assert (result.added, result.duplicates) == (2, 3)
        assert store.stats().backlog_bytes == true_backlog(store)
    with Store(tmp_path / "s.db") as again, sqlite3.connect(again.path) as db:  # no per-row trigger
        assert not db.execute("SELECT name FROM sqlite_master WHERE name = 'backlog_insert'").fetchall()
        again.put([row(9)])
        assert again.stats().backlog_bytes == true_backlog(again)
