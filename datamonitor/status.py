"""What ``status`` reports: the store's counts and sizes, and whether the cluster answers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from .records import format_timestamp
from .store import Store

__all__ = ["dead_letters", "status"]


def status(store: Store, cluster: str | None, info: Callable[[], dict[str, Any]] | None) -> dict[str, Any]:
    """Store size, counts by state, last shipment; with ``info`` (the cluster's ``GET /``), whether it answers.

    :param cluster: the configured hosts, described for people; None without a cluster.
    """
    stats = store.stats()
    out: dict[str, Any] = {
        "store": stats.path,
        "store_bytes": stats.size_bytes,
        "documents": stats.total,
        "pending": stats.pending,
        "shipped": stats.shipped,
        "dead": stats.dead,
        "oldest_pending": _iso(stats.oldest_pending),
        "last_shipment": _iso(stats.last_shipment),
        "backlog_bytes": stats.backlog_bytes,
        "max_size": stats.max_size,
        "when_full": stats.when_full,
        "dropped": stats.dropped,
        "refused": stats.refused,
        "cluster": cluster,
        "reachable": None,
        "cluster_version": None,
        "cluster_error": None,
    }
    if info is not None:
        try:
            answer = info()
            out["reachable"] = True
            out["cluster_version"] = answer.get("version", {}).get("number")
        except Exception as exc:  # noqa: BLE001 - status reports any failure as "unreachable"
            out["reachable"] = False
            out["cluster_error"] = str(exc)
    return out


def dead_letters(store: Store, limit: int = 100) -> list[dict[str, Any]]:
    """Documents the cluster rejected for good, with the reason."""
    return [{"_index": d.index, "_id": d.doc_id, "reason": d.last_error, "attempts": d.attempts}
            for d in store.dead(limit)]


def _iso(ts: float | None) -> str | None:
    return None if ts is None else format_timestamp(datetime.fromtimestamp(ts, tz=timezone.utc))
