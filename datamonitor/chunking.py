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
count: from the first block holding one (found with numpy, :func:`_plain`)
the quotes are read as a parser reads them (:class:`_Walk`), one at a time.
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
    last = _NEWLINE  # the byte before the next block (a chunk starts after a newline)
    walk: _Walk | None = None  # while a chunk holds a quote a count would misread: the quotes read one by one
    delim = delimiter.encode()[-1]
    limit = first or size
    for block in blocks:
        if not block:
            continue
        if quoted and walk is None and not _plain(block, quotes, last, delim):
            walk = _Walk(delim)
            for done in pending:  # the chunk so far, from its start
                walk.spans(done)
        spans = walk.spans(block) if walk is not None else []
        last = block[-1]
        base = 0  # where ``block`` starts in the block as read (the coordinates of ``spans``)
        # a block longer than a chunk (8 MiB read, a small ``size``) is cut into several, near ``size`` each
        while held + len(block) >= limit and limit - held < len(block) - 1:
            start = max(limit - held, 0)
            if walk is None:
                cut = _cut_after(block, start, quotes if quoted else None)
            else:
                cut = _outside(block, spans, base, start, first=True)
            if cut < 0:
                break
            pending.append(block[:cut])
            yield b"".join(pending)
            block, pending, held, quotes, limit, base = block[cut:], [], 0, 0, size, base + cut
            if walk is not None and _plain(block, 0, _NEWLINE, delim):  # a new chunk: counting may do again
                walk = None
        if held + len(block) < limit:
            cut = -1
        else:
            cut = _cut(block, quotes if quoted else None) if walk is None else _outside(block, spans, base, 0)
        if cut < 0:  # not a chunk yet, or no record ends in this block (a very long one): keep reading
            pending.append(block)
            held += len(block)
            if quoted and walk is None:
                quotes += _quotes(block)
            continue
        pending.append(block[:cut])
        yield b"".join(pending)
        rest = block[cut:]
        if walk is not None and _plain(rest, 0, _NEWLINE, delim):  # a new chunk: counting may do again
            walk = None
        pending, held, quotes, limit = [rest], len(rest), _quotes(rest) if quoted and walk is None else 0, size
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


class _Walk:
    """The quotes of a CSV read one by one, block after block, as Polars and Python's csv module read them: a quote
    opens a field only at its start (after a delimiter or a newline); inside, a doubled quote is a quote and a
    single one closes the field. Its cost is a step per quote, so it takes over only from the first block whose
    quotes a count would misread (:func:`_plain`), until a chunk ends before a block a count reads right (each cut
    is at a newline outside quotes, where a reading starts anew)."""

    def __init__(self, delim: int) -> None:
        self.delim = delim
        self.inside = False
        self.last = _NEWLINE  # the byte before the next block
        self.quote_at_end = False  # inside a field, the last block ended with a quote: doubled, or the close?

    def spans(self, block: bytes) -> list[tuple[int, int]]:
        """The parts of ``block`` inside quoted fields, as (start, end): the bytes strictly between are inside (start
        -1 for a field opened in a block before, end ``len(block)`` for one that goes on)."""
        out: list[tuple[int, int]] = []
        find, n, pos, start = block.find, len(block), 0, -1
        if self.quote_at_end:
            self.quote_at_end = False
            if block[:1] == b'"':
                pos = 1  # the second of a doubled quote: still inside
            else:
                self.inside = False
        while True:
            if self.inside:
                q = find(b'"', pos)
                while 0 <= q < n - 1 and block[q + 1] == _QUOTE:
                    q = find(b'"', q + 2)
                if q < 0 or q == n - 1:
                    self.quote_at_end = q == n - 1
                    out.append((start, n))
                    break
                out.append((start, q))
                self.inside, pos = False, q + 1
            else:
                q = find(b'"', pos)
                if q < 0:
                    break
                if (block[q - 1] if q else self.last) in (self.delim, _NEWLINE):
                    self.inside, start = True, q
                pos = q + 1
        self.last = block[-1] if n else self.last
        return out


def _outside(block: bytes, spans: list[tuple[int, int]], base: int, at: int, *, first: bool = False) -> int:
    """Where to cut ``block`` (``block`` starting at ``base`` in the coordinates of ``spans``): after its last newline
    outside quotes, or with ``first``, after its first one at or past ``at``; -1 when there is none."""
    starts = [s for s, _e in spans]

    def inside(n: int) -> bool:
        i = bisect.bisect_left(starts, n + base) - 1
        return i >= 0 and spans[i][1] > n + base

    if first:
        end = block.find(b"\n", at)
        while end >= 0 and inside(end):
            end = block.find(b"\n", end + 1)
    else:
        end = block.rfind(b"\n")
        while end >= 0 and inside(end):
            end = block.rfind(b"\n", 0, end)
    return end + 1 if end >= 0 else -1


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
        if not text:  # a block shorter than one character (UTF-16): nothing yet, and the BOM may still come
            continue
        if first and text.startswith("\ufeff"):
            text = text[1:]
        first = False
        yield text.encode("utf-8")
    tail = decoder.decode(b"", final=True)
    if tail:
        yield tail.encode("utf-8")
