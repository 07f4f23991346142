"""The same promises against a real cluster; skipped unless DATAMONITOR_TEST_ES_URL is set.

Start one with ``docker compose up -d`` and run
``DATAMONITOR_TEST_ES_URL=http://localhost:9200 tox -e py311``. Every test
works in its own index prefix and deletes what it made.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from datamonitor import DataMonitor, KpiRecord, load_config
from datamonitor.records import NewDocument

URL = os.environ.get("DATAMONITOR_TEST_ES_URL")
pytestmark = [pytest.mark.live, pytest.mark.skipif(not URL, reason="set DATAMONITOR_TEST_ES_URL to run")]


def _cleanup(es: object, prefix: str) -> None:
    """Delete what setup and shipping made for a prefix."""
    opts = es.options(ignore_status=404)  # type: ignore[attr-defined]
    opts.indices.delete(index=f"{prefix},{prefix}-*", expand_wildcards="all")
    opts.indices.delete_index_template(name=f"datamonitor-{prefix}")
    for suffix in ("mappings", "settings"):
        opts.cluster.delete_component_template(name=f"datamonitor-{prefix}-{suffix}")
    opts.ilm.delete_lifecycle(name=f"datamonitor-{prefix}-policy")


@pytest.fixture
def live(tmp_path: Path) -> Iterator[DataMonitor]:
    prefix = f"dm-test-{uuid.uuid4().hex[:8]}"
    config = load_config(home=tmp_path, es_url=URL)
    with DataMonitor(config) as dm:
        dm.es_connect(index_prefix=prefix, initial_backoff=0.2)
        yield dm
        for extra in ("", "-staging"):
            _cleanup(dm.client, prefix + extra)


def test_info_names_a_version(live: DataMonitor) -> None:
    assert int(live.es_info()["version"]["number"].split(".")[0]) in (8, 9)


def test_setup_is_idempotent_and_the_mapping_is_applied(live: DataMonitor) -> None:
    assert set(live.es_setup().values()) == {"created"}
    assert set(live.es_setup().values()) == {"unchanged"}
    docid = live.es_send(payload={"name": "rows", "value": 5, "extra": "x"})
    index = live.store.get(docid).index
    mapping = live.client.indices.get_mapping(index=index).body[index]["mappings"]
    assert mapping["properties"]["kpi"]["properties"]["value"]["type"] == "double"
    assert "extra" not in mapping["properties"], "dynamic: false keeps the mapping fixed"


def test_send_get_and_exactly_once(live: DataMonitor) -> None:
    live.es_setup()
    prefix = live.config.es.index_prefix
    docid = live.es_send(index=f"{prefix}-v0", payload={"unit": "nb_of_rows", "value": "6543"})
    got = live.es_get(index=f"{prefix}-v0", docid=docid)
    assert got["found"] is True and got["_source"]["kpi"]["value"] == 6543
    records = [KpiRecord(name="rows", value=i, subject=f"c{i}") for i in range(1000)]
    first = live.es_send_bulk(records)
    assert (first.created, first.dead) == (1000, 0)
    live.store._db.execute("UPDATE documents SET state = 0")  # as if a crash came before the marks
    again = live.ship()
    assert (again.created, again.duplicates) == (0, 1001)
    live.client.indices.refresh(index=f"{prefix}*")
    assert live.client.count(index=f"{prefix}-*")["count"] == 1001
    hits = live.search(name="rows", limit=5)
    assert len(hits) == 5 and all(h["_source"]["kpi"]["name"] == "rows" for h in hits)


def test_a_rejected_document_is_a_dead_letter(live: DataMonitor) -> None:
    live.es_setup()
    prefix = live.config.es.index_prefix
    # a document the mapping refuses: kpi.value must be a number
    live.store.put([NewDocument("bad1", f"{prefix}-x", "2026-11-23T00:00:00.000Z", "rows",
                                '{"@timestamp":"2026-11-23T00:00:00.000Z","kpi":{"name":"rows","value":"abc"}}')])
    live.es_send(payload={"name": "rows", "value": 1})
    result = live.ship()
    assert result.dead == 1 and "bad1" in {f.doc_id for f in result.failures}
    assert live.dead_letters()[0]["reason"].startswith("400")


def test_two_prefixes_where_one_extends_the_other(live: DataMonitor) -> None:
    """Elasticsearch refuses overlapping index patterns at one priority; the longer prefix must win."""
    prefix = live.config.es.index_prefix
    live.es_setup()
    live.es_connect(index_prefix=f"{prefix}-staging")
    assert set(live.es_setup().values()) == {"created"}
    docid = live.es_send(payload={"name": "rows", "value": 1})
    index = live.store.get(docid).index
    settings = live.client.indices.get_settings(index=index).body[index]["settings"]["index"]
    assert settings["lifecycle"]["name"] == f"datamonitor-{prefix}-staging-policy"


def test_a_single_node_cluster_stays_green(live: DataMonitor) -> None:
    """auto_expand_replicas 0-1 by default: one replica on a single node kept every KPI index yellow."""
    live.es_setup()
    docid = live.es_send(payload={"name": "rows", "value": 1})
    index = live.store.get(docid).index
    nodes = int(live.client.cluster.health().body["number_of_nodes"])
    health = live.client.cluster.health(index=index, wait_for_status="green" if nodes == 1 else "yellow",
                                        timeout="30s").body
    assert not health["timed_out"], health


def test_setup_twice_after_a_real_cluster_normalised_the_objects(live: DataMonitor) -> None:
    """What the cluster returns for templates and policies (strings, defaults, dates) still compares unchanged."""
    live.es_setup()
    assert set(live.es_setup().values()) == {"unchanged"}
    name = f"datamonitor-{live.config.es.index_prefix}-settings"
    current = live.client.cluster.get_component_template(name=name).body["component_templates"][0]
    current["component_template"]["template"]["settings"]["index"]["refresh_interval"] = "5s"
    body = current["component_template"]
    live.client.cluster.put_component_template(name=name, template=body["template"], meta=body.get("_meta"))
    assert live.es_setup()[name] == "updated", "a setting a person added is put back"


KIBANA = os.environ.get("DATAMONITOR_TEST_KIBANA_URL")


@pytest.mark.skipif(not KIBANA, reason="set DATAMONITOR_TEST_KIBANA_URL to run")
def test_kibana_imports_every_object_and_names_its_version(live: DataMonitor) -> None:
    from datamonitor.kibana import MIN_KIBANA, KibanaTarget, kibana_version

    assert kibana_version(KibanaTarget(str(KIBANA)), live.config.es) >= MIN_KIBANA
    answer = live.kibana_setup(str(KIBANA))
    assert answer["success"] is True and answer["successCount"] == 8
