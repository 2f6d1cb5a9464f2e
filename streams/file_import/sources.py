"""Readers for exported event logs: CSV and JSON-lines, plain or gzip-compressed.

A reader turns a file into a stream of ``SourceRecord``: the record's fields as strings, its
position, and the exact bytes it came from. A record that cannot be read (a CSV row with the
wrong number of columns, a line that is not a JSON object, bytes that are not in the file's
encoding) is *yielded* with ``error`` set instead of raising, because the caller must dead-letter
it with its original bytes and carry on: one bad line never stops a replay.

Readers stream: they hold one record at a time, so a file of any size can be read.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# A decoded byte that was not valid in the file's encoding (kept by errors="surrogateescape").
_UNDECODABLE = re.compile("[\udc80-\udcff]")


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """One record of an export.

    ``line`` is 1-based: for CSV the number of the data record after the header (line 1 is the
    first row under the header, so a spreadsheet shows it as row ``line + 1`` when no field
    spans several lines); for JSON-lines the physical line number. Blank lines are skipped but
    keep their number, so ``line`` always points back into the file.
    ``fields`` is None exactly when ``error`` says why the record could not be read.
    ``file_line`` is the file's own line number where the record starts (the header counted, so
    what an editor shows); dead letters and error messages name it. ``line`` stays the record's
    number because event ids are derived from it.
    """

    line: int
    fields: dict[str, str] | None
    raw: bytes
    error: str | None = None
    file_line: int = 0

    def __post_init__(self) -> None:
        if self.file_line == 0:
            object.__setattr__(self, "file_line", self.line)


@dataclass(frozen=True, slots=True)
class CsvDialect:
    """How a CSV export is written. ``utf-8-sig`` reads plain UTF-8 and strips a BOM."""

    delimiter: str = ","
    quotechar: str = '"'
    encoding: str = "utf-8-sig"


def is_gzip(path: Path) -> bool:
    return path.suffix.lower() == ".gz"


def _open_binary(path: Path) -> gzip.GzipFile | io.BufferedReader:
    return gzip.open(path, "rb") if is_gzip(path) else path.open("rb")


def _byte_codec(encoding: str) -> str:
    """The codec that turns decoded text back into its original bytes (no BOM per record)."""
    return "utf-8" if encoding.lower().replace("_", "-") == "utf-8-sig" else encoding


def unique_column_names(header: list[str]) -> list[str]:
    """Make repeated header names distinct the way pandas does: ``Variant``, ``Variant.1``.

    Real exports repeat names (the help-desk log has two ``Variant`` columns); a dict keyed by
    name would silently keep only the last one.
    """
    seen: dict[str, int] = {}
    names: list[str] = []
    for name in header:
        count = seen.get(name, 0)
        seen[name] = count + 1
        names.append(name if count == 0 else f"{name}.{count}")
    return names


def _recorded(lines: Iterable[str], taken: list[str]) -> Iterator[str]:
    """Feed physical lines to ``csv.reader`` and append each one to ``taken``.

    The csv module pulls as many lines as one record needs (a quoted field may span lines), so
    what was pulled since the previous record is exactly that record's text.
    """
    for line in lines:
        taken.append(line)
        yield line


def read_csv_header(path: Path, dialect: CsvDialect = CsvDialect()) -> list[str]:
    """The column names of a CSV export (made unique), or [] for an empty file."""
    with _open_binary(path) as binary:
        text = io.TextIOWrapper(binary, encoding=dialect.encoding, errors="replace", newline="")
        for row in csv.reader(text, delimiter=dialect.delimiter, quotechar=dialect.quotechar):
            return unique_column_names(row)
    return []


def read_csv(path: Path, dialect: CsvDialect = CsvDialect()) -> Iterator[SourceRecord]:
    """Yield the data records of a CSV export (``.gz`` is decompressed by suffix).

    The file is opened with ``newline=""`` so the csv module sees ``\\r``, ``\\n`` and
    ``\\r\\n`` endings as they are: the SCMS export ends its lines with a bare CR.
    """
    codec = _byte_codec(dialect.encoding)
    with _open_binary(path) as binary:
        text = io.TextIOWrapper(
            binary, encoding=dialect.encoding, errors="surrogateescape", newline=""
        )
        taken: list[str] = []
        rows = csv.reader(
            _recorded(text, taken), delimiter=dialect.delimiter, quotechar=dialect.quotechar
        )
        header: list[str] | None = None
        number = 0
        lines_before = 0  # physical lines of the records before this one
        while True:
            try:
                row = next(rows)
            except StopIteration:
                return
            except csv.Error as exc:
                number += 1
                at = lines_before + 1
                lines_before += len(taken)
                yield _unreadable(number, _take(taken), codec, f"not valid CSV: {exc}", at)
                continue
            at = lines_before + 1
            lines_before += len(taken)
            record_text = _take(taken)
            if header is None:
                header = unique_column_names(row)
                continue
            number += 1
            if not row:
                continue
            yield _csv_record(number, header, row, record_text, codec, dialect.encoding, at)


def _take(taken: list[str]) -> str:
    text = taken[0] if len(taken) == 1 else "".join(taken)
    taken.clear()
    return text


def _unreadable(number: int, text: str, codec: str, error: str, at: int) -> SourceRecord:
    return SourceRecord(number, None, text.encode(codec, "surrogateescape"), error, at)


def _csv_record(
    number: int,
    header: list[str],
    row: list[str],
    text: str,
    codec: str,
    encoding: str,
    at: int,
) -> SourceRecord:
    raw = text.encode(codec, "surrogateescape")
    if _UNDECODABLE.search(text):
        return SourceRecord(number, None, raw, f"bytes that are not valid {encoding}", at)
    if len(row) != len(header):
        error = f"{len(row)} columns where the header has {len(header)}"
        return SourceRecord(number, None, raw, error, at)
    return SourceRecord(number, dict(zip(header, row, strict=True)), raw, None, at)


def read_jsonl(path: Path) -> Iterator[SourceRecord]:
    """Yield the records of a JSON-lines export, one JSON object per line (``.gz`` by suffix).

    Nested objects are flattened with dots (``{"fields": {"status": "Done"}}`` gives
    ``fields.status``), which is how a mapping names a field of a Jira export. Lists are kept as
    their JSON text, null becomes an empty string (a missing value), other scalars their JSON
    text (``true``, ``3.5``).
    """
    with _open_binary(path) as binary:
        for number, line in enumerate(binary, start=1):
            raw = line.rstrip(b"\r\n")
            if not raw.strip():
                continue
            yield _json_record(number, raw)


def _json_record(number: int, raw: bytes) -> SourceRecord:
    try:
        value = json.loads(raw)
    except UnicodeDecodeError as exc:
        return SourceRecord(number, None, raw, f"not UTF-8 (byte {exc.start})")
    except json.JSONDecodeError as exc:
        return SourceRecord(number, None, raw, f"not JSON: {exc.msg} at column {exc.colno}")
    except RecursionError:
        return SourceRecord(number, None, raw, "not JSON: nested too deeply")
    if not isinstance(value, dict):
        return SourceRecord(
            number, None, raw, f"expected a JSON object, got {type(value).__name__}"
        )
    fields: dict[str, str] = {}
    _flatten(value, "", fields)
    return SourceRecord(number, fields, raw)


def _flatten(value: dict[str, Any], prefix: str, out: dict[str, str]) -> None:
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, dict):
            _flatten(item, f"{name}.", out)
        elif isinstance(item, str):
            out[name] = item
        elif item is None:
            out[name] = ""
        else:
            out[name] = json.dumps(item, ensure_ascii=False)


def record_format(path: Path) -> str:
    """``csv`` or ``jsonl`` from the file name (``.gz`` ignored), or ``""`` if neither."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    last = suffixes[-1] if suffixes else ""
    return {".csv": "csv", ".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl"}.get(last, "")
