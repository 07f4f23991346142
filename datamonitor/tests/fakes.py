"""The fake cluster moved to :mod:`datamonitor.testing` (public); this name stays for the tests and benches."""

from __future__ import annotations

from datamonitor.testing import FakeCluster, PartialReset, api_error, fake_elasticsearch

__all__ = ["FakeCluster", "PartialReset", "api_error", "fake_elasticsearch"]
