"""The index templates and ILM policy shipped in ``resources/``, and their idempotent installation.

Templates are plain JSON files in the package, with ``{prefix}`` and
``{retention}`` filled in from the settings. Installing compares each object
with what the cluster holds and writes only what differs, so running
``setup`` twice changes nothing the second time.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from .config import EsSettings
from .connection import response_body

__all__ = ["install", "mapping", "plan", "rendered"]

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


def rendered(settings: EsSettings | None = None) -> dict[str, tuple[str, dict[str, Any]]]:
    """Each object as ``kind -> (name, body)``, ready for the cluster."""
    settings = settings or EsSettings()
    prefix = settings.index_prefix
    values = {"prefix": prefix, "retention": settings.retention}
    names = {
        "ilm_policy": f"{prefix}-policy",
        "component_mappings": f"{prefix}-mappings",
        "component_settings": f"{prefix}-settings",
        "index_template": prefix,
    }
    return {kind: (names[kind], _fill(_load(fname), values)) for kind, fname in _FILES.items()}


def mapping() -> dict[str, Any]:
    """The document mapping (``properties`` and all) that every KPI index gets."""
    result: dict[str, Any] = _load(_FILES["component_mappings"])["template"]["mappings"]
    return result


def _subset(wanted: Any, actual: Any) -> bool:
    """True when everything in ``wanted`` is in ``actual`` (the cluster adds defaults of its own)."""
    if isinstance(wanted, dict):
        return isinstance(actual, dict) and all(k in actual and _subset(v, actual[k]) for k, v in wanted.items())
    if isinstance(wanted, list):
        return isinstance(actual, list) and len(wanted) == len(actual) and all(map(_subset, wanted, actual))
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
        outcome[name] = "create" if current is None else "unchanged" if _subset(wanted, current) else "update"
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
        if current is not None and _subset(wanted, current):
            outcome[name] = "unchanged"
            continue
        _put(client, kind, name, body)
        outcome[name] = "created" if current is None else "updated"
    return outcome
