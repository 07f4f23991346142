"""Decoded text in chunks of whole records, for the CSV and the JSON Lines readers.

A chunk is about ``size`` bytes, cut after a newline, and costs one copy of
the bytes (the blocks of a chunk are joined once). A CSV record may hold a
newline inside quotes, so its chunks are cut only where the quotes before
the newline are balanced; a JSON Lines record never holds a raw newline (and
its escaped quotes would upset a count of them), so it is cut at any newline.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator

from .errors import SourceError

__all__ = ["chunked", "decode_blocks"]


def chunked(blocks: Iterator[bytes], size: int, *, quoted: bool, first: int | None = None) -> Iterator[bytes]:
    """Runs of whole records, each ending with a newline; ``quoted``: cut only at a newline outside quotes.

    :param first: the size of the first chunk, when it differs.
    """
    pending: list[bytes] = []
    held = quotes = 0  # bytes and quote characters in the pending blocks
    limit = first or size
    for block in blocks:
        # a block longer than a chunk (8 MiB read, a small ``size``) is cut into several, near ``size`` each
        while held + len(block) >= limit and limit - held < len(block) - 1:
            cut = _cut_after(block, max(limit - held, 0), quotes if quoted else None)
            if cut < 0:
                break
            pending.append(block[:cut])
            yield b"".join(pending)
            block, pending, held, quotes, limit = block[cut:], [], 0, 0, size
        cut = -1 if held + len(block) < limit else _cut(block, quotes if quoted else None)
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
    data = b"".join(pending)
    if data:
        yield data if data.endswith(b"\n") else data + b"\n"


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
