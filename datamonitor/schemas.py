"""Each dataset's recent schemas, and its baseline schema: the most common of them (schema drift, like with like)."""

from __future__ import annotations

from collections import Counter
from typing import Any, Protocol

__all__ = ["SchemaHistory"]


class _State(Protocol):
    def get_meta(self, key: str) -> Any: ...

    def set_meta(self, key: str, value: Any) -> None: ...


class SchemaHistory:
    """Each dataset's recent schemas in the store's meta table; its baseline is the most common of them.

    ``get(key)`` gives ``{"schema": [[name, type], ...], "sha256": [...]}``: the
    baseline schema and the checksums of the files it was learned from, which
    :func:`~datamonitor.sources.files.drift` uses, so a file measured again is
    never drift and one odd file does not move the baseline. ``set(key, value)``
    adds a file's ``{"schema", "sha256"}`` (or a bare schema) to the history.
    """

    def __init__(self, state: _State, prefix: str = "schema:", window: int = 10) -> None:
        self._state, self._prefix, self.window = state, prefix, window

    def _recent(self, key: str) -> list[dict[str, Any]]:
        raw = self._state.get_meta(self._prefix + key)
        if isinstance(raw, list):  # the format before the history: the last schema alone
            return [{"schema": raw, "sha256": ""}] if raw else []
        if isinstance(raw, dict):
            return list(raw.get("recent", []))
        return []

    def get(self, key: str) -> dict[str, Any] | None:
        recent = self._recent(key)
        if not recent:
            return None
        counts = Counter(_schema_text(e["schema"]) for e in recent)
        top = max(counts.values())
        # ties go to the newest: a dataset that changed for good has a new baseline after half the window
        best = next(e["schema"] for e in reversed(recent) if counts[_schema_text(e["schema"])] == top)
        return {"schema": best, "sha256": [e["sha256"] for e in recent if e.get("sha256")]}

    def set(self, key: str, value: Any) -> None:
        change = self.updated(key, value)
        if change is not None:
            self._state.set_meta(*change)

    def updated(self, key: str, value: Any) -> tuple[str, Any] | None:
        """The meta key and value that adding a file's ``{"schema", "sha256"}`` makes, not saved (None: no change).

        For callers that save it in their own transaction, with the file's records.
        """
        entry = dict(value) if isinstance(value, dict) else {"schema": value, "sha256": ""}
        recent = self._recent(key)
        if entry.get("sha256") and any(e.get("sha256") == entry["sha256"] for e in recent):
            return None  # the same file again: it is in the history already
        return self._prefix + key, {"recent": [*recent, entry][-self.window:]}


def _schema_text(schema: Any) -> str:
    return "|".join(f"{n}:{t}" for n, t in schema)
