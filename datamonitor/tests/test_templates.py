"""Index templates: shipped JSON, idempotent install, ES 8/9-compatible shape."""

from __future__ import annotations

from fnmatch import fnmatch

import pytest

from datamonitor import ConfigError, DataMonitor, EsSettings, load_config
from datamonitor.templates import RESERVED_PREFIXES, rendered
from datamonitor.testing import FakeCluster


def test_rendered_objects_reference_each_other() -> None:
    objs = rendered(EsSettings(index_prefix="kpis", retention="30d"))
    policy_name, policy = objs["ilm_policy"]
    _, settings = objs["component_settings"]
    tmpl_name, tmpl = objs["index_template"]
    assert settings["template"]["settings"]["index"]["lifecycle"]["name"] == policy_name == "datamonitor-kpis-policy"
    assert policy["policy"]["phases"]["delete"]["min_age"] == "30d"
    assert tmpl["composed_of"] == [objs["component_mappings"][0], objs["component_settings"][0]]
    assert tmpl["index_patterns"] == ["kpis", "kpis-*"] and tmpl_name == "datamonitor-kpis"
    assert "data_stream" not in tmpl  # dated indices; see docs/schema.rst for why


def test_setup_installs_in_order_and_is_idempotent(es_dm: DataMonitor, fake: FakeCluster) -> None:
    first = es_dm.es_setup()
    assert set(first.values()) == {"created"}
    assert [c[0] for c in fake.calls] == ["put_lifecycle", "put_component_template", "put_component_template",
                                          "put_index_template"]
    second = es_dm.es_setup()
    assert set(second.values()) == {"unchanged"}
    assert len(fake.calls) == 4, "nothing was written the second time"


def test_setup_updates_what_changed(es_dm: DataMonitor, fake: FakeCluster) -> None:
    es_dm.es_setup()
    fake.index_templates["datamonitor-dm-kpi"]["priority"] = 1
    result = es_dm.es_setup()
    assert result["datamonitor-dm-kpi"] == "updated" and result["datamonitor-dm-kpi-mappings"] == "unchanged"
    assert fake.index_templates["datamonitor-dm-kpi"]["priority"] == 306


@pytest.mark.parametrize("change", ["mapping", "setting", "policy"])
def test_setup_puts_back_what_a_person_added(es_dm: DataMonitor, fake: FakeCluster, change: str) -> None:
    """Only the wanted keys were checked: a field or setting added by hand was reported 'unchanged'."""
    es_dm.es_setup()
    if change == "mapping":
        name = "datamonitor-dm-kpi-mappings"
        fake.component_templates[name]["template"]["mappings"]["properties"]["extra"] = {"type": "text"}
    elif change == "setting":
        name = "datamonitor-dm-kpi-settings"
        fake.component_templates[name]["template"]["settings"]["index"]["refresh_interval"] = "1s"
    else:
        name = "datamonitor-dm-kpi-policy"
        fake.ilm_policies[name]["phases"]["warm"] = {"min_age": "7d", "actions": {}}
    result = es_dm.es_setup()
    assert result[name] == "updated" and list(result.values()).count("unchanged") == 3
    assert set(es_dm.es_setup().values()) == {"unchanged"}


def test_values_the_cluster_returns_as_strings_count_as_unchanged(es_dm: DataMonitor, fake: FakeCluster) -> None:
    es_dm.es_setup()
    index = fake.component_templates["datamonitor-dm-kpi-settings"]["template"]["settings"]["index"]
    index["number_of_shards"] = "1"
    fake.component_templates["datamonitor-dm-kpi-mappings"]["template"]["mappings"]["dynamic"] = "false"
    # Elasticsearch 9.2 stamps templates with dates (elasticsearch-specification, indices/_types/IndexTemplate.ts)
    fake.index_templates["datamonitor-dm-kpi"]["created_date_millis"] = 1763856000000
    assert set(es_dm.es_setup().values()) == {"unchanged"}


def test_two_prefixes_where_one_extends_the_other_both_install(es_dm: DataMonitor, fake: FakeCluster) -> None:
    """Both got priority 200 with overlapping patterns: Elasticsearch refuses the second PUT."""
    es_dm.es_setup()
    es_dm.es_connect(index_prefix="dm-kpi-staging")
    assert set(es_dm.es_setup().values()) == {"created"}
    base, staging = fake.index_templates["datamonitor-dm-kpi"], fake.index_templates["datamonitor-dm-kpi-staging"]
    assert staging["priority"] > base["priority"], "the more specific prefix wins for dm-kpi-staging-2026.11"


def test_every_object_is_namespaced(es_dm: DataMonitor, fake: FakeCluster) -> None:
    es_dm.es_setup()
    names = [name for _call, name in fake.calls]
    assert len(names) == 4 and all(n.startswith("datamonitor-dm-kpi") for n in names)


@pytest.mark.parametrize("prefix", [*RESERVED_PREFIXES[:3], "logs-app", ".hidden"])
def test_reserved_prefixes_are_refused(prefix: str, tmp_path) -> None:
    """With 'logs', setup overwrote Elastic's built-in component templates logs-mappings and logs-settings."""
    conf = tmp_path / "c.toml"
    conf.write_text(f'[elasticsearch]\nindex_prefix = "{prefix}"\n')
    with pytest.raises(ConfigError, match=r"reserved|not a valid index name"):
        load_config(conf)
    with pytest.raises(ConfigError, match="reserved"):
        rendered(EsSettings(index_prefix=prefix))


def test_an_undated_index_gets_no_delete_phase() -> None:
    """index_period 'none' is one index: a 400-day delete phase would drop all of it, recent documents included."""
    assert "delete" in rendered(EsSettings(index_period="month"))["ilm_policy"][1]["policy"]["phases"]
    phases = rendered(EsSettings(index_period="none"))["ilm_policy"][1]["policy"]["phases"]
    assert set(phases) == {"hot"}


@pytest.mark.parametrize("replicas, expected", [
    ("0-1", {"auto_expand_replicas": "0-1"}),
    (2, {"number_of_replicas": 2, "auto_expand_replicas": False}),
    ("0-all", {"auto_expand_replicas": "0-all"}),
])
def test_replicas_are_configurable_and_a_single_node_stays_green_by_default(replicas: object, expected: dict) -> None:
    index = rendered(EsSettings(replicas=replicas))["component_settings"][1]["template"]["settings"]["index"]  # type: ignore[arg-type]
    assert {k: index[k] for k in expected} == expected
    assert EsSettings().replicas == "0-1"


def test_a_bad_replicas_value_is_refused(tmp_path) -> None:
    conf = tmp_path / "c.toml"
    conf.write_text('[elasticsearch]\nreplicas = "one"\n')
    with pytest.raises(ConfigError, match=r"'elasticsearch\.replicas' must be a number or a range"):
        load_config(conf)


def test_search_and_the_data_view_read_only_their_own_prefix(es_dm: DataMonitor, fake: FakeCluster) -> None:
    """``dm-kpi*`` also pulled in ``dm-kpi-staging-*``."""
    from datamonitor.kibana import objects

    es_dm.es_send(payload={"name": "rows", "value": 1, "timestamp": "2026-11-01T00:00:00Z"})
    es_dm.es_connect(index_prefix="dm-kpi-staging")
    es_dm.es_send(payload={"name": "rows", "value": 2, "timestamp": "2026-11-01T00:00:00Z"})
    assert [h["_index"] for h in es_dm.search(local=False)] == ["dm-kpi-staging-2026.11"]
    es_dm.es_connect(index_prefix="dm-kpi")
    assert [h["_index"] for h in es_dm.search(local=False)] == ["dm-kpi-2026.11"]
    title = objects(es_dm.config.es)[0]["attributes"]["title"]
    assert not any(fnmatch("dm-kpi-staging-2026.11", p) for p in title.split(","))
    assert any(fnmatch("dm-kpi-2026.11", p) for p in title.split(","))
