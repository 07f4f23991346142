"""datamonitor: KPIs about data and the machines that hold it, kept locally and shipped to Elasticsearch.

>>> from datamonitor import DataMonitor
>>> dm = DataMonitor()                                   # doctest: +SKIP
>>> docid = dm.es_send(payload={"name": "rows", "value": 6543})  # doctest: +SKIP
"""

from __future__ import annotations

__version__ = "0.1.0"

from .config import Config, EsSettings, load_config
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
from .monitor import DataMonitor
from .records import KpiRecord
from .shipping import ShipResult

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
