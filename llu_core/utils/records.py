"""Machine-readable records that any name passes through: CSV and JSON lines.

Names come from folders and files a reader made (class folders, image files, data-set folders), so
they may hold a tab, a newline, a carriage return, a quote, a comma, control characters, a leading
dash, hundreds of characters, or bytes that are not UTF-8 (Python holds those as lone surrogates,
``os.fsdecode``). Every record the project writes for another program goes through here:

- **CSV** (:func:`csv_text`): RFC 4180 fields; every string of a row is quoted (a quote doubled),
  numbers are bare, so no character of a name can split a field or a row. The header's column
  names are plain words, written bare. Read it back with :func:`read_csv_text` or any CSV reader
  (``csv.reader`` on a file opened with ``newline=""``).
- **JSON lines** (:func:`json_lines`): one JSON object per line, ASCII only (``\\t``, ``\\n``,
  ``\\u001b`` escaped), so a line is always one record.

Bytes that are not UTF-8 survive both: :func:`as_bytes` writes a CSV text with ``surrogateescape``
(the name's own bytes come back out), and JSON writes each such byte as ``\\udcXX``, which
``json.loads`` turns back into the same Python string (``os.fsencode`` gives the bytes).
"""

import csv
import io
import json
import re

#: The formats of :func:`format_records`.
FORMATS = ("csv", "jsonl")
#: What a column name may be: written bare in the header.
_COLUMN = re.compile(r"[A-Za-z0-9_.@ -]+")


def _check_columns(columns):
    columns = list(columns)
    bad = [column for column in columns if not isinstance(column, str) or not _COLUMN.fullmatch(column)]
    if bad or len(set(columns)) != len(columns):
        raise ValueError(f"columns must be distinct plain words (letters, digits, '_', '.', '@', ' ', '-'), "
                         f"got {columns!r}")
    return columns


def csv_text(columns, rows):
    """CSV text of ``rows`` (sequences in the order of ``columns``), header first.

    Strings are always quoted, numbers never; ``None`` becomes an empty quoted field. Lines end
    with ``\\n``; a name's own CR or LF stays inside its quotes.
    """
    columns = _check_columns(columns)
    buffer = io.StringIO()
    buffer.write(",".join(columns) + "\n")
    writer = csv.writer(buffer, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n")
    for row in rows:
        row = list(row)
        if len(row) != len(columns):
            raise ValueError(f"a row has {len(row)} fields for the {len(columns)} columns {columns}: {row!r}")
        writer.writerow(row)
    return buffer.getvalue()


def read_csv_text(text):
    """The header and the rows (lists of strings) of a :func:`csv_text`, exactly as written."""
    rows = list(csv.reader(io.StringIO(text, newline="")))
    return (rows[0], rows[1:]) if rows else ([], [])


def json_lines(columns, rows):
    """One ASCII JSON object per row, keys in the order of ``columns``."""
    columns = _check_columns(columns)
    return "".join(json.dumps(dict(zip(columns, row, strict=True)), ensure_ascii=True) + "\n" for row in rows)


def format_records(columns, rows, format="csv"):
    """``rows`` as text in ``format`` (:data:`FORMATS`): :func:`csv_text` or :func:`json_lines`."""
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
    return (csv_text if format == "csv" else json_lines)(columns, rows)


def as_bytes(text):
    """``text`` as UTF-8, with the bytes of names that were not UTF-8 restored (``surrogateescape``)."""
    return text.encode("utf-8", "surrogateescape")


def shown(name):
    """``name`` for a reader's eyes on one line: as it is when printable, else its escaped ``repr``."""
    return name if name.isprintable() else repr(name)
