"""Index templates: shipped JSON, idempotent install, ES 8/9-compatible shape."""

from __future__ import annotations

from datamonitor import DataMonitor, EsSettings
from datamonitor.templates import rendered
from datamonitor.testing import FakeCluster


def test_rendered_objects_reference_each_other() -> None:
    objs = rendered(EsSettings(index_prefix="kpis", retention="30d"))
    policy_name, policy = objs["ilm_policy"]
    _, settings = objs["component_settings"]
    tmpl_name, tmpl = objs["index_template"]
    assert settings["template"]["settings"]["index"]["lifecycle"]["name"] == policy_name == "kpis-policy"
    assert policy["policy"]["phases"]["delete"]["min_age"] == "30d"
    assert tmpl["composed_of"] == [objs["component_mappings"][0], objs["component_settings"][0]]
    assert tmpl["index_patterns"] == ["kpis", "kpis-*"] and tmpl_name == "kpis"
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
    fake.index_templates["dm-kpi"]["priority"] = 1
    result = es_dm.es_setup()
    assert result["dm-kpi"] == "updated" and result["dm-kpi-mappings"] == "unchanged"
    assert fake.index_templates["dm-kpi"]["priority"] == 200


def test_values_the_cluster_returns_as_strings_count_as_unchanged(es_dm: DataMonitor, fake: FakeCluster) -> None:
    es_dm.es_setup()
    fake.component_templates["dm-kpi-settings"]["template"]["settings"]["index"]["number_of_shards"] = "1"
    fake.component_templates["dm-kpi-mappings"]["template"]["mappings"]["dynamic"] = "false"
    assert set(es_dm.es_setup().values()) == {"unchanged"}
