"""The index templates and ILM policy shipped in ``resources/``, and their idempotent installation.

Templates are plain JSON files in the package, with ``{prefix}`` and
``{retention}`` filled in from the settings. Installing compares each object,
whole, with what the cluster holds and writes what differs, so running
``setup`` twice changes nothing the second time, and a template a person
changed by hand is put back.

Every object is named ``datamonitor-<prefix>...``, so no prefix can overwrite
another product's objects (Elastic's built-in ``logs-mappings``, say). Prefixes
that Elastic reserves for its own data streams are refused. Two prefixes where
one extends the other (``dm-kpi`` and ``dm-kpi-staging``) get different
priorities, the longer one higher: Elasticsearch refuses two index templates
whose patterns overlap at the same priority, and the more specific one must win.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from .config import EsSettings
from .connection import response_body
from .errors import ConfigError

__all__ = ["RESERVED_PREFIXES", "check_prefix", "install", "mapping", "plan", "priority", "rendered",
           "search_pattern"]

#: Prefixes of Elastic's built-in index templates and data streams (``logs-*-*``, ``metrics-*-*``,
#: ``synthetics-*-*``, ``traces-*-*``, ``profiling-*``...) and their component templates
#: (``logs-mappings``, ``logs-settings``, ``metrics-mappings``...): datamonitor's indices must not fall under
#: them, nor its objects replace them.
RESERVED_PREFIXES = ("logs", "metrics", "synthetics", "traces", "profiling", "apm", "ecs", "behavioral_analytics",
                     "elastic", "ilm-history", "slm-history", "kibana", "fleet", "security", "watch")
#: The base priority of datamonitor's index templates, above Elastic's built-in ones (100, 200 for some);
#: the prefix's length is added to it (see :func:`priority`).
BASE_PRIORITY = 300
#: Keys the cluster adds to a template it returns, which are not part of what was put
#: (elasticsearch-specification, indices/_types/IndexTemplate.ts: since 9.2.0).
_SERVER_KEYS = frozenset({"created_date", "created_date_millis", "modified_date", "modified_date_millis"})

_FILES = {
    "ilm_policy": "ilm-policy.json",
    "component_mappings": "component-mappings.json",
    "component_settings": "component-settings.json",
    "index_template": "index-template.json",
}


def _load(name: str) -> Any:
    return json.loads(resources.files("datamonitor.resources").joinpath(name).read_text("utf-8"))


def _fill(node: Any, values: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {_fill(k, values): _fill(v, values) for k, v in node.items()}
    if isinstance(node, list):
        return [_fill(v, values) for v in node]
    if isinstance(node, str):
        for key, val in values.items():
            node = node.replace("{" + key + "}", val)
    return node


def check_prefix(prefix: str) -> str:
    """The prefix, or :class:`ConfigError` when Elastic reserves it for its own data."""
    head = prefix.split("-", 1)[0]
    if prefix in RESERVED_PREFIXES or head in RESERVED_PREFIXES or prefix.startswith("."):
        raise ConfigError(f"elasticsearch.index_prefix {prefix!r}: {head!r} is reserved for Elastic's own templates "
                          f"and data streams ({', '.join(RESERVED_PREFIXES)}); choose another, e.g. 'dm-{prefix}'")
    return prefix


def priority(prefix: str) -> int:
    """The index template's priority: a prefix that extends another (``dm-kpi-staging``) is longer, so higher."""
    return BASE_PRIORITY + len(prefix)


def search_pattern(settings: EsSettings) -> str:
    """The index expression for this prefix's KPI indices only: ``dm-kpi`` and its dated indices.

    Not ``dm-kpi*``, which also reads the indices of a prefix that extends it
    (``dm-kpi-staging-2026.11``). Dated indices start with the year.
    """
    prefix = settings.index_prefix
    return f"{prefix},{prefix}-2*"


def _replicas(settings: EsSettings) -> dict[str, Any]:
    """``number_of_replicas`` for a number, ``auto_expand_replicas`` for a range such as ``0-1`` (the default)."""
    value = settings.replicas
    if isinstance(value, int) or str(value).isdigit():
        return {"number_of_replicas": int(value), "auto_expand_replicas": False}
    return {"auto_expand_replicas": str(value)}


def rendered(settings: EsSettings | None = None) -> dict[str, tuple[str, dict[str, Any]]]:
    """Each object as ``kind -> (name, body)``, ready for the cluster."""
    settings = settings or EsSettings()
    prefix = check_prefix(settings.index_prefix)
    values = {"prefix": prefix, "retention": settings.retention}
    base = f"datamonitor-{prefix}"
    names = {
        "ilm_policy": f"{base}-policy",
        "component_mappings": f"{base}-mappings",
        "component_settings": f"{base}-settings",
        "index_template": base,
    }
    objs = {kind: (names[kind], _fill(_load(fname), values)) for kind, fname in _FILES.items()}
    index_settings = objs["component_settings"][1]["template"]["settings"]["index"]
    index_settings["lifecycle"] = {"name": names["ilm_policy"]}
    index_settings.update(_replicas(settings))
    objs["index_template"][1]["composed_of"] = [names["component_mappings"], names["component_settings"]]
    objs["index_template"][1]["priority"] = priority(prefix)
    if settings.index_period == "none":
        # one undated index: a delete phase would drop it whole, recent documents included
        del objs["ilm_policy"][1]["policy"]["phases"]["delete"]
    return objs


def mapping() -> dict[str, Any]:
    """The document mapping (``properties`` and all) that every KPI index gets."""
    result: dict[str, Any] = _load(_FILES["component_mappings"])["template"]["mappings"]
    return result


def _same(wanted: Any, actual: Any) -> bool:
    """True when ``actual`` is ``wanted``, whole: no key missing, none added, none changed.

    Values the cluster returns as strings (``1`` -> ``"1"``, ``False`` ->
    ``"false"``) count as equal; the dates it stamps on templates are ignored.
    """
    if isinstance(wanted, dict):
        if not isinstance(actual, dict):
            return False
        keys = set(actual) - _SERVER_KEYS
        return keys == set(wanted) and all(_same(v, actual[k]) for k, v in wanted.items())
    if isinstance(wanted, list):
        return isinstance(actual, list) and len(wanted) == len(actual) and all(map(_same, wanted, actual))
    if isinstance(wanted, (bool, int, float)) and isinstance(actual, str):
        # settings and some mapping flags come back as strings: 1 -> "1", False -> "false"
        return (str(wanted).lower() if isinstance(wanted, bool) else str(wanted)) == actual
    return bool(wanted == actual)


def _current(client: Any, kind: str, name: str) -> Any:
    """What the cluster holds under ``name`` now, or None."""
    from elasticsearch import NotFoundError

    try:
        if kind == "ilm_policy":
            return response_body(client.ilm.get_lifecycle(name=name)).get(name, {}).get("policy")
        if kind.startswith("component_"):
            items = response_body(client.cluster.get_component_template(name=name)).get("component_templates", [])
            return items[0]["component_template"] if items else None
        items = response_body(client.indices.get_index_template(name=name)).get("index_templates", [])
        return items[0]["index_template"] if items else None
    except NotFoundError:
        return None


def _put(client: Any, kind: str, name: str, body: dict[str, Any]) -> None:
    if kind == "ilm_policy":
        client.ilm.put_lifecycle(name=name, policy=body["policy"])
    elif kind.startswith("component_"):
        client.cluster.put_component_template(name=name, template=body["template"], meta=body.get("_meta"))
    else:
        client.indices.put_index_template(
            name=name,
            index_patterns=body["index_patterns"],
            composed_of=body["composed_of"],
            priority=body["priority"],
            meta=body.get("_meta"),
        )


def plan(client: Any, settings: EsSettings) -> dict[str, str]:
    """What :func:`install` would do, without doing it: ``name -> create | update | unchanged``."""
    outcome: dict[str, str] = {}
    for kind, (name, body) in rendered(settings).items():
        current = _current(client, kind, name)
        wanted = body["policy"] if kind == "ilm_policy" else body
        outcome[name] = "create" if current is None else "unchanged" if _same(wanted, current) else "update"
    return outcome


def install(client: Any, settings: EsSettings) -> dict[str, str]:
    """Install the ILM policy, component templates and index template; returns ``name -> outcome``.

    The outcome is ``created``, ``updated`` or ``unchanged``. Order matters: the
    policy before the settings that name it, components before the template.
    """
    outcome: dict[str, str] = {}
    for kind, (name, body) in rendered(settings).items():
        wanted = body["policy"] if kind == "ilm_policy" else body
        current = _current(client, kind, name)
        if current is not None and _same(wanted, current):
            outcome[name] = "unchanged"
            continue
        _put(client, kind, name, body)
        outcome[name] = "created" if current is None else "updated"
    return outcome
