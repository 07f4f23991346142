"""The Parquet reader: a Parquet file's record batches as Polars chunks.

Parquet carries its own types, so nothing widens and no row is bad; a file
that is not readable Parquet raises a SourceError naming it. The digest is
computed from the file's bytes in a read of its own, unless the caller has it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import polars as pl

from .errors import SourceError
from .texttypes import BadRows

__all__ = ["ParquetReader"]

_BATCH_ROWS = 256_000
#: a time zone that is a fixed offset ("+05:30", what pandas writes for ``datetime.timezone``): Polars takes none
_OFFSET = re.compile(r"[+-]\d\d:?\d\d")


def _readable(schema: Any) -> dict[str, Any]:
    """The columns to cast before Polars reads them, and to what: a 256-bit decimal of up to 38 digits to the 128-bit
    one it fits (Polars has none, and panics), a time zone that is a fixed offset to UTC (the same instants)."""
    import pyarrow as pa

    casts = {}
    for f in schema:
        if pa.types.is_decimal256(f.type) and f.type.precision <= 38:
            casts[f.name] = pa.decimal128(f.type.precision, f.type.scale)
        elif pa.types.is_timestamp(f.type) and f.type.tz and _OFFSET.fullmatch(f.type.tz):
            casts[f.name] = pa.timestamp(f.type.unit, "UTC")
    return casts


class ParquetReader:
    """The record batches of one Parquet file, as Polars chunks (an empty file: its columns, no rows)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.bad = BadRows()
        self.names: list[str] = []
        self.bytes_read = 0
        self.chunk_ascii = False
        self.null_text: tuple[str, ...] = ()
        self.text_times: dict[str, Callable[[pl.Series], pl.Series]] = {}

    def chunks(self) -> Iterator[pl.DataFrame]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            pf = pq.ParquetFile(self.path)
            wide = _readable(pf.schema_arrow)
            empty = True
            for batch in pf.iter_batches(batch_size=_BATCH_ROWS):
                empty = False
                if wide:
                    batch = pa.RecordBatch.from_arrays(
                        [col.cast(wide[name]) if name in wide else col
                         for name, col in zip(batch.schema.names, batch.columns, strict=True)],
                        names=batch.schema.names)
                yield pl.DataFrame(pl.from_arrow(batch))
            if empty:
                yield pl.DataFrame(pl.from_arrow(pf.schema_arrow.empty_table()))
        except (pa.ArrowException, OSError) as exc:
            raise SourceError(f"not a readable Parquet file: {str(exc).splitlines()[0]}", path=self.path) from None
