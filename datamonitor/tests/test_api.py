"""The public API is curated: pinned names, typed, no side effects on import."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib import resources
from pathlib import Path

import datamonitor

ROOT = Path(__file__).resolve().parents[2]


def test_exported_members_are_pinned() -> None:
    assert sorted(datamonitor.__all__) == sorted([
        "AuthenticationFailed", "AuthorizationFailed", "ClusterUnreachable", "Config", "ConfigError",
        "DataMonitor", "DataMonitorError", "ElasticsearchError", "EsSettings", "KpiRecord", "NotConfigured",
        "PayloadError", "RequestRejected", "ResourceUnavailable", "ShipResult", "SourceError", "StoreError",
        "__version__", "load_config",
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


def test_the_readme_example_runs_verbatim_under_plain_elasticmock() -> None:
    """Users test their own code with ElasticMock's ``@elasticmock``; es_send failed there on ``client._otel``."""
    from elasticmock import elasticmock

    block = re.search(r"```python\n(.*?)```", (ROOT / "README.md").read_text("utf-8"), re.S)
    assert block is not None and "es_send_bulk" in block.group(1)
    scope: dict[str, object] = {"payloads": [{"name": "rows", "value": i, "subject": f"f{i}.csv"} for i in range(5)]}

    @elasticmock
    def run() -> None:
        exec(compile(block.group(1), "README.md", "exec"), scope)

    run()
    got = scope["dm"].es_get(index="dm-kpi-v0", docid=scope["docid"])  # type: ignore[attr-defined]
    assert got["found"] and got["_source"]["kpi"]["value"] == 6543
    result = scope["result"]
    assert (result.created, result.dead, result.pending, result.error) == (5, 0, 0, None)  # type: ignore[attr-defined]
    scope["dm"].close()  # type: ignore[attr-defined]


def test_the_pytest_plugin_gives_users_the_fake_cluster(tmp_path: Path) -> None:
    """``datamonitor.testing`` is public; its fixture reaches users through the ``pytest11`` entry point."""
    assert '"pytest11": ["datamonitor = datamonitor.pytest_plugin"]' in (ROOT / "setup.py").read_text("utf-8")
    (tmp_path / "test_user.py").write_text(
        "from datamonitor import DataMonitor\n"
        "def test_ship(fake_clusters, tmp_path):\n"
        "    from datamonitor import load_config\n"
        "    dm = DataMonitor(load_config(home=tmp_path))\n"
        "    dm.es_connect('http://es.example:9200')\n"
        "    doc = dm.es_send(payload={'name': 'rows', 'value': 3})\n"
        "    cluster = fake_clusters['http://es.example:9200']\n"
        "    assert cluster.accepted == [(cluster.accepted[0][0], doc)]\n"
        "    dm.close()\n")
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "datamonitor.pytest_plugin", "-p", "no:cacheprovider",
                           str(tmp_path / "test_user.py")], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
