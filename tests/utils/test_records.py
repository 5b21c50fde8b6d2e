"""Machine-readable records (llu_core.utils.records): CSV and JSON lines that any name a folder or file
can have passes through, parsed back exactly."""

import csv
import io
import json
import os

import pytest

from llu_core.utils.records import as_bytes, csv_text, format_records, json_lines, read_csv_text, shown

#: Names a reader's folders and files may have.
ODD_NAMES = ["tab\tin it", "line\nbreak", "carriage\rreturn", "crlf\r\nboth", 'a "quote", a comma', "-leading-dash",
             "ctl\x01\x07\x1b[31mred", "L" * 300, os.fsdecode(b"caf\xe9 \xff"), " spaces ", "", "plain"]


def test_csv_keeps_every_name_one_field_and_every_row_one_row():
    rows = [(name, f"class of {name}", 0.5) for name in ODD_NAMES]
    text = csv_text(["path", "class", "probability"], rows)
    header, parsed = read_csv_text(text)
    assert header == ["path", "class", "probability"]
    assert [(a, b, float(c)) for a, b, c in parsed] == rows
    assert text.startswith("path,class,probability\n")  # the header's plain words stay bare


def test_csv_read_by_the_standard_reader_from_a_file_with_its_original_bytes(tmp_path):
    rows = [(name, 1) for name in ODD_NAMES]
    (tmp_path / "out.csv").write_bytes(as_bytes(csv_text(["name", "count"], rows)))
    assert b"caf\xe9 \xff" in (tmp_path / "out.csv").read_bytes()  # the bytes that were not UTF-8, as they were
    with open(tmp_path / "out.csv", newline="", errors="surrogateescape") as handle:
        parsed = list(csv.reader(handle))
    assert [(name, int(count)) for name, count in parsed[1:]] == rows


def test_json_lines_are_ascii_one_record_per_line_and_give_the_names_back():
    rows = [(name, 0.25) for name in ODD_NAMES]
    text = json_lines(["path", "probability"], rows)
    assert text.isascii() and len(text.splitlines()) == len(rows) and text.endswith("\n")
    assert [(record["path"], record["probability"]) for record in map(json.loads, text.splitlines())] == rows
    assert os.fsencode(json.loads(text.splitlines()[8])["path"]) == b"caf\xe9 \xff"


def test_numbers_are_bare_and_none_an_empty_field():
    assert csv_text(["a", "b", "c"], [("x", 1.5, None)]) == 'a,b,c\n"x",1.5,""\n'


def test_what_cannot_be_a_record_is_refused():
    with pytest.raises(ValueError, match="columns must be distinct plain words"):
        csv_text(["path", "class\nname"], [])
    with pytest.raises(ValueError, match="columns must be distinct plain words"):
        json_lines(["a", "a"], [])
    with pytest.raises(ValueError, match="a row has 2 fields for the 3 columns"):
        csv_text(["a", "b", "c"], [("x", "y")])
    with pytest.raises(ValueError, match="format must be one of \\('csv', 'jsonl'\\), got 'tsv'"):
        format_records(["a"], [], "tsv")
    assert format_records(["a"], [("x",)], "jsonl") == '{"a": "x"}\n'


def test_a_name_is_shown_on_one_line_escaped_only_when_it_must_be():
    assert shown("café au lait") == "café au lait"
    assert shown("a\tb") == "'a\\tb'" and shown("x\ny") == "'x\\ny'"
    assert "\n" not in shown("line\nbreak") and shown(os.fsdecode(b"\xff")) == "'\\udcff'"
    assert io.StringIO(shown("ctl\x1b[31m")).read().isprintable()
