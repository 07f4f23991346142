"""Kibana's saved objects for the KPI indices: a data view, Lens charts and tables, a dashboard.

The objects are built here from small chart specs, so the index prefix can change;
``resources/kibana-objects.ndjson`` is the rendering for the default prefix, shipped for
people who import by hand (a test keeps the two equal; regenerate it with
``python -c "from datamonitor.kibana import objects, to_ndjson; print(to_ndjson(objects()), end='')"``).
Fixed ids, so importing again replaces rather than duplicates. :mod:`datamonitor.kibana`
imports them.

The Lens and dashboard objects are written in the 8.9.0 form (and Lens' ``formBased``
layers exist only from 8.6): Kibana refuses a document that declares a migration version
newer than its own last migration for the type, hence :data:`MIN_KIBANA`.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from .config import EsSettings
from .records import Field
from .templates import search_pattern

__all__ = ["ANOMALY_COLUMNS", "CHARTS", "MIN_KIBANA", "Chart", "objects", "to_ndjson"]

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


def _lens_object(prefix: str, key: str, title: str, kind: str, visualization: dict[str, Any], query: str,
                 layers: dict[str, Any], references: list[dict[str, Any]]) -> dict[str, Any]:
    """A Lens saved object over ``formBased`` layers: ``kind`` is its visualization type (lnsXY, lnsDatatable)."""
    state = {
        "visualization": visualization,
        "query": {"query": query, "language": "kuery"},
        "filters": [],
        "datasourceStates": {"formBased": {"layers": layers}},
        "internalReferences": [],
        "adHocDataViews": {},
    }
    return {
        "id": _id(prefix, "lens", key), "type": "lens", "managed": False,
        "attributes": {"title": f"[datamonitor] {title}", "description": "", "visualizationType": kind,
                       "state": state},
        "references": references,
    }


def _value_column(chart: Chart) -> dict[str, Any]:
    """The chart's y column: the count of documents, or the operation on ``kpi.value``."""
    if chart.operation == "count":
        return {"label": "Count", "dataType": "number", "operationType": "count", "isBucketed": False,
                "scale": "ratio", "sourceField": "___records___", "params": {"emptyAsNull": True}}
    return {"label": f"{chart.operation} of {Field.VALUE}", "dataType": "number",
            "operationType": chart.operation, "sourceField": Field.VALUE, "isBucketed": False,
            "scale": "ratio", "params": {"emptyAsNull": True}}


def _xy_layer(chart: Chart, prefix: str, layer: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The chart's data layer: its formBased columns, and its layer in the XY visualization."""
    col_x, col_y, col_split = (_id(prefix, chart.key, c) for c in ("x", "y", "split"))
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
    columns[col_y] = _value_column(chart)
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
    vis_layer = {
        "layerId": layer, "layerType": "data", "seriesType": chart.series, "accessors": accessors,
        "yConfig": y_config or None,
        "xAccessor": col_x if chart.x_field else (col_split if chart.breakdown else None),
        "splitAccessor": col_split if chart.breakdown and chart.x_field else None,
        "palette": {"type": "palette", "name": "default"},
    }
    return ({"columns": columns, "columnOrder": order, "incompleteColumns": {}},
            {k: v for k, v in vis_layer.items() if v is not None})


def _threshold_layer(chart: Chart, prefix: str, layer: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A dashed reference line at the chart's threshold: its formBased layer and its layer in the visualization."""
    col_ref = _id(prefix, chart.key, "ref")
    columns = {col_ref: {
        "label": chart.threshold_label, "dataType": "number", "operationType": "static_value",
        "isStaticValue": True, "isBucketed": False, "scale": "ratio",
        "params": {"value": str(chart.threshold)}, "references": [], "customLabel": True}}
    vis_layer = {"layerId": layer, "layerType": "referenceLine", "accessors": [col_ref],
                 "yConfig": [{"forAccessor": col_ref, "axisMode": "left", "color": "#E7664C",
                              "lineWidth": 2, "lineStyle": "dashed", "textVisibility": True}]}
    return {"columns": columns, "columnOrder": [col_ref], "incompleteColumns": {}}, vis_layer


def _lens(chart: Chart, data_view: str, prefix: str) -> dict[str, Any]:
    """One XY chart: its data layer, and a reference line where it has a threshold."""
    layer_ids = [_id(prefix, chart.key, "layer")]
    if chart.threshold is not None:
        layer_ids.append(_id(prefix, chart.key, "ref-layer"))
    data_layer, data_vis = _xy_layer(chart, prefix, layer_ids[0])
    layers: dict[str, Any] = {layer_ids[0]: data_layer}
    vis_layers = [data_vis]
    if chart.threshold is not None:
        layers[layer_ids[1]], ref_vis = _threshold_layer(chart, prefix, layer_ids[1])
        vis_layers.append(ref_vis)
    visualization = {
        "legend": {"isVisible": True, "position": "right"}, "valueLabels": "hide",
        "preferredSeriesType": chart.series, "fittingFunction": "None", "layers": vis_layers,
    }
    references = [{"type": "index-pattern", "id": data_view, "name": f"indexpattern-datasource-layer-{layer}"}
                  for layer in layer_ids]
    return _lens_object(prefix, chart.key, chart.title, "lnsXY", visualization, chart.query, layers, references)


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
    visualization = {"layerId": layer, "layerType": "data",
                     "columns": [{"columnId": ids[key], "isTransposed": False} for key, *_r in ANOMALY_COLUMNS],
                     "sorting": {"columnId": ids["time"], "direction": "desc"},
                     "paging": {"size": 20, "enabled": True}}
    layers = {layer: {"columns": columns, "columnOrder": list(ids.values()), "incompleteColumns": {}}}
    references = [{"type": "index-pattern", "id": data_view, "name": f"indexpattern-datasource-layer-{layer}"}]
    return _lens_object(prefix, "anomalies", "Anomalies: the newest per dataset and KPI, with its expected band",
                        "lnsDatatable", visualization, f'{Field.NAME} : "anomaly"', layers, references)


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
