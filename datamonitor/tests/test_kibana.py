"""Kibana saved objects: they parse, their references resolve, they use only mapped fields, and import works."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler
from importlib import resources
from typing import Any

import pytest

from datamonitor import ClusterUnreachable, EsSettings, RequestRejected
from datamonitor.cli import main
from datamonitor.kibana import KibanaTarget, import_objects, objects, to_ndjson
from datamonitor.templates import mapping
from datamonitor.tests.helpers import loopback_http


def _mapped(props: dict, prefix: str = "") -> set[str]:
    out: set[str] = set()
    for key, spec in props.items():
        out |= _mapped(spec["properties"], f"{prefix}{key}.") if "properties" in spec else {f"{prefix}{key}"}
    return out


def shipped() -> list[dict[str, Any]]:
    text = resources.files("datamonitor.resources").joinpath("kibana-objects.ndjson").read_text("utf-8")
    return [json.loads(line) for line in text.splitlines()]


def test_shipped_ndjson_parses_and_matches_the_builder() -> None:
    objs = shipped()
    assert [o["type"] for o in objs] == ["index-pattern"] + ["lens"] * 8 + ["dashboard"]
    assert to_ndjson(objs) == to_ndjson(objects()), "regenerate resources/kibana-objects.ndjson"


def test_every_reference_resolves() -> None:
    objs = shipped()
    by_id = {o["id"]: o for o in objs}
    assert len(by_id) == len(objs), "ids are unique"
    for obj in objs:
        for ref in obj["references"]:
            target = by_id.get(ref["id"])
            assert target is not None and target["type"] == ref["type"], (obj["id"], ref)
        if obj["type"] == "lens":
            layers = obj["attributes"]["state"]["datasourceStates"]["formBased"]["layers"]
            names = {r["name"] for r in obj["references"]}
            for layer_id, layer in layers.items():
                assert f"indexpattern-datasource-layer-{layer_id}" in names
                assert set(layer["columnOrder"]) == set(layer["columns"])
            vis = obj["attributes"]["state"]["visualization"]
            if obj["attributes"]["visualizationType"] == "lnsDatatable":
                assert vis["layerId"] in layers and vis["layerType"] == "data"
                assert [c["columnId"] for c in vis["columns"]] == layers[vis["layerId"]]["columnOrder"]
                continue
            for vis_layer in vis["layers"]:
                assert vis_layer["layerId"] in layers
                for acc in vis_layer["accessors"]:
                    assert acc in layers[vis_layer["layerId"]]["columns"]
        if obj["type"] == "dashboard":
            panels = json.loads(obj["attributes"]["panelsJSON"])
            refs = {r["name"] for r in obj["references"]}
            # Kibana names a panel's reference "<panelIndex>:<panelRefName>" (dashboard server,
            # extractPanelSavedObjectId), with panelRefName "panel_<panelIndex>"
            assert len(panels) == 8
            assert refs == {f"{p['panelIndex']}:{p['panelRefName']}" for p in panels}
            assert all(p["panelRefName"] == f"panel_{p['panelIndex']}" for p in panels)


def test_objects_use_only_fields_the_index_template_maps() -> None:
    fields = _mapped(mapping()["properties"])
    used: set[str] = set()
    for obj in shipped():
        attrs = obj["attributes"]
        if obj["type"] == "index-pattern":
            used.add(attrs["timeFieldName"])
        if obj["type"] == "lens":
            state = attrs["state"]
            queries = [state["query"]["query"]]
            for layer in state["datasourceStates"]["formBased"]["layers"].values():
                for column in layer["columns"].values():
                    used |= {column[k] for k in ("sourceField",) if k in column}
                    used |= {column["params"]["sortField"]} if "sortField" in column.get("params", {}) else set()
                    queries += [column["filter"]["query"]] if "filter" in column else []
            used |= {f for q in queries for f in re.findall(r"([\w.@]+)\s*:", q)}
    used.discard("___records___")  # Lens' name for "count of documents"
    assert used and used <= fields, used - fields
    # every field the band chart and the anomalies table need is among them
    assert {"kpi.expected", "kpi.lower", "kpi.upper", "kpi.score", "kpi.text", "kpi.subject"} <= used


def _lens_by_title(part: str) -> dict[str, Any]:
    (found,) = [o for o in shipped() if o["type"] == "lens" and part in o["attributes"]["title"]]
    return found


def test_the_band_chart_draws_the_value_beside_its_expected_band() -> None:
    lens = _lens_by_title("their expected band")
    (layer,) = lens["attributes"]["state"]["datasourceStates"]["formBased"]["layers"].values()
    (vis_layer,) = lens["attributes"]["state"]["visualization"]["layers"]
    fields = [layer["columns"][acc]["sourceField"] for acc in vis_layer["accessors"]]
    assert fields == ["kpi.value", "kpi.upper", "kpi.expected", "kpi.lower"], "one axis, one time bucket each"
    assert {layer["columns"][acc]["operationType"] for acc in vis_layer["accessors"]} == {"average"}
    assert "kpi.score : *" in lens["attributes"]["state"]["query"]["query"], "only scored observations"


def test_the_anomalies_table_lists_anomaly_documents_with_their_band_and_score() -> None:
    from datamonitor.kibana import ANOMALY_COLUMNS

    lens = _lens_by_title("Anomalies")
    state = lens["attributes"]["state"]
    assert lens["attributes"]["visualizationType"] == "lnsDatatable"
    assert state["query"]["query"] == 'kpi.name : "anomaly"'
    (layer,) = state["datasourceStates"]["formBased"]["layers"].values()
    shown = [(layer["columns"][c]["label"], layer["columns"][c]["sourceField"]) for c in layer["columnOrder"]]
    assert shown == [(label, field) for _k, label, _o, field in ANOMALY_COLUMNS]
    rows = [c for c in layer["columnOrder"] if layer["columns"][c]["isBucketed"]]
    assert [layer["columns"][c]["sourceField"] for c in rows] == ["kpi.text", "kpi.subject"]
    for column in rows:  # ranked by a column every Lens can rank by (not last_value: isSortableByColumn)
        ranked_by = layer["columns"][column]["params"]["orderBy"]["columnId"]
        assert layer["columns"][ranked_by]["operationType"] == "count"
    sort = state["visualization"]["sorting"]
    assert layer["columns"][sort["columnId"]]["sourceField"] == "@timestamp" and sort["direction"] == "desc"


def test_the_anomaly_documents_fill_the_tables_fields() -> None:
    """The fields the table reads are the ones the baselines write into an anomaly document."""
    from datamonitor.baseline import Baselines
    from datamonitor.records import to_document
    from datamonitor.tests.test_baseline import JUNE, _rows

    class _Meta(dict):
        def get_meta(self, key: str) -> Any:
            return self.get(key)

        def set_meta(self, key: str, value: Any) -> None:
            self[key] = value

    baselines = Baselines(_Meta())
    for day, value in enumerate(JUNE, start=1):
        baselines.observe([_rows(day, value)])
    (anomaly,) = baselines.observe([_rows(len(JUNE) + 1, 197_000)]).anomalies
    doc = to_document(anomaly)
    assert doc["kpi"]["name"] == "anomaly" and doc["kpi"]["text"] == "flights" and doc["kpi"]["subject"] == "file.rows"
    assert doc["kpi"]["lower"] < doc["kpi"]["expected"] < doc["kpi"]["upper"] < doc["kpi"]["value"] * 2
    assert doc["kpi"]["score"] < -4


def test_the_data_view_follows_the_index_prefix() -> None:
    objs = objects(EsSettings(index_prefix="kpis"))
    assert objs[0]["attributes"]["title"] == "kpis,kpis-2*"
    assert {o["id"] for o in objs}.isdisjoint({o["id"] for o in objects()}), "prefixes do not overwrite each other"


# ------------------------------------------------------------- the import API

class _Kibana(BaseHTTPRequestHandler):
    """Answers the saved-objects import API and /api/status the way Kibana documents them; records each request."""

    requests: list[dict[str, Any]] = []
    answer: tuple[int, dict[str, Any]] = (200, {})
    version = "8.19.0"
    status_calls: list[dict[str, str]] = []

    def do_GET(self) -> None:
        type(self).status_calls.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
        status, payload = type(self).answer
        if self.path != "/api/status":
            status, payload = 404, {"statusCode": 404}
        elif status == 200:
            payload = {"name": "kibana", "version": {"number": type(self).version, "build_flavor": "traditional"},
                       "status": {"overall": {"level": "available"}}}
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode() + body)
        parts = {p.get_param("name", header="content-disposition"): p for p in message.iter_parts()}
        ndjson = parts["file"].get_payload(decode=True).decode()
        type(self).requests.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                                    "ndjson": ndjson,
                                    "filename": parts["file"].get_filename()})
        status, payload = type(self).answer
        if status == 200 and not payload:
            payload = {"success": True, "successCount": len(ndjson.splitlines()), "successResults": []}
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def kibana() -> Iterator[str]:
    _Kibana.requests = []
    _Kibana.status_calls = []
    _Kibana.answer = (200, {})
    _Kibana.version = "8.19.0"
    with loopback_http(_Kibana) as url:
        yield url


def test_import_posts_every_object_with_xsrf_and_auth(kibana: str) -> None:
    settings = EsSettings(username="elastic", password="s3cret")
    answer = import_objects(KibanaTarget(kibana), settings)
    assert answer["success"] is True and answer["successCount"] == 10
    req = _Kibana.requests[0]
    assert req["path"] == "/api/saved_objects/_import?overwrite=true"
    assert req["headers"]["kbn-xsrf"] and req["headers"]["authorization"].startswith("Basic ")
    assert req["filename"].endswith(".ndjson") and req["ndjson"] == to_ndjson(objects())


def test_import_into_a_space_with_an_api_key(kibana: str) -> None:
    import_objects(KibanaTarget(kibana, space="ops team"), EsSettings(api_key="a2V5"))
    req = _Kibana.requests[0]
    assert req["path"] == "/s/ops%20team/api/saved_objects/_import?overwrite=true"
    assert req["headers"]["authorization"] == "ApiKey a2V5"


def test_running_setup_twice_sends_the_same_objects(kibana: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["setup", "--kibana", kibana]) == 0
    assert main(["setup", "--kibana", kibana]) == 0
    assert "imported 10" in capsys.readouterr().out
    first, second = (r["ndjson"] for r in _Kibana.requests)
    assert first == second, "fixed ids and overwrite=true: the second import replaces, it does not add"


def test_a_rejected_object_is_named(kibana: str) -> None:
    dashboard = objects()[-1]
    _Kibana.answer = (200, {"success": False, "successCount": 7, "errors": [
        {"id": dashboard["id"], "type": "dashboard", "error": {"type": "conflict"}}]})
    with pytest.raises(RequestRejected, match=r"rejected 1 object\(s\): dashboard '\[datamonitor\] KPIs \(dm-kpi\)': conflict"):
        import_objects(KibanaTarget(kibana), EsSettings())


def test_a_rejected_import_keeps_kibanas_message_and_missing_references(kibana: str) -> None:
    """Only error.type was shown: the migration rejection's message and the missing references were dropped."""
    lens, dashboard = objects()[1], objects()[-1]
    # the failures as Kibana's import route reports them (SavedObjectsImportFailure: unknown, missing_references)
    message = (f'Document "{lens["id"]}" belongs to a more recent version of Kibana [8.9.0] when the last known '
               "version is [8.5.0].")
    _Kibana.answer = (200, {"success": False, "successCount": 6, "errors": [
        {"id": lens["id"], "type": "lens", "meta": {"title": lens["attributes"]["title"]},
         "error": {"type": "unknown", "message": message, "statusCode": 400}},
        {"id": dashboard["id"], "type": "dashboard",
         "error": {"type": "missing_references", "references": [{"type": "lens", "id": "gone-1"}]}}]})
    with pytest.raises(RequestRejected) as exc:
        import_objects(KibanaTarget(kibana), EsSettings())
    text = str(exc.value)
    assert message in text and "missing_references" in text and "missing lens gone-1" in text
    assert "\n" not in text


@pytest.mark.parametrize("version", ["8.8.2", "8.5.0", "7.17.25"])
def test_a_kibana_older_than_the_objects_is_refused_before_importing(kibana: str, version: str) -> None:
    """Kibana before 8.9 rejects the import: Lens and dashboard declare typeMigrationVersion 8.9.0."""
    _Kibana.version = version
    with pytest.raises(RequestRejected, match=rf"Kibana at {kibana} is {version}; the dashboard needs Kibana 8\.9\.0"):
        import_objects(KibanaTarget(kibana, space="ops"), EsSettings(api_key="a2V5"))
    assert _Kibana.requests == [], "nothing was imported"
    assert _Kibana.status_calls[0]["path"] == "/api/status", "the status is global, not per space"
    assert _Kibana.status_calls[0]["authorization"] == "ApiKey a2V5"


@pytest.mark.parametrize("version", ["8.9.0", "8.19.7", "9.2.0", "9.0.0-SNAPSHOT"])
def test_kibana_from_8_9_on_is_accepted(kibana: str, version: str) -> None:
    _Kibana.version = version
    assert import_objects(KibanaTarget(kibana), EsSettings())["success"] is True


def test_the_minimum_kibana_matches_the_newest_declared_migration() -> None:
    from datamonitor.kibana import MIN_KIBANA

    newest = max(tuple(map(int, o["typeMigrationVersion"].split("."))) for o in shipped())
    assert newest == MIN_KIBANA


def test_bad_credentials_and_unreachable_kibana_are_clear(kibana: str) -> None:
    _Kibana.answer = (401, {"statusCode": 401, "error": "Unauthorized"})
    with pytest.raises(RequestRejected, match="rejected the credentials"):
        import_objects(KibanaTarget(kibana), EsSettings(username="u", password="p"))
    port = kibana.rsplit(":", 1)[1]
    with pytest.raises(ClusterUnreachable, match="cannot reach Kibana"):
        import_objects(KibanaTarget(f"http://127.0.0.1:{int(port) + 1 if int(port) < 65535 else 1}"), EsSettings(),
                       timeout=2)


def test_export_kibana_prints_the_objects(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "kibana"]) == 0
    assert capsys.readouterr().out == to_ndjson(objects())


def test_every_object_declares_the_version_it_is_written_in() -> None:
    """Without it, Kibana's import would run every migration since 7.x over objects already in 8.x form."""
    for obj in shipped():
        assert obj["coreMigrationVersion"] == "8.8.0"
        assert obj["typeMigrationVersion"] in ("8.0.0", "8.9.0")


def test_no_chart_claims_a_window_it_does_not_show() -> None:
    """'Null ratio by column (latest window)' showed the maximum over the whole time range."""
    titles = {o["attributes"]["title"] for o in shipped() if o["type"] == "lens"}
    assert "[datamonitor] Null ratio by column (highest in the time range)" in titles
    assert not any("latest" in t for t in titles)
