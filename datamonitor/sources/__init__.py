"""Sources: things that yield KPI records. One module each; ``files`` is the first."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

from ..records import KpiRecord

__all__ = ["Source"]


@runtime_checkable
class Source(Protocol):
    """A plug-in point: anything with a name that yields KPI records when asked."""

    name: str

    def collect(self) -> Iterator[KpiRecord]:
        """Measure once and yield the records."""
        ...
