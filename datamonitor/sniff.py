"""What a file is, from its name and first bytes: format, compression, encoding, delimiter, decimal mark.

Detection reads a sample once; every guess it makes can be overridden by an
option, and none of it is a guess where the content decides (a JSON document
and JSON Lines are told apart by content, whatever the extension).
"""

from __future__ import annotations

import codecs
import csv
import re
from collections import Counter
from dataclasses import dataclass

__all__ = ["DELIMITERS", "Detected", "compression_of", "sniff_decimal", "sniff_delimiter", "sniff_encoding",
           "sniff_json"]

MAGIC = {b"\x1f\x8b": "gzip", b"BZh": "bz2", b"\x28\xb5\x2f\xfd": "zstd", b"PK\x03\x04": "zip"}
EXT_COMPRESSION = {".gz": "gzip", ".gzip": "gzip", ".bz2": "bz2", ".zst": "zstd", ".zstd": "zstd", ".zip": "zip"}
#: ``.txt`` says nothing of the format: the content decides (JSON, else a delimited table)
EXT_FORMAT = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl",
              ".json": "json", ".parquet": "parquet", ".pq": "parquet"}
EXCEL = {".xlsx", ".xlsm", ".xls", ".xlsb", ".ods"}
DELIMITERS = (",", "\t", ";", "|")


@dataclass(frozen=True)
class Detected:
    """How a file will be read."""

    format: str
    compression: str | None
    encoding: str | None
    delimiter: str | None
    #: the decimal mark of numbers in a text table (None: a Parquet file, whose numbers are typed)
    decimal: str | None = "."


def compression_of(head: bytes) -> str | None:
    return next((c for magic, c in MAGIC.items() if head.startswith(magic)), None)


def sniff_encoding(sample: bytes, at_end: bool) -> str:
    """UTF-8 (a BOM is ``utf-8-sig``), UTF-16 by its BOM, else Windows-1252, else Latin-1 (which decodes anything).

    :param at_end: the sample is the whole input, so a cut character at its end is an error, not the cut.
    """
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if not at_end and exc.start >= len(sample) - 4 and exc.reason == "unexpected end of data":
            return "utf-8"
    try:
        sample.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


def sniff_json(text: str, named: str | None = None) -> str | None:
    """``json`` for a document (an array or one object spanning lines), ``jsonl`` for one value per line.

    A first line that is no object (malformed, or an array) is one bad row of JSON Lines when the sample is no
    JSON value as a whole and most of its next lines are objects each; one such line is enough when the name
    says JSON Lines. A line nested too deeply for Python to read counts as malformed.

    :param named: the format the file's extension gives (``jsonl`` for ``.jsonl`` and ``.ndjson``), if any.
    """
    stripped = text.lstrip()
    if not stripped.startswith(("[", "{")):
        return None
    lines = [line for line in stripped.split("\n") if line.strip()]
    if lines[0].startswith("{") and _kind(lines[0]) is dict:
        return "jsonl"
    if _kind(stripped) is not None:
        return "json"
    rest = lines[1:-1] if len(lines) > 2 and not text.endswith("\n") else lines[1:]  # a sample's last line may be cut
    rest = rest[:64]
    objects = sum(_kind(line) is dict for line in rest)
    if objects and (objects * 2 > len(rest) or named == "jsonl"):
        return "jsonl"
    return "json"  # pretty-printed over several lines


def _kind(text: str) -> type | None:
    """The type of the JSON value ``text`` holds; None when it holds none (malformed, cut, or nested too deeply
    for Python's parser)."""
    import json

    try:
        return type(json.loads(text))
    except (ValueError, RecursionError):
        return None


def _lines(text: str, comment: str | None, limit: int = 64) -> list[str]:
    out = []
    for line in text.split("\n"):  # a lone \r, U+2028 ... are data in a CSV line (csvrows.physical_lines)
        line = line.rstrip("\r").replace("\r", " ")  # for counting fields; csv.reader refuses a \r it sees unquoted
        if line.strip() and not (comment and line.startswith(comment)):
            out.append(line)
            if len(out) >= limit:
                break
    return out


def sniff_delimiter(text: str, comment: str | None = None) -> str:
    """The candidate that splits the first lines into the same number of fields (more than one) most often.

    The header (the first line) must split too: into that same number, else (a header short of a trailing
    delimiter, say) into more than one field at least, which a candidate that splits it into that number wins
    over. A header no candidate splits is one column, whatever its values hold: ``,``, as pandas reads it.
    """
    lines = _lines(text, comment)
    if len(lines) > 1 and not text.endswith("\n"):
        lines = lines[:-1]  # the last line of a sample may be cut
    best, best_score = ",", (False, 0, 0)
    for delim in DELIMITERS:
        counts = [len(row) for row in csv.reader(lines, delimiter=delim)]
        if not counts:
            continue
        width, freq = Counter(counts).most_common(1)[0]
        if width < 2 or counts[0] < 2:
            continue
        score = (counts[0] == width, freq, width)
        if score > best_score:
            best, best_score = delim, score
    return best


_COMMA_DECIMAL = re.compile(r"^[-+]?\d{1,3}(\.\d{3})*,\d+$|^[-+]?\d+,\d+$")
_DOT_DECIMAL = re.compile(r"^[-+]?\d+\.\d+$")


def sniff_decimal(text: str, delimiter: str, comment: str | None = None) -> str:
    """``,`` when the fields look like decimal commas and none like decimal points; else ``.``."""
    if delimiter == ",":
        return "."
    commas = dots = 0
    for row in csv.reader(_lines(text, comment, 200), delimiter=delimiter):
        for value in row:
            v = value.strip()
            if _COMMA_DECIMAL.match(v):
                commas += 1
            elif _DOT_DECIMAL.match(v):
                dots += 1
    return "," if commas and not dots else "."
