"""Decoded text in chunks of whole records, for the CSV and the JSON Lines readers.

A chunk is about ``size`` bytes, cut after a newline, and costs one copy of
the bytes (the blocks of a chunk are joined once). A CSV record may hold a
newline inside quotes, so its chunks are cut only where the quotes before
the newline are balanced; a JSON Lines record never holds a raw newline (and
its escaped quotes would upset a count of them), so it is cut at any newline.

Counting quotes gives the quote state only when every quote is where a CSV
parser takes it for one: opening a field (after a delimiter or a newline),
doubled inside one, or closing it. A quote inside an unquoted field (``5"
screen``) is text to Polars and to Python's csv module, and would flip the
count: a chunk holding one (found with numpy, :func:`_plain`) is cut by
reading its quotes as a parser does (:func:`_quoted_spans`), one quote at a
time.
"""

from __future__ import annotations

import bisect
import codecs
from collections.abc import Iterator

import numpy as np

from .errors import SourceError

__all__ = ["chunked", "decode_blocks"]


def chunked(blocks: Iterator[bytes], size: int, *, quoted: bool, first: int | None = None,
            delimiter: str = ",") -> Iterator[bytes]:
    """Runs of whole records, each ending with a newline; ``quoted``: cut only at a newline outside quotes.

    :param first: the size of the first chunk, when it differs.
    :param delimiter: the CSV's (a quote opens a field only after one, or after a newline).
    """
    pending: list[bytes] = []
    held = quotes = 0  # bytes and quote characters in the pending blocks
    plain = True  # the pending blocks' quotes are all where their count takes them (_plain)
    delim = delimiter.encode()[-1]
    limit = first or size
    for block in blocks:
        if quoted and plain:
            plain = _plain(block, quotes, pending[-1][-1] if pending and pending[-1] else _NEWLINE, delim)
        # a block longer than a chunk (8 MiB read, a small ``size``) is cut into several, near ``size`` each
        while held + len(block) >= limit and limit - held < len(block) - 1:
            start = max(limit - held, 0)
            if plain:
                cut = _cut_after(block, start, quotes if quoted else None)
            else:
                cut = _parsed_cut(pending, block, delim, after=start)
            if cut < 0:
                break
            pending.append(block[:cut])
            yield b"".join(pending)
            block, pending, held, quotes, limit = block[cut:], [], 0, 0, size
            plain = not quoted or _plain(block, 0, _NEWLINE, delim)
        if held + len(block) < limit:
            cut = -1
        else:
            cut = _cut(block, quotes if quoted else None) if plain else _parsed_cut(pending, block, delim)
        if cut < 0:  # not a chunk yet, or no record ends in this block (a very long one): keep reading
            pending.append(block)
            held += len(block)
            if quoted:
                quotes += _quotes(block)
            continue
        pending.append(block[:cut])
        yield b"".join(pending)
        rest = block[cut:]
        pending, held, quotes, limit = [rest], len(rest), _quotes(rest) if quoted else 0, size
        plain = not quoted or _plain(rest, 0, _NEWLINE, delim)
    data = b"".join(pending)
    if data:
        yield data if data.endswith(b"\n") else data + b"\n"


_NEWLINE, _QUOTE = ord("\n"), ord('"')


def _plain(block: bytes, before: int, last: int, delim: int) -> bool:
    """Whether counting quotes gives the quote state through ``block``: each quote the count takes for an opening
    one (even-numbered since the chunk began, ``before`` quotes having come before the block, whose previous byte
    is ``last``) follows a delimiter or a newline, where a quoted field may open, or doubles the quote before it.
    A quote inside an unquoted field (``5" screen``) does neither."""
    if b'"' not in block:
        return True
    data = np.frombuffer(block, dtype=np.uint8)
    opening = np.flatnonzero(data == _QUOTE)[before % 2::2]
    if not len(opening):
        return True
    prev = data[np.maximum(opening - 1, 0)]
    if opening[0] == 0:
        prev[0] = last
    return bool(((prev == delim) | (prev == _NEWLINE) | (prev == _QUOTE)).all())


def _quoted_spans(data: bytes, delim: int) -> list[tuple[int, int]]:
    """The spans of ``data`` (a chunk's start onwards) inside quoted fields, from the opening quote to the closing
    one, read as Polars and Python's csv module read them: a quote opens a field only at its start (after a
    delimiter or a newline); inside, a doubled quote is a quote and a single one closes the field."""
    spans = []
    find, pos = data.find, 0
    while (q := find(b'"', pos)) >= 0:
        if q and data[q - 1] not in (delim, _NEWLINE):  # a quote inside an unquoted field is text
            pos = q + 1
            continue
        end = find(b'"', q + 1)
        while end >= 0 and data[end + 1:end + 2] == b'"':
            end = find(b'"', end + 2)
        if end < 0:  # open to the end of the data
            spans.append((q, len(data)))
            break
        spans.append((q, end))
        pos = end + 1
    return spans


def _parsed_cut(pending: list[bytes], block: bytes, delim: int, after: int | None = None) -> int:
    """Where to cut ``block`` (the chunk's ``pending`` blocks before it), its quotes read one by one
    (:func:`_quoted_spans`): after its last newline outside quotes, or with ``after``, after its first one at or past
    that offset; -1 when there is none."""
    base = sum(len(b) for b in pending)
    data = b"".join([*pending, block])
    spans = _quoted_spans(data, delim)
    starts = [s for s, _e in spans]

    def outside(n: int) -> bool:
        i = bisect.bisect_left(starts, n) - 1
        return i < 0 or spans[i][1] < n

    if after is None:
        end = data.rfind(b"\n", base)
        while end >= 0 and not outside(end):
            end = data.rfind(b"\n", base, end)
    else:
        end = data.find(b"\n", base + after)
        while end >= 0 and not outside(end):
            end = data.find(b"\n", end + 1)
    return end + 1 - base if end >= 0 else -1


def _cut(block: bytes, quotes_before: int | None) -> int:
    """Where to cut ``block``: after its last newline (outside quotes, unless ``quotes_before`` is None), or -1."""
    end = block.rfind(b"\n")
    if end < 0:
        return -1
    if quotes_before is None:
        return end + 1
    inside = (quotes_before + (block.count(b'"', 0, end) if b'"' in block else 0)) % 2
    while inside:
        prev = block.rfind(b"\n", 0, end)
        if prev < 0:
            return -1
        inside = (inside + block.count(b'"', prev, end)) % 2
        end = prev
    return end + 1


def _cut_after(block: bytes, start: int, quotes_before: int | None) -> int:
    """Where to cut ``block``: after its first newline at or past ``start`` (outside quotes, unless
    ``quotes_before`` is None), or -1."""
    end = block.find(b"\n", start)
    if end < 0 or quotes_before is None:
        return end + 1 if end >= 0 else -1
    inside = (quotes_before + (block.count(b'"', 0, end) if b'"' in block else 0)) % 2
    while inside:
        nxt = block.find(b"\n", end + 1)
        if nxt < 0:
            return -1
        inside = (inside + block.count(b'"', end, nxt)) % 2
        end = nxt
    return end + 1


def _quotes(data: bytes) -> int:
    """How many quote characters: most files have none, and a search for one is much cheaper than a count."""
    return data.count(b'"') if b'"' in data else 0


def decode_blocks(blocks: Iterator[bytes], encoding: str) -> Iterator[bytes]:
    """UTF-8 bytes from blocks in ``encoding`` (a BOM dropped); UTF-8 passes through untouched."""
    if encoding in ("utf-8", "utf8"):
        yield from blocks
        return
    if encoding == "utf-8-sig":
        first = True
        for block in blocks:
            if first and block.startswith(codecs.BOM_UTF8):
                block = block[3:]
            first = False
            yield block
        return
    try:
        decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    except LookupError:
        raise SourceError(f"unknown encoding {encoding!r}") from None
    first = True
    for block in blocks:
        try:
            text = decoder.decode(block)
        except UnicodeDecodeError as exc:
            raise SourceError(f"not {encoding}: {exc.reason} at byte {exc.start} of a block") from None
        if first and text.startswith("\ufeff"):
            text = text[1:]
        first = False
        yield text.encode("utf-8")
    tail = decoder.decode(b"", final=True)
    if tail:
        yield tail.encode("utf-8")
