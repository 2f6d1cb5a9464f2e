"""Readers: line endings, BOMs, gzip, and bad records yielded (not raised) with their bytes."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from outcome_pulse.streams.file_import.sources import (
    CsvDialect,
    SourceRecord,
    read_csv,
    read_csv_header,
    read_jsonl,
    record_format,
    unique_column_names,
)
from tests.datasets import SCMS, dataset

BOM = b"\xef\xbb\xbf"


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    if name.endswith(".gz"):
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path


@pytest.mark.parametrize("ending", [b"\r", b"\n", b"\r\n"], ids=["CR", "LF", "CRLF"])
def test_csv_line_endings_and_bom(tmp_path: Path, ending: bytes) -> None:
    rows = [b"id,when,status", b"A-1,2012-01-02,open", b"A-2,2012-01-03,closed"]
    path = _write(tmp_path, "x.csv", BOM + ending.join(rows) + ending)

    records = list(read_csv(path))

    assert [r.fields for r in records] == [
        {"id": "A-1", "when": "2012-01-02", "status": "open"},
        {"id": "A-2", "when": "2012-01-03", "status": "closed"},
    ]
    assert [r.line for r in records] == [1, 2]
    assert [r.raw for r in records] == [rows[1] + ending, rows[2] + ending]
    assert read_csv_header(path) == ["id", "when", "status"]


def test_csv_mixed_endings_and_no_final_newline(tmp_path: Path) -> None:
    path = _write(tmp_path, "x.csv", b"a,b\r1,2\n3,4\r\n5,6")
    assert [r.fields for r in read_csv(path)] == [
        {"a": "1", "b": "2"},
        {"a": "3", "b": "4"},
        {"a": "5", "b": "6"},
    ]


def test_quoted_field_spanning_lines_is_one_record_with_all_its_bytes(tmp_path: Path) -> None:
    data = b'id,text\r1,"two\rlines"\r2,plain\r'
    records = list(read_csv(_write(tmp_path, "x.csv", data)))
    assert records[0].fields == {"id": "1", "text": "two\rlines"}
    assert records[0].raw == b'1,"two\rlines"\r'
    assert [r.line for r in records] == [1, 2]


def test_gzip_by_suffix(tmp_path: Path) -> None:
    path = _write(tmp_path, "x.csv.gz", BOM + b"id,v\r1,x\r")
    assert [r.fields for r in read_csv(path)] == [{"id": "1", "v": "x"}]


def test_wrong_column_count_is_yielded_with_error_and_raw_bytes(tmp_path: Path) -> None:
    path = _write(tmp_path, "x.csv", b"a,b\n1,2\n1,2,3\n4\n5,6\n")
    records = list(read_csv(path))
    assert [r.line for r in records] == [1, 2, 3, 4]
    bad = records[1]
    assert bad.fields is None
    assert bad.error == "3 columns where the header has 2"
    assert bad.raw == b"1,2,3\n"
    assert records[2].error == "1 columns where the header has 2"
    assert records[3].fields == {"a": "5", "b": "6"}


def test_bytes_not_in_the_encoding_are_an_error_keeping_the_original_bytes(
    tmp_path: Path,
) -> None:
    path = _write(tmp_path, "x.csv", b"a,b\n1,caf\xe9\n2,ok\n")
    bad, good = read_csv(path)
    assert bad.fields is None and bad.error is not None and "utf-8" in bad.error
    assert bad.raw == b"1,caf\xe9\n"
    assert good.fields == {"a": "2", "b": "ok"}


def test_other_encodings_and_delimiters(tmp_path: Path) -> None:
    path = _write(tmp_path, "x.csv", "a;b\n1;café\n".encode("cp1252"))
    (record,) = read_csv(path, CsvDialect(delimiter=";", encoding="cp1252"))
    assert record.fields == {"a": "1", "b": "café"}
    assert record.raw == "1;café\n".encode("cp1252")


def test_blank_lines_are_skipped_but_keep_their_number(tmp_path: Path) -> None:
    path = _write(tmp_path, "x.csv", b"a\n1\n\n2\n")
    assert [(r.line, r.fields) for r in read_csv(path)] == [(1, {"a": "1"}), (3, {"a": "2"})]


def test_repeated_header_names_are_made_unique(tmp_path: Path) -> None:
    assert unique_column_names(["Variant", "x", "Variant", "Variant"]) == [
        "Variant",
        "x",
        "Variant.1",
        "Variant.2",
    ]
    path = _write(tmp_path, "x.csv", b"Variant,Variant\n1,2\n")
    assert next(read_csv(path)).fields == {"Variant": "1", "Variant.1": "2"}


def test_empty_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "x.csv", b"")
    assert list(read_csv(path)) == []
    assert read_csv_header(path) == []


def test_the_real_scms_file_with_bom_and_cr_only_lines() -> None:
    path = dataset(SCMS)
    header = read_csv_header(path)
    assert header[0] == "ID" and len(header) == 33
    count = 0
    for record in read_csv(path):
        assert record.error is None, record
        count += 1
    assert count == 10_324


# -- JSON lines -------------------------------------------------------------------------------


def test_jsonl_with_one_malformed_line(tmp_path: Path) -> None:
    data = b'{"id": "1", "n": 3}\n{"id": "2", oops}\r\n\n{"id": "3", "done": true, "x": null}\n'
    records = list(read_jsonl(_write(tmp_path, "x.jsonl", data)))
    assert [r.line for r in records] == [1, 2, 4]
    assert records[0] == SourceRecord(1, {"id": "1", "n": "3"}, b'{"id": "1", "n": 3}')
    assert records[1].fields is None
    assert records[1].error is not None and records[1].error.startswith("not JSON")
    assert records[1].raw == b'{"id": "2", oops}'
    assert records[2].fields == {"id": "3", "done": "true", "x": ""}


def test_jsonl_flattens_nested_objects_and_keeps_lists_as_json(tmp_path: Path) -> None:
    line = b'{"key": "PRJ-1", "fields": {"status": {"name": "Done"}, "labels": ["a", "b"]}}\n'
    (record,) = read_jsonl(_write(tmp_path, "x.jsonl.gz", line))
    assert record.fields == {
        "key": "PRJ-1",
        "fields.status.name": "Done",
        "fields.labels": '["a", "b"]',
    }


def test_jsonl_non_object_and_non_utf8_lines_are_errors(tmp_path: Path) -> None:
    data = b'[1, 2]\n"text"\n{"a": "\xff"}\n'
    records = list(read_jsonl(_write(tmp_path, "x.json", data)))
    assert [r.error for r in records] == [
        "expected a JSON object, got list",
        "expected a JSON object, got str",
        "not UTF-8 (byte 7)",
    ]
    assert all(r.fields is None for r in records)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.csv", "csv"),
        ("a.CSV.gz", "csv"),
        ("a.jsonl", "jsonl"),
        ("a.json.gz", "jsonl"),
        ("a.ndjson", "jsonl"),
        ("a.txt", ""),
        ("a.gz", ""),
    ],
)
def test_record_format_from_name(name: str, expected: str) -> None:
    assert record_format(Path(name)) == expected
