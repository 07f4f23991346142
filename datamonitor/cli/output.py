"""How the command line prints: JSON lines, tables, key-value pairs, the rows of documents, shipping's outcome."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from ..cliutil import truncate
from ..errors import EXIT_OK, EXIT_REJECTED, EXIT_UNDELIVERED
from ..records import KpiRecord, document_id, read, to_document

__all__ = ["doc_rows", "identified", "kv", "print_json", "printable_text", "ship_exit", "table"]


def print_json(obj: Any, out: TextIO) -> None:
    out.write(json.dumps(obj, sort_keys=True, ensure_ascii=False) + "\n")


def table(rows: Sequence[Sequence[Any]], header: Sequence[str], out: TextIO) -> None:
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(header)]
    out.write("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip() + "\n")
    for r in cells:
        out.write("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() + "\n")


def identified(record: KpiRecord) -> dict[str, Any]:
    """A record as one line of ``--json``: its document, as records builds it, with its ``_id`` first."""
    return {"_id": document_id(record), **to_document(record)}


def kv(pairs: Sequence[tuple[str, Any]], out: TextIO) -> None:
    width = max(len(k) for k, _ in pairs)
    for key, val in pairs:
        out.write(f"{key.ljust(width)}  {'-' if val is None else val}\n")


DOC_HEADER = ["@timestamp", "kpi", "subject", "value", "unit", "file", "dataset", "labels", "id"]


def doc_rows(hits: Sequence[dict[str, Any]]) -> list[list[Any]]:
    """One table row per document; long values (schemas, checksums) are cut, ``--json`` has them whole."""
    rows = []
    for h in hits:
        f = read(h["_source"])
        value = f.value if f.value is not None else f.text
        labels = ",".join(f"{k}={v}" for k, v in sorted(f.labels.items()))
        rows.append([f.timestamp, f.name, truncate(str(f.subject or ""), 30),
                     truncate(f"{value:.6g}" if isinstance(value, float) else str(value if value is not None else "")),
                     f.unit, truncate(str(f.file_name or ""), 30), f.dataset, truncate(labels, 30), h["_id"]])
    return rows


def printable_text(text: str) -> str:
    """Text with undecodable bytes (surrogates from file names) shown as escapes, so printing never fails."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def ship_exit(result: Any) -> int:
    """One line and the exit code for a shipping run that did not deliver everything."""
    if result.error:
        sys.stderr.write(f"datamonitor: {result.error}; {result.pending} document(s) wait in the store\n")
        return EXIT_UNDELIVERED
    if result.dead:
        sys.stderr.write(f"datamonitor: {result.dead} document(s) rejected for good; see 'datamonitor status'\n")
        return EXIT_REJECTED
    return EXIT_OK
