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

URL = os.environ.get("DATAMONITOR_TEST_ES_URL")
pytestmark = [pytest.mark.live, pytest.mark.skipif(not URL, reason="set DATAMONITOR_TEST_ES_URL to run")]


@pytest.fixture
def live(tmp_path: Path) -> Iterator[DataMonitor]:
    prefix = f"dm-test-{uuid.uuid4().hex[:8]}"
    config = load_config(home=tmp_path, es_url=URL)
    with DataMonitor(config) as dm:
        dm.es_connect(index_prefix=prefix, initial_backoff=0.2)
        yield dm
        es = dm.client
        es.options(ignore_status=404).indices.delete(index=f"{prefix}*", expand_wildcards="all")
        es.options(ignore_status=404).indices.delete_index_template(name=prefix)
        for suffix in ("mappings", "settings"):
            es.options(ignore_status=404).cluster.delete_component_template(name=f"{prefix}-{suffix}")
        es.options(ignore_status=404).ilm.delete_lifecycle(name=f"{prefix}-policy")


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
    live.store.put([("bad1", f"{prefix}-x", "2026-11-23T00:00:00.000Z", "rows",
                     '{"@timestamp":"2026-11-23T00:00:00.000Z","kpi":{"name":"rows","value":"abc"}}')])
    live.es_send(payload={"name": "rows", "value": 1})
    result = live.ship()
    assert result.dead == 1 and "bad1" in {f.doc_id for f in result.failures}
    assert live.dead_letters()[0]["reason"].startswith("400")
