"""Bulk shipping against the extended ElasticMock: chunking, retries, dead letters, exactly-once."""

from __future__ import annotations

import errno
import json
import random
from collections import Counter

import pytest
from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout

from datamonitor import DataMonitor, KpiRecord
from datamonitor.store import DEAD, PENDING, SHIPPED
from datamonitor.testing import FakeCluster, PartialReset, connection_refused


def kpis(n: int, name: str = "rows") -> list[KpiRecord]:
    return [KpiRecord(name=name, value=i, subject=f"c{i}") for i in range(n)]


def stage(dm: DataMonitor, n: int) -> list[str]:
    """Put n documents in the store without shipping them."""
    return dm.record(kpis(n), ship=False)


def assert_once(fake: FakeCluster, ids: list[str]) -> None:
    counts = Counter(doc_id for _idx, doc_id in fake.accepted)
    assert set(counts) == set(ids), "every document arrived"
    assert max(counts.values()) == 1, "none arrived twice"
    assert len(fake.all_documents()) == len(ids)


def test_bulk_ships_in_chunks_and_marks_everything(es_dm: DataMonitor, fake: FakeCluster) -> None:
    es_dm.es_connect(chunk_size=10)
    ids = stage(es_dm, 95)
    result = es_dm.ship()
    assert (result.created, result.pending, result.error) == (95, 0, None)
    assert fake.bulk_requests == 10
    assert es_dm.store.count(SHIPPED) == 95
    assert_once(fake, ids)


def test_resending_the_same_observations_adds_nothing(es_dm: DataMonitor, fake: FakeCluster) -> None:
    records = kpis(20)
    es_dm.record(records, ship=False)
    # a crash after the bulk but before marking: the cluster took them, the store still says pending
    pending = es_dm.store.pending(100)
    fake.bulk(operations=[line for doc in pending for line in
                          (json.dumps({"create": {"_index": doc.index, "_id": doc.doc_id}}), doc.body)])
    assert len(fake.accepted) == 20 and es_dm.store.count(PENDING) == 20
    result = es_dm.ship()
    assert (result.created, result.duplicates, result.pending) == (0, 20, 0)
    es_dm.record(records)  # and the same records collected again
    assert len(fake.all_documents()) == 20 and len(fake.accepted) == 20


def test_503_and_429_on_a_whole_chunk_are_retried(es_dm: DataMonitor, fake: FakeCluster) -> None:
    es_dm.es_connect(chunk_size=10)
    ids = stage(es_dm, 30)
    fake.bulk_faults = [503, None, 429, 502]
    result = es_dm.ship()
    assert (result.created, result.pending, result.error) == (30, 0, None)
    assert fake.bulk_requests == 6  # 503, ok | 429, 502, ok | ok
    assert_once(fake, ids)


def test_connection_reset_mid_bulk_is_retried_without_loss(es_dm: DataMonitor, fake: FakeCluster) -> None:
    es_dm.es_connect(chunk_size=10)
    ids = stage(es_dm, 40)
    fake.bulk_faults = [None, TransportConnectionError("Connection reset by peer"), None]
    result = es_dm.ship()
    assert (result.created, result.error) == (40, None)
    assert_once(fake, ids)


def test_one_rejected_document_is_a_dead_letter_and_the_rest_arrive(es_dm: DataMonitor, fake: FakeCluster) -> None:
    ids = stage(es_dm, 10)
    fake.reject[ids[3]] = (400, "document_parsing_exception", "failed to parse field [kpi.value] of type [double]")
    result = es_dm.ship()
    assert (result.created, result.dead, result.pending) == (9, 1, 0)
    assert "document_parsing_exception" in result.failures[0].reason
    dead = es_dm.dead_letters()
    assert dead[0]["_id"] == ids[3] and "kpi.value" in dead[0]["reason"]
    assert fake.bulk_requests == 1, "the batch was not re-sent whole"
    # after the cause is fixed, --retry-dead delivers it
    del fake.reject[ids[3]]
    again = es_dm.ship(retry_dead=True)
    assert (again.created, again.dead) == (1, 0)
    assert_once(fake, ids)


def test_per_document_429_is_retried_by_the_helper(es_dm: DataMonitor, fake: FakeCluster) -> None:
    ids = stage(es_dm, 5)
    fake.reject_once[ids[0]] = [429, 429]
    result = es_dm.ship()
    assert (result.created, result.retry) == (5, 0)
    assert fake.bulk_requests == 3


def test_still_failing_document_stays_pending_for_the_next_run(es_dm: DataMonitor, fake: FakeCluster) -> None:
    ids = stage(es_dm, 3)
    fake.reject_once[ids[1]] = [503] * 10
    result = es_dm.ship()
    assert (result.created, result.retry, result.pending, result.dead) == (2, 1, 1, 0)
    assert es_dm.store.get(ids[1]).last_error.startswith("503")
    fake.reject_once.clear()
    assert es_dm.ship().created == 1


def test_unreachable_cluster_keeps_documents_until_it_returns(es_dm: DataMonitor, fake: FakeCluster) -> None:
    fake.unreachable = True
    ids = es_dm.record(kpis(25))  # does not raise
    assert es_dm.store.count(PENDING) == 25
    result = es_dm.ship()
    assert "cannot reach Elasticsearch at http://fake-es:9200" in result.error
    assert result.pending == 25
    fake.unreachable = False
    result = es_dm.ship()
    assert (result.created, result.pending) == (25, 0)
    assert_once(fake, ids)


def test_bad_credentials_stop_shipping_and_keep_documents(es_dm: DataMonitor, fake: FakeCluster) -> None:
    from datamonitor.testing import api_error

    stage(es_dm, 3)
    fake.bulk_faults = [api_error(401, "security_exception", "unable to authenticate")]
    result = es_dm.ship()
    assert "rejected the credentials" in result.error
    assert fake.bulk_requests == 1, "a 401 is not retried"
    assert es_dm.store.count(PENDING) == 3 and es_dm.store.count(DEAD) == 0


def test_retries_give_up_after_max_retries(es_dm: DataMonitor, fake: FakeCluster) -> None:
    stage(es_dm, 2)
    fake.bulk_faults = [TransportConnectionError("reset")] * 10
    result = es_dm.ship()
    assert result.error and result.pending == 2
    assert fake.bulk_requests == 4  # the first try and max_retries=3 more


def test_progress_is_reported(es_dm: DataMonitor) -> None:
    es_dm.es_connect(chunk_size=5)
    stage(es_dm, 50)
    seen: list[tuple[int, int]] = []
    es_dm.ship(progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (50, 50) and len(seen) == 3


def test_es_send_bulk_reports_failures_without_dropping_the_rest(es_dm: DataMonitor, fake: FakeCluster) -> None:
    from datamonitor.records import document_id

    records = kpis(6)
    fake.reject[document_id(records[2])] = (400, "mapper_parsing_exception", "bad")
    result = es_dm.es_send_bulk(records)
    assert (result.created, result.dead) == (5, 1)
    assert result.as_dict()["failures"][0]["id"] == document_id(records[2])


def test_es_send_bulk_without_cluster_stores_everything(dm: DataMonitor) -> None:
    result = dm.es_send_bulk([{"name": "x", "value": i} for i in range(4)])
    assert result.pending == 4 and result.error is None


@pytest.mark.parametrize("period, index", [("month", "dm-kpi-2026.01"), ("day", "dm-kpi-2026.01.31"), ("none", "dm-kpi")])
def test_documents_go_to_the_index_of_their_own_time(es_dm: DataMonitor, fake: FakeCluster, period: str, index: str) -> None:
    es_dm.es_connect(index_period=period)
    doc_id = es_dm.es_send(payload={"name": "x", "value": 1, "timestamp": "2026-01-31T23:59:59Z"})
    assert fake.accepted == [(index, doc_id)]


def test_connection_reset_after_the_cluster_indexed_half_a_chunk(es_dm: DataMonitor, fake: FakeCluster) -> None:
    es_dm.es_connect(chunk_size=10)
    ids = stage(es_dm, 30)
    fake.bulk_faults = [PartialReset(after=5)]
    result = es_dm.ship()
    # the re-sent chunk finds its first five documents already there: 409, counted as delivered
    assert (result.created, result.duplicates, result.pending, result.error) == (25, 5, 0, None)
    assert_once(fake, ids)


def test_a_timeout_is_retried_and_then_reported_not_raised(es_dm: DataMonitor, fake: FakeCluster) -> None:
    ids = stage(es_dm, 10)
    fake.bulk_faults = [ConnectionTimeout("timed out")]
    assert es_dm.ship().created == 10
    assert_once(fake, ids)
    stage_more = es_dm.record(kpis(5, name="late"), ship=False)
    fake.bulk_faults = [ConnectionTimeout("timed out")] * 10
    result = es_dm.ship()
    assert result.error is not None and "timed out" in result.error
    assert es_dm.store.count(PENDING) == 5, "nothing is lost: the documents wait for the next run"
    fake.bulk_faults.clear()
    assert es_dm.ship().created == 5
    assert_once(fake, ids + stage_more)


def test_seeded_chaos_every_good_document_once_and_no_chunk_resent_for_one_failure(
        es_dm: DataMonitor, fake: FakeCluster) -> None:
    """429s, 503s, timeouts, resets (before and after indexing) and rejected documents, all in one run."""
    rng = random.Random(6)
    es_dm.es_connect(chunk_size=50, max_retries=3)
    ids = stage(es_dm, 2000)
    dead = set(rng.sample(ids, 4))
    for doc_id in dead:
        fake.reject[doc_id] = (400, "mapper_parsing_exception", "failed to parse field [kpi.value] of type [double]")
    for doc_id in rng.sample(sorted(set(ids) - dead), 30):
        fake.reject_once[doc_id] = [rng.choice([429, 503])]
    choices = [None] * 6 + [429, 503, 502, ConnectionTimeout("timed out"),
                            TransportConnectionError("Connection reset by peer"), "partial"]
    faults = [rng.choice(choices) for _ in range(120)]
    fake.bulk_faults = [PartialReset(rng.randrange(1, 50)) if f == "partial" else f for f in faults]
    whole_request_failed = [f is not None for f in faults]

    runs = 0
    while es_dm.store.count(PENDING) and runs < 20:  # what the service's next cycles would do
        es_dm.ship()
        runs += 1
    good = set(ids) - dead
    counts = Counter(doc_id for _idx, doc_id in fake.accepted)
    assert set(counts) == good and max(counts.values()) == 1, "every good document arrived exactly once"
    letters = {d["_id"]: d["reason"] for d in es_dm.dead_letters()}
    assert set(letters) == dead and all("mapper_parsing_exception" in r for r in letters.values())
    assert es_dm.store.count(SHIPPED) == len(good)
    # a document the cluster answered (created, or already there) is never sent again,
    # so a chunk with one failed document is not re-sent whole
    answered: set[str] = set()
    for i, request in enumerate(fake.requests):
        assert not answered & set(request), f"request {i} re-sent documents that were already answered"
        if not (i < len(whole_request_failed) and whole_request_failed[i]):
            answered.update(d for d in request if d not in dead and d not in fake.reject_once)
    assert len(fake.requests) > 40 and sum(whole_request_failed[:len(fake.requests)]) > 20, "the faults were met"


# ------------------------------------------------- one retry loop, matching by position

def test_answers_naming_a_backing_index_are_matched_by_position(es_dm: DataMonitor, fake: FakeCluster) -> None:
    """Through an alias or a data stream, ``_index`` names the backing index (elasticsearch-specification,
    specification/_global/bulk/BulkResponseItemBase.ts): matching on it resent the same chunk without end."""
    fake.answer_index = lambda index: f".ds-{index}-2026.11.23-000001"
    fake.bulk_limit = 5
    ids = stage(es_dm, 12)
    result = es_dm.ship()
    assert (result.created, result.pending, result.error) == (12, 0, None)
    assert fake.bulk_requests == 1
    assert es_dm.store.count(SHIPPED) == 12
    assert_once(fake, ids)


def test_a_refused_connection_is_not_retried(es_dm: DataMonitor, fake: FakeCluster) -> None:
    from datamonitor import shipping

    stage(es_dm, 3)
    fake.bulk_faults = [connection_refused()] * 5
    slept: list[float] = []
    result = shipping.ship(es_dm.store, fake, es_dm.config.es, sleep=slept.append)
    assert fake.bulk_requests == 1 and slept == [], "refused is known at once: no backoff, no second try"
    assert result.pending == 3 and "connection refused" in (result.error or "")


def test_an_answer_without_items_stops_with_one_line_and_keeps_the_documents(
        es_dm: DataMonitor, fake: FakeCluster, monkeypatch: pytest.MonkeyPatch) -> None:
    stage(es_dm, 4)
    monkeypatch.setattr(fake, "bulk", lambda **_kw: {"took": 1, "errors": False})
    result = es_dm.ship()
    assert result.error == ("bulk: the answer of http://fake-es:9200 cannot be used (no 'items' in the bulk answer); "
                            "the documents stay pending")
    assert result.pending == 4 and es_dm.store.count(PENDING) == 4


def test_an_answer_with_too_few_items_is_not_trusted(
        es_dm: DataMonitor, fake: FakeCluster, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = stage(es_dm, 3)
    monkeypatch.setattr(fake, "bulk", lambda **_kw: {"items": [{"create": {"_id": ids[0], "status": 201}}]})
    result = es_dm.ship()
    assert "1 items for 3 documents" in (result.error or "") and result.pending == 3


def test_one_shipper_at_a_time_across_threads_and_store_handles(home, clusters: dict[str, FakeCluster]) -> None:
    """Two watcher workers shipping the same store sent documents twice (409s hid it): count the ids received."""
    import threading

    from datamonitor import load_config
    from datamonitor.tests.conftest import FAKE_URL

    config = load_config(home=home, es_url=FAKE_URL)
    monitors = [DataMonitor(config) for _ in range(2)]  # two store handles: the file lock is what holds them apart
    try:
        for m in monitors:
            m.es_connect(chunk_size=10, initial_backoff=0.001, max_backoff=0.01)
        ids = monitors[0].record(kpis(120), ship=False)
        fake = clusters[FAKE_URL]
        fake.bulk_delay = 0.01  # widen the window between one shipper's send and its mark
        start = threading.Barrier(4)

        def ship(m: DataMonitor) -> None:
            start.wait()
            m.ship()

        threads = [threading.Thread(target=ship, args=(m,)) for m in monitors * 2]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        sent = [doc_id for request in fake.requests for doc_id in request]
        assert sorted(sent) == sorted(ids), f"{len(sent)} ids sent for {len(ids)} documents"
        assert_once(fake, ids)
    finally:
        for m in monitors:
            m.close()


def test_the_shipping_lock_holds_across_processes(dm: DataMonitor) -> None:
    """Another process (a second 'datamonitor ship', the service) sees the store's shipping lock as taken."""
    import subprocess
    import sys

    from datamonitor.shipping import ship_lock

    lock_file = f"{dm.store.path}.ship-lock"
    probe = ("import fcntl, sys\n"
             "with open(sys.argv[1], 'a+b') as fh:\n"
             "    try:\n"
             "        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
             "    except BlockingIOError:\n"
             "        print('busy')\n"
             "    else:\n"
             "        print('free')\n")

    def other_process() -> str:
        return subprocess.run([sys.executable, "-c", probe, lock_file], capture_output=True, text=True,
                              check=True, timeout=60).stdout.strip()

    with ship_lock(dm.store):
        assert other_process() == "busy"
    assert other_process() == "free"


def test_refused_is_told_by_the_error_types_not_by_the_message() -> None:
    from datamonitor.connection import is_refused

    assert is_refused(connection_refused()), "the urllib3 node's shape: ConnectionError ← NewConnectionError"
    assert not is_refused(TransportConnectionError("Connection refused")), "the text alone is not a refusal"
    assert not is_refused(TransportConnectionError("Connection reset by peer", errors=(ConnectionResetError(),)))
    wrapped = TransportConnectionError("no route")  # the requests node raises `from None`: the chain is the context
    wrapped.__context__ = OSError(errno.EHOSTUNREACH, "No route to host")
    assert is_refused(wrapped)
