"""The public API is curated: pinned names, typed, no side effects on import."""

from __future__ import annotations

import subprocess
import sys
from importlib import resources

import datamonitor


def test_exported_members_are_pinned() -> None:
    assert sorted(datamonitor.__all__) == sorted([
        "AuthenticationFailed", "AuthorizationFailed", "ClusterUnreachable", "Config", "ConfigError",
        "DataMonitor", "DataMonitorError", "ElasticsearchError", "EsSettings", "KpiRecord", "NotConfigured",
        "PayloadError", "RequestRejected", "ShipResult", "SourceError", "StoreError", "__version__", "load_config",
    ])
    for name in datamonitor.__all__:
        assert hasattr(datamonitor, name)


def test_every_error_is_a_datamonitor_error() -> None:
    for name in datamonitor.__all__:
        obj = getattr(datamonitor, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, datamonitor.DataMonitorError)


def test_package_is_typed_and_ships_its_resources() -> None:
    files = resources.files("datamonitor")
    assert files.joinpath("py.typed").is_file()
    for name in ("component-mappings.json", "component-settings.json", "index-template.json", "ilm-policy.json"):
        assert files.joinpath("resources", name).is_file()


def test_import_has_no_side_effects(tmp_path) -> None:
    code = ("import logging, datamonitor, datamonitor.cli, sys; "
            "assert not logging.getLogger().handlers; assert not logging.getLogger('datamonitor').handlers; "
            "import os; assert not os.listdir('.')")
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True,
                   env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
