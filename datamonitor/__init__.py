"""datamonitor: KPIs about data and the machines that hold it, kept locally and shipped to Elasticsearch.

>>> from datamonitor import DataMonitor
>>> dm = DataMonitor()                                   # doctest: +SKIP
>>> docid = dm.es_send(payload={"name": "rows", "value": 6543})  # doctest: +SKIP
"""

from __future__ import annotations

__version__ = "0.1.0"

import importlib
from typing import TYPE_CHECKING, Any

from .errors import (
    AuthenticationFailed,
    AuthorizationFailed,
    ClusterUnreachable,
    ConfigError,
    DataMonitorError,
    ElasticsearchError,
    NotConfigured,
    PayloadError,
    RequestRejected,
    ResourceUnavailable,
    SourceError,
    StoreError,
)

if TYPE_CHECKING:
    from .config import Config, EsSettings, load_config
    from .monitor import DataMonitor
    from .records import KpiRecord
    from .shipping import ShipResult

#: imported on first use: measuring a file (``datamonitor.profiling``) does not load the Elasticsearch client
_LAZY = {"Config": "config", "EsSettings": "config", "load_config": "config", "DataMonitor": "monitor",
         "KpiRecord": "records", "ShipResult": "shipping"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "AuthenticationFailed",
    "AuthorizationFailed",
    "ClusterUnreachable",
    "Config",
    "ConfigError",
    "DataMonitor",
    "DataMonitorError",
    "ElasticsearchError",
    "EsSettings",
    "KpiRecord",
    "NotConfigured",
    "PayloadError",
    "RequestRejected",
    "ResourceUnavailable",
    "ShipResult",
    "SourceError",
    "StoreError",
    "__version__",
    "load_config",
]
