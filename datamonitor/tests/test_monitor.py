"""The DataMonitor facade: the calls the first users know, on the store and on a (fake) cluster."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from datamonitor import (
    ClusterUnreachable,
    ConfigError,
    DataMonitor,
    KpiRecord,
    NotConfigured,
    PayloadError,
    load_config,
)
from datamonitor.tests.fakes import FakeCluster

SECRET = "pa55-SECRET-word"
KEY = "QVBJLUtFWS1TRUNSRVQ="


def test_es_connect_with_the_legacy_dict(home: Path, clusters: dict[str, FakeCluster]) -> None:
    dm = DataMonitor(load_config(home=home))
    client = dm.es_connect({"host": "localhost", "port": 9200, "scheme": "http"})
    assert isinstance(client, FakeCluster) and client.hosts == ["http://localhost:9200"]
    assert dm.es_info()["version"]["number"] == "8.19.0"
    dm.close()


@pytest.mark.parametrize("spec, hosts", [
    ("https://es1:9243", ["https://es1:9243"]),
    (["http://a:9200", "http://b:9200"], ["http://a:9200", "http://b:9200"]),
    (None, ["http://localhost:9200"]),
])
def test_es_connect_accepts_urls_and_lists(home: Path, clusters: dict, spec: object, hosts: list[str]) -> None:
    with DataMonitor(load_config(home=home)) as dm:
        assert dm.es_connect(spec).hosts == hosts


def test_es_connect_auth_options_reach_the_client(home: Path, clusters: dict) -> None:
    with DataMonitor(load_config(home=home)) as dm:
        c = dm.es_connect("https://es:9200", basic_auth=("elastic", SECRET), ca_certs="/etc/ca.pem", verify_certs=True)
        assert c.init_kwargs["basic_auth"] == ("elastic", SECRET)
        assert c.init_kwargs["ca_certs"] == "/etc/ca.pem" and c.init_kwargs["verify_certs"] is True
        c = dm.es_connect("https://es2:9200", api_key=KEY)
        assert c.init_kwargs["api_key"] == KEY and "basic_auth" not in c.init_kwargs


def test_secrets_from_env_are_used_and_never_shown(home: Path, clusters: dict, monkeypatch: pytest.MonkeyPatch,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("DATAMONITOR_ES_API_KEY", KEY)
    caplog.set_level(logging.DEBUG)
    with DataMonitor(load_config(home=home)) as dm:
        client = dm.es_connect("https://user:" + SECRET + "@es:9200", verify_certs=False)
        assert client.init_kwargs["basic_auth"] == ("user", SECRET)
        shown = repr(dm) + str(dm.config) + repr(dm.config.es) + str(dm.status())
    with DataMonitor(load_config(home=home)) as dm:
        client = dm.es_connect("https://es-b:9200")
        assert client.init_kwargs["api_key"] == KEY
        shown += repr(dm) + str(dm.config) + caplog.text + str(dm.status())
    assert SECRET not in shown and KEY not in shown
    assert "verification is OFF" in caplog.text


def test_es_connect_rejects_unknown_options(dm: DataMonitor) -> None:
    with pytest.raises(ConfigError, match="unknown option"):
        dm.es_connect("http://x:9200", pasword="typo")


def test_es_send_and_es_get_on_the_embedded_store(dm: DataMonitor) -> None:
    docid = dm.es_send(index="dm-kpi-v0", payload={"unit": "nb_of_rows", "value": "6543"})
    resp = dm.es_get(index="dm-kpi-v0", docid=docid)
    assert resp["found"] is True and resp["_id"] == docid and resp["_index"] == "dm-kpi-v0"
    assert resp["_source"]["kpi"] == {"name": "nb_of_rows", "unit": "nb_of_rows", "value": 6543}
    assert dm.es_get(index="dm-kpi-v0", docid="missing") == {"_index": "dm-kpi-v0", "_id": "missing", "found": False}


def test_es_send_and_es_get_on_a_cluster(es_dm: DataMonitor, fake: FakeCluster) -> None:
    docid = es_dm.es_send(index="dm-kpi-v0", payload={"unit": "nb_of_rows", "value": "6543"})
    resp = es_dm.es_get(index="dm-kpi-v0", docid=docid)
    assert resp["found"] is True and resp["_index"] == "dm-kpi-v0" and resp["_id"] == docid
    assert resp["_source"]["kpi"]["value"] == 6543
    assert es_dm.es_get(index="dm-kpi-v0", docid="missing")["found"] is False
    # the default target: the dated index is found from the store
    docid = es_dm.es_send(payload={"name": "rows", "value": 1})
    assert es_dm.es_get(index="dm-kpi", docid=docid)["found"] is True


def test_es_send_validates_before_storing(dm: DataMonitor) -> None:
    with pytest.raises(PayloadError, match="document 1: field 'value'"):
        dm.record([{"name": "ok", "value": 1}, {"name": "bad", "value": [1]}])
    assert dm.store.count() == 0
    with pytest.raises(PayloadError):
        dm.es_send(payload=None)


def test_search_on_store_and_cluster_agree(es_dm: DataMonitor, tmp_path: Path) -> None:
    base = datetime(2026, 11, 1, tzinfo=timezone.utc)
    es_dm.record([KpiRecord(name="rows", value=i, timestamp=base + timedelta(seconds=i)) for i in range(5)]
                 + [KpiRecord(name="nulls", value=1)])
    remote = es_dm.search(name="rows", limit=3)
    local = es_dm.search(name="rows", limit=3, local=True)
    assert [h["_id"] for h in remote] == [h["_id"] for h in local]
    assert [h["_source"]["kpi"]["value"] for h in local] == [4, 3, 2]


def test_search_since(dm: DataMonitor) -> None:
    dm.record([{"name": "a", "value": 1, "timestamp": "2026-01-01T00:00:00Z"},
               {"name": "a", "value": 2, "timestamp": "2026-03-01T00:00:00Z"}])
    assert [h["_source"]["kpi"]["value"] for h in dm.search(since="2026-02-01T00:00:00Z")] == [2]


def test_info_and_ship_need_a_cluster(dm: DataMonitor) -> None:
    with pytest.raises(NotConfigured):
        dm.es_info()
    with pytest.raises(NotConfigured):
        dm.ship()


def test_es_info_on_an_unreachable_cluster_is_a_clear_error(es_dm: DataMonitor, fake: FakeCluster) -> None:
    fake.unreachable = True
    with pytest.raises(ClusterUnreachable, match="cannot reach Elasticsearch at http://fake-es:9200"):
        es_dm.es_info()
    st = es_dm.status()
    assert st["reachable"] is False and "cannot reach" in st["cluster_error"]


def test_setup_dry_run_says_what_setup_would_do_and_changes_nothing(es_dm: DataMonitor) -> None:
    planned = es_dm.es_setup(dry_run=True)
    assert planned and set(planned.values()) == {"create"}
    assert es_dm.es_setup(dry_run=True) == planned, "the dry run installed nothing"
    installed = es_dm.es_setup()
    assert installed.keys() == planned.keys() and set(installed.values()) == {"created"}
    assert set(es_dm.es_setup(dry_run=True).values()) == {"unchanged"}


def test_status_counts(es_dm: DataMonitor, fake: FakeCluster) -> None:
    es_dm.record([KpiRecord(name="a", value=1)])
    fake.unreachable = True
    es_dm.record([KpiRecord(name="a", value=2)])
    st = es_dm.status(check_cluster=False)
    assert (st["documents"], st["pending"], st["shipped"], st["dead"]) == (2, 1, 1, 0)
    assert st["last_shipment"].endswith("Z") and st["reachable"] is None


def test_a_later_run_with_a_connection_ships_the_backlog(home: Path, clusters: dict) -> None:
    with DataMonitor(load_config(home=home)) as offline:
        ids = offline.record([KpiRecord(name="a", value=i) for i in range(7)])
    with DataMonitor(load_config(home=home, es_url="http://later:9200")) as online:
        online.record([KpiRecord(name="b", value=1)])
        fake = online.client
        assert {doc_id for _i, doc_id in fake.accepted} >= set(ids)
        assert online.store.count(0) == 0


# ---------------------------------------------------------------- ids across versions, state with records

def test_sending_the_same_observations_again_stores_nothing_new(dm: DataMonitor) -> None:
    t = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)
    batch = [KpiRecord(name="rows", value=i, subject=f"c{i}", timestamp=t) for i in range(50)]
    first = dm.record(batch)
    again = dm.record([KpiRecord(name="rows", value=99, subject=f"c{i}", timestamp=t) for i in range(50)])
    assert again == first and dm.store.count() == 50
    assert dm.get(first[7])["kpi"]["value"] == 7, "the first copy wins"


def test_a_store_made_before_version_2_ids_still_recognises_its_observations(home: Path) -> None:
    import sqlite3

    from datamonitor.records import NewDocument, document_id
    from datamonitor.store import Store

    t = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)
    old = KpiRecord(name="rows", value=1, timestamp=t, subject="a")
    config = load_config(home=home)
    with DataMonitor(config) as dm:  # what a version 1 datamonitor stored: the bare hash as id, schema 2
        dm.store.put([NewDocument(document_id(old, version=1), "dm-kpi-2026.11", "2026-11-23T10:00:00.000Z", "rows",
                                  "{}")])
    db = sqlite3.connect(config.store_file)
    db.executescript("DELETE FROM meta WHERE key = 'legacy_ids_until'; PRAGMA user_version = 2;")
    db.close()
    with DataMonitor(config) as dm:
        assert dm.store.legacy_ids_until == "2026-11-23T10:00:00.000Z"
        resent = dm.record([KpiRecord(name="rows", value=2, timestamp=t, subject="a")])
        assert resent == [document_id(old, version=1)] and dm.store.count() == 1
        later = KpiRecord(name="rows", value=3, timestamp=t + timedelta(seconds=1), subject="a")
        assert dm.record([later]) == [document_id(later)] and dm.store.count() == 2
    with Store(config.store_file) as store:  # the horizon is kept, not moved by later documents
        assert store.legacy_ids_until == "2026-11-23T10:00:00.000Z"


def test_a_refused_batch_keeps_neither_the_records_nor_the_dataset_schema(tmp_path: Path, home: Path) -> None:
    from datamonitor.errors import BacklogFull
    from datamonitor.store import Store

    (tmp_path / "sales_1.csv").write_text("id,amount\n1,2.5\n")
    (tmp_path / "sales_2.csv").write_text("id,amount,country\n1,2.5,fr\n")
    store = Store(home / "bounded.db", max_size=60_000)
    with DataMonitor(load_config(home=home), store=store) as dm:
        dm.collect_file(tmp_path / "sales_1.csv")
        (schema_key,) = store.meta_items("schema:")
        before = (store.count(), store.get_meta(schema_key))
        filler = [KpiRecord(name="pad", text="x" * 1000, subject=str(i)) for i in range(80)]
        room = 60_000 - store.stats().backlog_bytes
        dm.record(filler[: room // 1400], ship=False)  # nearly full: the next file's records do not fit
        count = store.count()
        with pytest.raises(BacklogFull):
            dm.collect_file(tmp_path / "sales_2.csv")
        assert store.count() == count and store.get_meta(schema_key) == before[1], "neither was saved"
        store.max_size = None  # room again: the drift is measured, not lost
        (second,) = dm.collect_file(tmp_path / "sales_2.csv")
        assert second.drift == {"added": ["country"], "removed": [], "retyped": []}
        assert dm.search(name="file.schema_drift")[0]["_source"]["kpi"]["value"] == 1


@pytest.mark.parametrize("batch_records, commits", [(10**9, 1), (1, 4)])
def test_a_file_run_commits_several_files_together(tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch,
                                                    batch_records: int, commits: int) -> None:
    from datamonitor import factories
    from datamonitor.store import Store

    monkeypatch.setattr(factories, "_BATCH_RECORDS", batch_records)
    monkeypatch.setattr(factories, "_BATCH_SECONDS", 3600.0)
    for i in range(4):  # one dataset: each file's drift is measured against the one before, committed or not
        # each file's own bytes: a file measured before (the same SHA-256) is never drift
        (tmp_path / f"sales_{i}.csv").write_text(f"id,amount\n{i},2.5\n" if i % 2 == 0 else f"id,amount,note\n{i},2.5,x\n")
    puts: list[float] = []
    store = Store(home / "s.db", clock=lambda: puts.append(1.0) or float(len(puts)))
    with DataMonitor(load_config(home=home), store=store) as dm:
        results = dm.collect_file(tmp_path)
        assert len(puts) == commits
        assert [bool(r.drift) for r in results] == [False, True, True, True]
        assert len(dm.search(name="file.rows", limit=10)) == 4
        assert len(dm.search(name="file.schema_drift", limit=10)) == 3


def test_a_closed_monitor_does_not_reopen_its_store(home: Path) -> None:
    from datamonitor.errors import StoreError

    dm = DataMonitor(load_config(home=home))
    dm.record([KpiRecord(name="rows", value=1)])
    dm.close()
    with pytest.raises(StoreError, match="closed"):
        dm.record([KpiRecord(name="rows", value=2)])  # a late write is a bug, said so: not a store opened anew
    dm.close()  # closing twice is harmless
    with DataMonitor(load_config(home=home)) as again:
        assert again.store.count(name="rows") == 1


def test_configured_says_a_cluster_is_configured_and_connected_is_its_old_name(
        home: Path, clusters: dict[str, FakeCluster]) -> None:
    with DataMonitor(load_config(home=home)) as dm:
        with pytest.warns(DeprecationWarning, match="use DataMonitor.configured"):
            assert (dm.configured, dm.connected) == (False, False)
        dm.es_connect("http://localhost:9200")
        with pytest.warns(DeprecationWarning):
            assert (dm.configured, dm.connected) == (True, True)
