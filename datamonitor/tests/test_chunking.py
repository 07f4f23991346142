"""The one chunker: CSV chunks end at a newline outside quotes, JSON Lines chunks at any newline."""

from __future__ import annotations

import dataclasses
import json
import math

import polars as pl

from datamonitor.chunking import chunked
from datamonitor.profiling import ProfileOptions, profile_file


def _blocks(data: bytes, size: int) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)]


def test_csv_chunks_never_cut_inside_quotes() -> None:
    data = b"".join(b'%d,"a\nb",x\n' % i for i in range(500))
    chunks = list(chunked(iter(_blocks(data, 7)), 64, quoted=True))
    assert b"".join(chunks) == data and len(chunks) > 10
    for chunk in chunks:
        assert chunk.endswith(b"\n") and chunk.count(b'"') % 2 == 0


def test_json_lines_chunks_cut_at_any_newline_whatever_the_quotes() -> None:
    lines = [json.dumps({"i": i, "s": 'say \\"hi\\" "' * (i % 3)}).encode() + b"\n" for i in range(500)]
    data = b"".join(lines)
    chunks = list(chunked(iter(_blocks(data, 7)), 64, quoted=False))
    assert b"".join(chunks) == data and len(chunks) > 10
    assert all(chunk.endswith(b"\n") and json.loads(chunk.splitlines()[0]) for chunk in chunks)


def test_the_last_chunk_ends_with_a_newline() -> None:
    assert list(chunked(iter([b"a\nb"]), 1 << 20, quoted=False)) == [b"a\nb\n"]


def test_json_lines_with_escaped_quotes_measure_the_same_in_small_chunks(tmp_path) -> None:
    path = tmp_path / "q.jsonl"
    rows = [{"i": i, "s": 'x"y\\' * (i % 4), "f": i / 3 if i % 5 else None} for i in range(3000)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    whole, small = profile_file(path), profile_file(path, ProfileOptions(chunk_bytes=1000))
    assert whole.rows == small.rows == 3000 and len(whole.columns) == len(small.columns)
    for a, b in zip(whole.columns, small.columns, strict=True):  # means merged over chunks: equal to the last bits
        assert dataclasses.replace(a, mean=None, std=None) == dataclasses.replace(b, mean=None, std=None)
        assert a.mean == b.mean or math.isclose(a.mean, b.mean, rel_tol=1e-12), a.name
        assert a.std == b.std or math.isclose(a.std, b.std, rel_tol=1e-12), a.name
    oracle = pl.DataFrame(rows)
    by_name = {c.name: c for c in small.columns}
    assert by_name["s"].distinct == oracle["s"].n_unique() and by_name["f"].nulls == oracle["f"].null_count()
