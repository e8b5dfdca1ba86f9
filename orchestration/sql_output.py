"""The output of one `baton-xmatters sql` statement, spooled: bounded memory, the warehouse let go.

Why: the shell fetched a whole result, then formatted it whole: 5 million rows of two columns took
2.2 GB (table and JSON) and 1.2 GB (CSV). Streaming rows straight to stdout instead would hold the
warehouse (and the sync's lock, shared) for as long as the reader takes, and a pager such as `less`
waits on its user: the next sync would find the warehouse busy. So a statement's rows are fetched
a batch at a time (`FETCH_ROWS`), formatted into an unnamed temporary file (owner-only, gone once
closed), the connection is closed, and then the file is copied to stdout (`Spool.write_to`). Memory
is one batch, whatever the result's size; the disk holds the formatted output meanwhile.

A table needs every column's width before its first line: the widths are measured while the cells
are spooled (pipelines/text_table.py), one cell per field of a spooled line, and the cells are
padded when read back. The cells are escaped for the terminal (`printable`), so the separator
(U+001F) and a line break never occur in one.
"""

from __future__ import annotations

import base64
import csv
import datetime
import decimal
import json
import math
import tempfile
import uuid
from collections.abc import Iterable, Sequence
from typing import IO, Any

from pipelines.iso_durations import iso_8601_duration
from pipelines.terminal_text import printable
from pipelines.text_table import ColumnWidths, aligned_row, header_rule
from pipelines.utc_timestamps import rfc3339_utc

FETCH_ROWS = 10_000  # rows fetched, formatted and spooled at a time
_COPY_CHARS = 1 << 16  # characters (about) read back from the spool and written at a time
_CELL_SEPARATOR = "\x1f"  # between the cells of a spooled table row; escaped inside any cell

Row = Sequence[Any]


class Spool:
    """A statement's output in a temporary file: `add` batches of rows, then `write_to` stdout."""

    def __init__(self, columns: list[str]) -> None:
        self.columns = columns
        self.rows = 0
        self.file: IO[str] = tempfile.TemporaryFile("w+", encoding="utf-8", newline="\n")  # noqa: SIM115

    def add(self, rows: Sequence[Row]) -> None:
        self.rows += len(rows)
        self._spool(rows)

    def _spool(self, rows: Sequence[Row]) -> None:
        raise NotImplementedError

    def write_to(self, stdout: IO[str]) -> None:
        """The whole output: what was spooled, in the format's frame."""
        self.file.seek(0)
        while chunk := self.file.read(_COPY_CHARS):
            stdout.write(chunk)

    def close(self) -> None:
        self.file.close()


class CsvSpool(Spool):
    def __init__(self, columns: list[str]) -> None:
        super().__init__(columns)
        self.writer = csv.writer(self.file, lineterminator="\n")
        self.writer.writerow(columns)

    def _spool(self, rows: Sequence[Row]) -> None:
        self.writer.writerows([_csv_cell(value) for value in row] for row in rows)


class JsonSpool(Spool):
    """One JSON array of objects on one line, as `json.dumps(list_of_records)` writes it."""

    def _spool(self, rows: Sequence[Row]) -> None:
        if not rows:
            return
        columns = self.columns
        records = [dict(zip(columns, _finite(row), strict=True)) for row in rows]
        # the batch as one array, without its brackets: the objects and the separators between them
        text = _JSON_ENCODER.encode(records)[1:-1]
        self.file.write((", " if self.file.tell() else "") + text)

    def write_to(self, stdout: IO[str]) -> None:
        stdout.write("[")
        super().write_to(stdout)
        stdout.write("]\n")


class TableSpool(Spool):
    """Columns aligned by display width (pipelines/text_table.py), NULL for missing values, then
    the row count."""

    def __init__(self, columns: list[str]) -> None:
        super().__init__(columns)
        self.widths = ColumnWidths(columns)

    def _spool(self, rows: Sequence[Row]) -> None:
        add, lines = self.widths.add, []
        for row in rows:
            cells = [table_cell(value) for value in row]
            add(cells)
            lines.append(_CELL_SEPARATOR.join(cells))
        if lines:
            self.file.write("\n".join(lines) + "\n")

    def write_to(self, stdout: IO[str]) -> None:
        widths = self.widths.widths
        stdout.write(aligned_row(self.columns, widths) + "\n" + header_rule(widths) + "\n")
        self.file.seek(0)
        separator = _CELL_SEPARATOR
        while lines := self.file.readlines(_COPY_CHARS):
            stdout.write("".join(aligned_row(line[:-1].split(separator), widths) + "\n" for line in lines))
        stdout.write(f"({self.rows} row{'' if self.rows == 1 else 's'})\n")


SPOOLS: dict[str, type[Spool]] = {"table": TableSpool, "csv": CsvSpool, "json": JsonSpool}


def spooled(output_format: str, columns: list[str], batches: Iterable[Sequence[Row]]) -> Spool:
    """The spool of `batches` of rows; closed if spooling fails."""
    spool = SPOOLS[output_format](columns)
    try:
        for rows in batches:
            spool.add(rows)
    except BaseException:
        spool.close()
        raise
    return spool


def table_cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return printable(value)  # control characters shown escaped, never sent to the terminal
    if isinstance(value, list | dict | tuple):
        return printable(json.dumps(value, ensure_ascii=False, default=_json_value))
    return printable(str(value))


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list | dict | tuple):
        return json.dumps(value, ensure_ascii=False, default=_json_value)
    if isinstance(value, bytes | datetime.timedelta | datetime.datetime):
        return _json_value(value)
    return value


def _finite(value: Any) -> Any:
    """NaN and ±Infinity as null, as JavaScript writes them: JSON has no such numbers, and `jq` and
    strict parsers refused the whole output when Python's `NaN` was in it."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    return value


def _json_value(value: Any) -> Any:
    """JSON for what DuckDB returns beyond JSON's types: timestamps, decimals, UUIDs, blobs."""
    if isinstance(value, datetime.datetime):  # `2026-12-07T19:32:31.357208Z`, as `baton -o json`
        return rfc3339_utc(value)
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):  # an INTERVAL: `PT1H30M`, not `1:30:00`
        return iso_8601_duration(value)
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return str(value)


# One encoder for the JSON spool: `json.dumps` with arguments builds one per call, and a call per
# row made -o json of 5M rows three times slower than the old whole-result `json.dumps`.
_JSON_ENCODER = json.JSONEncoder(ensure_ascii=False, default=_json_value, allow_nan=False)
