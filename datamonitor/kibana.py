"""Kibana saved objects for the KPI indices (a data view, Lens charts and tables, a dashboard) and their import.

The objects are built here from small chart specs, so the index prefix can
change; ``resources/kibana-objects.ndjson`` is the rendering for the default
prefix, shipped for people who import by hand (a test keeps the two equal).
Import goes through Kibana's saved-objects API with ``overwrite=true`` and
fixed ids, so running it again replaces rather than duplicates.

Kibana refuses a document that declares a migration version newer than its own
last migration for the type ("Document ... belongs to a more recent version of
Kibana [8.9.0] when the last known version is [...]", Kibana's
``core-saved-objects-migration-server-internal`` document migrator). The Lens and
dashboard objects here are written in the 8.9.0 form (and Lens' ``formBased``
layers exist only from 8.6), so :func:`import_objects` reads Kibana's version
from ``GET /api/status`` first and refuses anything before :data:`MIN_KIBANA`
with one clear line.
"""

from __future__ import annotations

import base64
import json
import ssl
import uuid
from dataclasses import dataclass
from typing import Any
from urllib import error, request
from urllib.parse import quote, urlsplit

from .config import EsSettings
from .errors import ClusterUnreachable, ConfigError, RequestRejected
from .records import Field
from .templates import search_pattern

__all__ = ["ANOMALY_COLUMNS", "CHARTS", "MIN_KIBANA", "KibanaTarget", "auth_headers", "import_objects", "kibana_version", "objects",
           "to_ndjson"]

_NS = uuid.UUID("5d3c8f0e-6a56-4b57-9f5e-0d6b2c1f4a10")


#: The versions whose format these objects are written in, as Kibana's own sample data declares them; Kibana
#: runs only the migrations after these on import (8.x and 9.x), never the ones that predate formBased Lens.
_VERSIONS = {"index-pattern": "8.0.0", "lens": "8.9.0", "dashboard": "8.9.0"}
_CORE_VERSION = "8.8.0"
#: The oldest Kibana that accepts these objects: the newest migration version they declare.
MIN_KIBANA = (8, 9, 0)


def _stamp(obj: dict[str, Any]) -> dict[str, Any]:
    obj["coreMigrationVersion"] = _CORE_VERSION
    obj["typeMigrationVersion"] = _VERSIONS[obj["type"]]
    return obj


def _id(*parts: str) -> str:
    """A stable id, so importing again overwrites instead of duplicating."""
    return str(uuid.uuid5(_NS, "/".join(parts)))


@dataclass(frozen=True)
class Chart:
    """One Lens XY chart over the KPI documents."""

    key: str
    title: str
    query: str  # KQL on the KPI documents
    operation: str  # Lens operation on kpi.value (average, max, sum) or count
    breakdown: str | None  # a keyword field to split the series by
    series: str = "line"  # line, bar_stacked, bar_horizontal
    threshold: float | None = None
    threshold_label: str = ""
    x_field: str | None = Field.TIMESTAMP  # None: bars per breakdown value, no time axis
    size: int = 10
    #: draw the observation's baseline beside the value: average kpi.expected, kpi.lower, kpi.upper
    band: bool = False


#: The dashboard's charts. KPI names are the ones the sources emit (docs/schema.rst).
CHARTS: tuple[Chart, ...] = (
    Chart("kpi-over-time", "KPI value over time, by subject", f"{Field.VALUE} : *", "average", Field.SUBJECT),
    Chart("expected-band", "Rows per file and their expected band (edit the query for another KPI or dataset)",
          f'{Field.NAME} : "file.rows" and {Field.SCORE} : *', "average", None, band=True),
    Chart("disk-used", "Disk used % per mount", f'{Field.NAME} : "disk.used_pct"', "max", Field.SUBJECT,
          threshold=90.0, threshold_label="threshold 90%"),
    Chart("rows-per-file", "Rows per file over time", f'{Field.NAME} : "file.rows"', "sum", Field.FILE_NAME,
          series="bar_stacked"),
    Chart("null-ratio", "Null ratio by column (highest in the time range)", f'{Field.NAME} : "column.null_ratio"',
          "max", Field.SUBJECT,
          series="bar_horizontal", x_field=None, size=20),
    Chart("udp-rates", "UDP datagrams per second: accepted and rejected",
          f'{Field.NAME} : ("udp.accepted_per_second" or "udp.rejected_per_second")', "average", Field.NAME),
    Chart("notifications", "Notifications", f'{Field.NAME} : "notification"', "count", Field.SUBJECT,
          series="bar_stacked"),
)

#: The anomalies table's columns: (key, label, Lens operation, field). The rows are the (dataset, KPI on subject)
#: pairs with an anomaly in the time range; the metrics are those of the newest anomaly document of each.
ANOMALY_COLUMNS: tuple[tuple[str, str, str, str], ...] = (
    ("dataset", "Dataset", "terms", Field.TEXT),
    ("what", "KPI and subject", "terms", Field.SUBJECT),
    ("time", "Last seen", "last_value", Field.TIMESTAMP),
    ("value", "Value", "last_value", Field.VALUE),
    ("lower", "Expected from", "last_value", Field.LOWER),
    ("expected", "Expected (median)", "last_value", Field.EXPECTED),
    ("upper", "Expected to", "last_value", Field.UPPER),
    ("score", "Score", "last_value", Field.SCORE),
    ("count", "Anomalies", "count", "___records___"),
)
#: The band's lines beside the value: (field, label, colour)
_BAND = ((Field.UPPER, "expected to", "#98A2B3"), (Field.EXPECTED, "expected (median)", "#54B399"),
         (Field.LOWER, "expected from", "#98A2B3"))


def _lens(chart: Chart, data_view: str, prefix: str) -> dict[str, Any]:
    layer, ref_layer = _id(prefix, chart.key, "layer"), _id(prefix, chart.key, "ref-layer")
    col_x, col_y, col_split, col_ref = (_id(prefix, chart.key, c) for c in ("x", "y", "split", "ref"))
    columns: dict[str, Any] = {}
    order: list[str] = []
    if chart.breakdown:
        columns[col_split] = {
            "label": f"Top {chart.size} {chart.breakdown}", "dataType": "string", "operationType": "terms",
            "sourceField": chart.breakdown, "isBucketed": True, "scale": "ordinal",
            "params": {"size": chart.size, "orderBy": {"type": "column", "columnId": col_y}, "orderDirection": "desc",
                       "otherBucket": True, "missingBucket": False},
        }
        order.append(col_split)
    if chart.x_field:
        columns[col_x] = {
            "label": chart.x_field, "dataType": "date", "operationType": "date_histogram",
            "sourceField": chart.x_field, "isBucketed": True, "scale": "interval",
            "params": {"interval": "auto", "includeEmptyRows": True, "dropPartials": False},
        }
        order.append(col_x)
    if chart.operation == "count":
        columns[col_y] = {"label": "Count", "dataType": "number", "operationType": "count", "isBucketed": False,
                          "scale": "ratio", "sourceField": "___records___", "params": {"emptyAsNull": True}}
    else:
        columns[col_y] = {"label": f"{chart.operation} of {Field.VALUE}", "dataType": "number",
                          "operationType": chart.operation, "sourceField": Field.VALUE, "isBucketed": False,
                          "scale": "ratio", "params": {"emptyAsNull": True}}
    order.append(col_y)
    accessors, y_config = [col_y], []
    if chart.band:  # the same layer, so the band shares the value's time buckets and axis
        y_config.append({"forAccessor": col_y, "color": "#6092C0", "axisMode": "left"})
        for field, label, color in _BAND:
            col = _id(prefix, chart.key, field)
            columns[col] = {"label": label, "customLabel": True, "dataType": "number", "operationType": "average",
                            "sourceField": field, "isBucketed": False, "scale": "ratio", "params": {"emptyAsNull": True}}
            order.append(col)
            accessors.append(col)
            y_config.append({"forAccessor": col, "color": color, "axisMode": "left"})
    layers: dict[str, Any] = {layer: {"columns": columns, "columnOrder": order, "incompleteColumns": {}}}
    vis_layers: list[dict[str, Any]] = [{
        "layerId": layer, "layerType": "data", "seriesType": chart.series, "accessors": accessors,
        "yConfig": y_config or None,
        "xAccessor": col_x if chart.x_field else (col_split if chart.breakdown else None),
        "splitAccessor": col_split if chart.breakdown and chart.x_field else None,
        "palette": {"type": "palette", "name": "default"},
    }]
    references = [{"type": "index-pattern", "id": data_view, "name": f"indexpattern-datasource-layer-{layer}"}]
    if chart.threshold is not None:
        layers[ref_layer] = {
            "columns": {col_ref: {
                "label": chart.threshold_label, "dataType": "number", "operationType": "static_value",
                "isStaticValue": True, "isBucketed": False, "scale": "ratio",
                "params": {"value": str(chart.threshold)}, "references": [], "customLabel": True}},
            "columnOrder": [col_ref], "incompleteColumns": {},
        }
        vis_layers.append({"layerId": ref_layer, "layerType": "referenceLine", "accessors": [col_ref],
                           "yConfig": [{"forAccessor": col_ref, "axisMode": "left", "color": "#E7664C",
                                        "lineWidth": 2, "lineStyle": "dashed", "textVisibility": True}]})
        references.append({"type": "index-pattern", "id": data_view,
                           "name": f"indexpattern-datasource-layer-{ref_layer}"})
    for vl in vis_layers:
        for k in [k for k, v in vl.items() if v is None]:
            del vl[k]
    state = {
        "visualization": {
            "legend": {"isVisible": True, "position": "right"}, "valueLabels": "hide",
            "preferredSeriesType": chart.series, "fittingFunction": "None", "layers": vis_layers,
        },
        "query": {"query": chart.query, "language": "kuery"},
        "filters": [],
        "datasourceStates": {"formBased": {"layers": layers}},
        "internalReferences": [],
        "adHocDataViews": {},
    }
    return {
        "id": _id(prefix, "lens", chart.key), "type": "lens", "managed": False,
        "attributes": {"title": f"[datamonitor] {chart.title}", "description": "", "visualizationType": "lnsXY",
                       "state": state},
        "references": references,
    }


def _anomalies_table(data_view: str, prefix: str) -> dict[str, Any]:
    """A Lens table of the anomaly documents: per dataset and KPI, the newest value, its band and its score.

    The form is Lens' ``lnsDatatable`` state (``DatatableVisualizationState``: ``layerId``, ``layerType``,
    ``columns`` of ``{columnId}``; elastic/kibana x-pack/plugins/lens/public/visualizations/datatable/
    visualization.tsx) over a ``formBased`` layer; ``last_value`` columns take ``params.sortField`` (its
    ``LastValueIndexPatternColumn``, operations/definitions/last_value.tsx).
    """
    layer = _id(prefix, "anomalies", "layer")
    ids = {key: _id(prefix, "anomalies", key) for key, *_rest in ANOMALY_COLUMNS}
    columns: dict[str, Any] = {}
    for key, label, operation, field in ANOMALY_COLUMNS:
        column: dict[str, Any] = {"label": label, "customLabel": True, "operationType": operation,
                                  "sourceField": field, "isBucketed": operation == "terms"}
        if operation == "terms":
            # ranked by the count: Lens before 8.1x cannot rank terms by a last_value column (its
            # isSortableByColumn); the table itself is sorted by the time, newest first
            column.update(dataType="string", scale="ordinal", params={
                "size": 100, "orderBy": {"type": "column", "columnId": ids["count"]}, "orderDirection": "desc",
                "otherBucket": False, "missingBucket": False})
        elif operation == "last_value":
            # scale: "ordinal" for strings, else "ratio", as last_value.tsx sets it
            # and the filter on the field's presence that its buildColumn adds
            column.update(dataType="date" if field == Field.TIMESTAMP else "number", scale="ratio",
                          params={"sortField": Field.TIMESTAMP, "showArrayValues": False},
                          filter={"query": f"{field}: *", "language": "kuery"})
        else:
            column.update(dataType="number", scale="ratio", params={"emptyAsNull": True})
        columns[ids[key]] = column
    state = {
        "visualization": {"layerId": layer, "layerType": "data",
                          "columns": [{"columnId": ids[key], "isTransposed": False} for key, *_r in ANOMALY_COLUMNS],
                          "sorting": {"columnId": ids["time"], "direction": "desc"},
                          "paging": {"size": 20, "enabled": True}},
        "query": {"query": f'{Field.NAME} : "anomaly"', "language": "kuery"},
        "filters": [],
        "datasourceStates": {"formBased": {"layers": {layer: {
            "columns": columns, "columnOrder": list(ids.values()), "incompleteColumns": {}}}}},
        "internalReferences": [],
        "adHocDataViews": {},
    }
    return {
        "id": _id(prefix, "lens", "anomalies"), "type": "lens", "managed": False,
        "attributes": {"title": "[datamonitor] Anomalies: the newest per dataset and KPI, with its expected band",
                       "description": "", "visualizationType": "lnsDatatable", "state": state},
        "references": [{"type": "index-pattern", "id": data_view, "name": f"indexpattern-datasource-layer-{layer}"}],
    }


def _dashboard(prefix: str, lenses: list[dict[str, Any]]) -> dict[str, Any]:
    """The dashboard: tables across the full width, charts two by two."""
    panels, refs = [], []
    x = y = 0
    for i, lens in enumerate(lenses):
        wide = lens["attributes"]["visualizationType"] == "lnsDatatable"
        if wide and x:
            x, y = 0, y + 15
        width = 48 if wide else 24
        # Kibana's own form: panelRefName "panel_<panelIndex>", reference "<panelIndex>:panel_<panelIndex>"
        # (its dashboard server's extractPanelSavedObjectId)
        name = f"panel_{i}"
        panels.append({"version": "8.11.0", "type": "lens", "panelIndex": str(i), "panelRefName": name,
                       "gridData": {"x": x, "y": y, "w": width, "h": 15, "i": str(i)},
                       "embeddableConfig": {"enhancements": {}}})
        refs.append({"type": "lens", "id": lens["id"], "name": f"{i}:{name}"})
        x += width
        if x >= 48:
            x, y = 0, y + 15
    return {
        "id": _id(prefix, "dashboard"), "type": "dashboard", "managed": False,
        "attributes": {
            "title": f"[datamonitor] KPIs ({prefix})",
            "description": "Data KPIs, their expected bands and anomalies, disks, UDP feeds and notifications "
                           "collected by datamonitor",
            "panelsJSON": json.dumps(panels, separators=(",", ":")),
            "optionsJSON": json.dumps({"useMargins": True, "syncColors": False, "hidePanelTitles": False}),
            "timeRestore": True, "timeFrom": "now-7d", "timeTo": "now",
            "refreshInterval": {"pause": False, "value": 60000},
            "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps({"query": {"query": "", "language": "kuery"},
                                                                      "filter": []})},
        },
        "references": refs,
    }


def objects(settings: EsSettings | None = None) -> list[dict[str, Any]]:
    """Every saved object, in an order Kibana can import: the data view, the charts and table, the dashboard."""
    settings = settings or EsSettings()
    prefix = settings.index_prefix
    data_view = _id(prefix, "data-view")
    pattern = search_pattern(settings)  # not prefix*: that would read dm-kpi-staging-* too
    out: list[dict[str, Any]] = [{
        "id": data_view, "type": "index-pattern", "managed": False,
        "attributes": {"title": pattern, "name": f"datamonitor KPIs ({prefix})", "timeFieldName": Field.TIMESTAMP},
        "references": [],
    }]
    lenses = [_anomalies_table(data_view, prefix), *(_lens(chart, data_view, prefix) for chart in CHARTS)]
    out.extend(lenses)
    out.append(_dashboard(prefix, lenses))
    return [_stamp(o) for o in out]


def to_ndjson(objs: list[dict[str, Any]]) -> str:
    """One object per line, as Kibana's import and export use."""
    return "".join(json.dumps(o, sort_keys=True, separators=(",", ":")) + "\n" for o in objs)


# ------------------------------------------------------------------ import

@dataclass(frozen=True)
class KibanaTarget:
    """Where Kibana is and how to log in; the credentials are the Elasticsearch ones."""

    url: str
    #: the space's id, as in Kibana's ``/s/<id>/`` URLs (not its display name); None: the default space
    space: str | None = None

    def base(self) -> str:
        """Kibana's base URL, without credentials."""
        parts = urlsplit(self.url if "://" in self.url else "http://" + self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"--kibana {self.url!r} is not an http(s) URL")
        return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}{parts.path.rstrip('/')}"

    def endpoint(self) -> str:
        space = f"/s/{quote(self.space, safe='')}" if self.space and self.space != "default" else ""
        return f"{self.base()}{space}/api/saved_objects/_import?overwrite=true"


def _multipart(ndjson: str) -> tuple[bytes, str]:
    boundary = "datamonitor-" + uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"datamonitor.ndjson\"\r\n"
            f"Content-Type: application/ndjson\r\n\r\n{ndjson}\r\n--{boundary}--\r\n").encode()
    return body, f"multipart/form-data; boundary={boundary}"


def _ssl_context(settings: EsSettings) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=settings.ca_certs)
    if settings.client_cert:
        ctx.load_cert_chain(settings.client_cert, settings.client_key)
    if not settings.verify_certs:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def auth_headers(settings: EsSettings) -> dict[str, str]:
    """The Authorization header for Kibana, from the Elasticsearch credentials (none without them)."""
    if settings.api_key:
        return {"Authorization": f"ApiKey {settings.api_key}"}
    if settings.username:
        token = base64.b64encode(f"{settings.username}:{settings.password or ''}".encode()).decode()
        return {"Authorization": f"Basic {token}"}
    return {}


def _headers(settings: EsSettings) -> dict[str, str]:
    return {"kbn-xsrf": "datamonitor", **auth_headers(settings)}


def _call(req: request.Request, settings: EsSettings, shown: str, timeout: float) -> Any:
    """Send one request to Kibana; its JSON answer, or our error with one clear line."""
    try:
        ctx = _ssl_context(settings) if req.full_url.startswith("https:") else None
        with request.urlopen(req, timeout=timeout, context=ctx) as resp:
            text = resp.read().decode("utf-8")
    except error.HTTPError as exc:
        detail = " ".join(exc.read().decode("utf-8", "replace").split())[:300]  # one line
        if exc.code == 401:
            raise RequestRejected(f"Kibana at {shown} rejected the credentials (401)") from None
        raise RequestRejected(f"Kibana at {shown} answered {exc.code}: {detail}") from None
    except (error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ClusterUnreachable(f"cannot reach Kibana at {shown}: {reason}") from None
    try:
        return json.loads(text or "{}")
    except json.JSONDecodeError:
        raise RequestRejected(f"Kibana at {shown} answered something that is not JSON: {text[:80]!r}") from None


def kibana_version(target: KibanaTarget, settings: EsSettings, timeout: float = 30.0) -> tuple[int, ...]:
    """Kibana's version, from ``GET /api/status`` (``version.number``), as a tuple such as ``(8, 19, 0)``."""
    shown = target.base()
    req = request.Request(f"{shown}/api/status", headers=_headers(settings), method="GET")
    answer = _call(req, settings, shown, timeout)
    number = (answer.get("version") or {}).get("number") if isinstance(answer, dict) else None
    try:
        return tuple(int(part) for part in str(number).split("-")[0].split("."))
    except ValueError:
        raise RequestRejected(f"Kibana at {shown}: /api/status names no version (is it Kibana, and may this user "
                              "read its status?)") from None


def _describe_failure(err: dict[str, Any], titles: dict[str, str]) -> str:
    """One rejected object: its type and title, Kibana's error type, its message, the references it misses."""
    detail = err.get("error") or {}
    text = f"{err.get('type')} {titles.get(err.get('id', ''), err.get('id'))!r}: {detail.get('type', 'error')}"
    if detail.get("message"):
        text += f" ({detail['message']})"
    missing = detail.get("references") or []
    if missing:
        text += " missing " + ", ".join(f"{r.get('type')} {r.get('id')}" for r in missing)
    return text


def import_objects(target: KibanaTarget, settings: EsSettings, objs: list[dict[str, Any]] | None = None,
                   timeout: float = 30.0) -> dict[str, Any]:
    """POST the objects to Kibana's import API; returns its answer. Every rejected object is named in the error.

    Kibana before :data:`MIN_KIBANA` is refused before anything is sent.
    """
    objs = objs if objs is not None else objects(settings)
    shown = target.base()
    version = kibana_version(target, settings, timeout)
    if version < MIN_KIBANA:
        need = ".".join(map(str, MIN_KIBANA))
        raise RequestRejected(f"Kibana at {shown} is {'.'.join(map(str, version))}; the dashboard needs Kibana {need} "
                              "or later (its Lens and dashboard objects are in the 8.9 form)")
    body, content_type = _multipart(to_ndjson(objs))
    req = request.Request(target.endpoint(), data=body, headers={**_headers(settings), "Content-Type": content_type},
                          method="POST")
    answer = _call(req, settings, shown, timeout)
    if not isinstance(answer, dict):
        raise RequestRejected(f"Kibana at {shown} answered the import with {type(answer).__name__}, not an object")
    if not answer.get("success", False):
        titles = {o["id"]: o["attributes"].get("title", o["id"]) for o in objs}
        failed = [_describe_failure(e, titles) for e in answer.get("errors", [])]
        raise RequestRejected(f"Kibana at {shown} rejected {len(failed)} object(s): {'; '.join(failed) or answer}")
    result: dict[str, Any] = answer
    return result
