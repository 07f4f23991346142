"""The Parquet reader: a Parquet file's record batches as Polars chunks.

Parquet carries its own types, so nothing widens and no row is bad; a file
that is not readable Parquet raises a SourceError naming it. The digest is
computed from the file's bytes in a read of its own, unless the caller has it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import polars as pl

from .errors import SourceError
from .texttypes import BadRows

__all__ = ["ParquetReader"]

_BATCH_ROWS = 256_000


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
            # Polars has no 256-bit decimal (it panics): one of up to 38 digits is read as the 128-bit one it fits
            wide = {f.name: pa.decimal128(f.type.precision, f.type.scale) for f in pf.schema_arrow
                    if pa.types.is_decimal256(f.type) and f.type.precision <= 38}
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
