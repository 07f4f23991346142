"""The pytest plugin (entry point ``pytest11``): the ``fake_clusters`` fixture of :mod:`datamonitor.testing`.

Loaded by pytest in every project where datamonitor is installed, so it
imports nothing heavy until a test asks for the fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .testing import FakeCluster

__all__ = ["fake_clusters"]


@pytest.fixture
def fake_clusters() -> Iterator[dict[str, FakeCluster]]:
    """``elasticsearch.Elasticsearch`` patched with :class:`~datamonitor.testing.FakeCluster`, one per first host.

    Yields the clusters made so far, keyed by their first host, e.g.
    ``fake_clusters["http://localhost:9200"]`` after ``dm.es_connect()``.
    """
    from .testing import fake_elasticsearch

    with fake_elasticsearch() as clusters:
        yield clusters
