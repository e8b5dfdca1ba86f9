"""xMatters JSON items -> rows of the `xmatters_raw` tables -> Arrow tables.

The row functions are generated from the raw column tables of settings.py (`row_function`). Per-row
work is one tuple of dict lookups; a batch's table is built at once through pyarrow's JSON
reader (`to_table_json`), which keeps a million membership rows in the seconds range (stack notes:
Arrow is ~35x faster to load than dicts). Absent or null fields become NULL; custom properties
become JSON text.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.json as pa_json

from pipelines.xmatters.errors import ProtocolError
from pipelines.xmatters.settings import (
    ARROW_BATCH_BYTES,
    ARROW_BATCH_ROWS,
    EMAIL_DEVICES_COLUMNS,
    GROUP_MEMBERS_COLUMNS,
    GROUPS_COLUMNS,
    PEOPLE_COLUMNS,
    RawColumn,
)

Row = tuple[Any, ...]
_EMPTY: dict[str, Any] = {}


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else _EMPTY


# `json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))` builds this encoder
# on every call (~20% of a call on a small object, once per person); its `encode` is that call.
_PROPERTIES_ENCODER = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
)


def json_text(value: Any) -> str | None:
    """Custom properties as JSON text (keys sorted), NULL when there are none.

    A number beyond a double's range (`1e400`, legal JSON) decodes to infinity, which Python would
    write as `Infinity`, not JSON: the column's text would fail `properties::JSON` in DuckDB and any
    JSON reader. Such a number is written as the string "Infinity" ("-Infinity", "NaN") instead.
    """
    if not value:
        return None
    try:
        return _PROPERTIES_ENCODER.encode(value)
    except ValueError:  # a float that is not finite, somewhere in it
        return _PROPERTIES_ENCODER.encode(_finite(value))


def _finite(value: Any) -> Any:
    """`value` with every non-finite float as the string JavaScript would print for it."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


def integer(value: Any) -> int | None:
    """An integer as sent, anything else (a bool, a string, a float) NULL."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


_CONVERTERS: dict[str, Callable[[Any], Any]] = {"json_text": json_text, "integer": integer}


def row_function(columns: tuple[RawColumn, ...], name: str) -> Callable[..., Row]:
    """The function `item -> row` of a raw column table, compiled as if written by hand.

    A row function runs once per item (a million membership rows at scale L), so it is generated
    source, as `dataclasses` generates `__init__`: one `dict.get` per key and each object on a path
    looked up once, no loop over the columns per item. Columns without a path (`group_id`) are
    its leading arguments. `inspect.getsource` cannot show it; `row_function_source` can.
    """
    namespace: dict[str, Any] = {"_obj": _obj, **_CONVERTERS}
    exec(row_function_source(columns, name), namespace)  # noqa: S102 - source built from our own table
    function: Callable[..., Row] = namespace[name]
    return function


def row_function_source(columns: tuple[RawColumn, ...], name: str) -> str:
    arguments = [column.name for column in columns if column.path is None]
    lines = [f"def {name}({', '.join([*arguments, 'item'])}):", "    g0 = item.get"]
    getters = {(): "g0"}  # object path -> the name of its bound `get`
    values = []
    for column in columns:
        if column.path is None:
            values.append(column.name)
            continue
        for depth in range(1, len(column.path)):
            prefix = column.path[:depth]
            if prefix not in getters:
                getters[prefix] = f"g{len(getters)}"
                lines.append(f"    {getters[prefix]} = _obj({getters[prefix[:-1]]}({prefix[-1]!r})).get")
        value = f"{getters[column.path[:-1]]}({column.path[-1]!r})"
        values.append(f"{column.convert}({value})" if column.convert else value)
    lines.append("    return (" + ", ".join(values) + ",)")
    return "\n".join(lines) + "\n"


person_row = row_function(PEOPLE_COLUMNS, "person_row")
group_row = row_function(GROUPS_COLUMNS, "group_row")
member_row = row_function(GROUP_MEMBERS_COLUMNS, "member_row")  # (group_id, item): group_id as listed
email_device_row = row_function(EMAIL_DEVICES_COLUMNS, "email_device_row")


def to_table(rows: list[Row], schema: pa.Schema) -> pa.Table:
    """Column-wise Arrow table; a value of the wrong type is a protocol error naming its column.

    The types are checked here, before any `pa.array`: its first call imports pandas, and in the
    sync that import ran on dlt's extract thread beside the others, so a person whose `status` was
    an object ended the sync with `partially initialized module 'pandas' ...`, not this error.
    """
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in schema]
    for values, column in zip(columns, schema, strict=True):
        bad = next((v for v in values if v is not None and not _fits(v, column.type)), None)
        if bad is not None:
            raise ProtocolError(f"unexpected value type for column {column.name}: {type(bad).__name__}")
    arrays = []
    for values, column in zip(columns, schema, strict=True):
        try:
            arrays.append(pa.array(values, type=column.type))
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            raise ProtocolError(f"unexpected value in column {column.name}") from None
    return pa.Table.from_arrays(arrays, schema=schema)


def to_table_json(rows: list[Row], schema: pa.Schema) -> pa.Table:
    """`to_table` through JSON lines and pyarrow's JSON reader: the same table, without `pa.array`.

    pyarrow imports pandas on its first `pa.array` call (to check for pandas inputs): ~0.5 s of the
    GIL during the extract and ~60 MB that the sync process never uses otherwise (only the
    expectations worker needs pandas). The groups table is also the first table of the extract,
    which the member calls wait for. Anything the JSON route refuses (a value of the wrong type, a
    string orjson cannot encode) goes through `to_table`, whose errors are the only ones.
    """
    names = schema.names
    try:
        lines = json_lines(dict(zip(names, row, strict=True)) for row in rows)
        read_options = pa_json.ReadOptions(use_threads=False, block_size=max(len(lines) + 1, 1 << 20))
        table = pa_json.read_json(
            pa.BufferReader(lines),
            read_options=read_options,
            parse_options=pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="error"),
        )
    except (orjson.JSONEncodeError, pa.ArrowInvalid, pa.ArrowTypeError, ValueError):
        return to_table(rows, schema)
    return table.select(names).cast(schema)


def json_lines(objects: Iterable[dict[str, Any]]) -> bytearray:
    """The objects as JSON lines in one growing buffer, each line's own bytes freed at once.

    A list of 50,000 `orjson.dumps` results joined afterwards held ~8 KB of heap per line (orjson
    allocates each result with room to spare, and the heap cannot reuse the holes): ~390 MB for
    one batch of people at scale L, the sync's largest allocation during the extract. Appended one
    by one, the buffer is the only thing that grows (~36 MB for that batch), and it is faster.
    """
    lines = bytearray()
    dumps, newline = orjson.dumps, orjson.OPT_APPEND_NEWLINE
    for obj in objects:
        lines += dumps(obj, option=newline)
    return lines


def _fits(value: Any, arrow_type: pa.DataType) -> bool:
    if arrow_type == pa.bool_():
        return isinstance(value, bool)
    if pa.types.is_integer(arrow_type):
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, str)


class Batcher:
    """Collect rows and hand out Arrow tables (`to_table_json`) of at most `batch_rows` rows, or
    sooner once the rows came from `batch_bytes` bytes of pages (`add`'s `size`)."""

    def __init__(
        self, schema: pa.Schema, batch_rows: int = ARROW_BATCH_ROWS, batch_bytes: int = ARROW_BATCH_BYTES
    ) -> None:
        self.schema = schema
        self.batch_rows = batch_rows
        self.batch_bytes = batch_bytes
        self.rows: list[Row] = []
        self.size = 0
        self.total = 0

    def add(self, rows: Iterable[Row], size: int = 0) -> Iterator[pa.Table]:
        """`size`: the bytes of the pages the rows came from (`paging.Page.size`)."""
        if size > self.batch_bytes:
            for part, part_size in sized_slices(list(rows), size, self.batch_bytes):
                self.rows.extend(part)
                self.size += part_size
                yield from self.flush()
            return
        self.rows.extend(rows)
        self.size += size
        if self.size >= self.batch_bytes and self.rows:
            yield from self.flush()
        while len(self.rows) >= self.batch_rows:
            chunk, self.rows = self.rows[: self.batch_rows], self.rows[self.batch_rows :]
            self.size = 0
            yield self._table(chunk)

    def flush(self) -> Iterator[pa.Table]:
        if self.rows:
            chunk, self.rows, self.size = self.rows, [], 0
            yield self._table(chunk)

    def _table(self, rows: list[Row]) -> pa.Table:
        self.total += len(rows)
        return to_table_json(rows, self.schema)


def sized_slices(items: list[Any], size: int, batch_bytes: int) -> Iterator[tuple[list[Any], int]]:
    """`items` (from `size` bytes of pages) in slices of about `batch_bytes` bytes each: a page of
    huge items becomes several tables, whose copies (JSON lines, Arrow columns, the frame to the
    sync) are each a batch's size, not the page's."""
    parts = -(-size // batch_bytes) if batch_bytes > 0 else 1
    if parts <= 1 or len(items) <= 1:
        yield items, size
        return
    step = -(-len(items) // min(parts, len(items)))
    for start in range(0, len(items), step):
        part = items[start : start + step]
        yield part, size * len(part) // len(items)


def tables_from_pages(
    pages: Iterable[list[dict[str, Any]]],
    row: Callable[[dict[str, Any]], Row],
    schema: pa.Schema,
) -> Iterator[pa.Table]:
    """Arrow tables of up to ARROW_BATCH_ROWS rows from pages of items."""
    batcher = Batcher(schema)
    for page in pages:
        yield from batcher.add(map(row, page), getattr(page, "size", 0))
    yield from batcher.flush()


def at_least_one_table(tables: Iterable[pa.Table], schema: pa.Schema) -> Iterator[pa.Table]:
    """`tables`, or one empty table of `schema` when there were none.

    dlt creates no destination table for a resource that yielded nothing, so a tenant with no
    groups (or no members, or no people) would leave `xmatters_raw` without that table and every
    SQL reading it would fail. An empty Arrow table makes dlt create (or replace) it with its
    declared columns and zero rows. Built from no batches: `Schema.empty_table` imports pandas.
    """
    empty = True
    for table in tables:
        empty = False
        yield table
    if empty:
        yield pa.Table.from_batches([], schema=schema)
