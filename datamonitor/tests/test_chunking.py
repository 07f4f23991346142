"""The one chunker: CSV chunks end at a newline outside quotes, JSON Lines chunks at any newline."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import random

import pandas as pd
import polars as pl
import pytest

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


def _records(data: bytes, delimiter: str = ",") -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode(), newline=""), delimiter=delimiter))


@pytest.mark.parametrize("delimiter", [",", ";"])
def test_csv_chunks_end_where_a_parser_ends_a_record_with_quotes_inside_unquoted_fields(delimiter: str) -> None:
    """A quote inside an unquoted field (5" screen) is text to Polars and to Python's csv module; counting it as a
    quote put later cuts inside quoted multi-line fields (a 20,000-row file lost 15,000 rows to bad rows). Every
    chunk, whatever the block and chunk sizes, must hold whole records: the records of the chunks, one after the
    other, are the file's."""
    rng = random.Random(7)
    fields = ['5" screen', 'say "hi"', '"a\nb"', '"x "" y\n"', '""', "plain", '"q,r"', '7"', 'a"b"c', "", '"\n\n"']
    for trial in range(60):
        rows = [delimiter.join(rng.choice(fields).replace(",", delimiter) for _ in range(3)) for _ in range(300)]
        data = ("\n".join(rows) + "\n").encode()
        whole = _records(data, delimiter)
        block, size = rng.choice([7, 64, 1000]), rng.choice([50, 300, 4096])
        blocks = _blocks(data, block)
        for _ in range(trial % 4):  # an empty block (a decoder that had no whole character yet) changes nothing
            blocks.insert(rng.randrange(len(blocks) + 1), b"")
        chunks = list(chunked(iter(blocks), size, quoted=True, delimiter=delimiter))
        assert b"".join(chunks) == data
        assert [r for chunk in chunks for r in _records(chunk, delimiter)] == whole, (trial, block, size)
        assert len(chunks) > 1


def test_a_quote_inside_an_unquoted_field_measures_every_row(tmp_path) -> None:
    """The file of the finding: an early 5" and quoted fields of several lines later; 64 KiB chunks, as pandas."""
    def text(i: int) -> str:
        return '5" screen' if i == 3 else ('"a\n\n\nb"' if i % 4 == 0 else f"w{i % 11}")

    lines = ["id,s,n"] + [f"{i},{text(i)},{i % 100}" for i in range(20_000)]
    path = tmp_path / "inches.csv"
    path.write_text("\n".join(lines) + "\n")
    prof = profile_file(path, ProfileOptions(chunk_bytes=64 << 10))
    df = pd.read_csv(path)
    assert (prof.rows, prof.bad_rows) == (len(df), 0) == (20_000, 0)
    ids = {c.name: c for c in prof.columns}["id"]
    assert (ids.type, ids.max, ids.mean) == ("integer", df["id"].max(), df["id"].mean())
