"""The raw column tables (settings.py) are the one declaration of each raw column: the schema, the
row functions and the typed member structs all follow them. A new column is one `RawColumn` line;
these tests then cover it without naming it."""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
import pytest

from pipelines.xmatters import settings
from pipelines.xmatters.member_pages import MembersBatcher, decode_page
from pipelines.xmatters.tables import email_device_row, group_row, member_row, person_row, row_function

ROW_FUNCTIONS = {"people": person_row, "groups": group_row, "email_devices": email_device_row}
SAMPLE = {pa.string(): "text of {}", pa.bool_(): True, pa.int64(): 7}
CONVERTED = {"json_text": lambda value: json.dumps(value, separators=(",", ":"))}


def item_of(columns: tuple[settings.RawColumn, ...]) -> tuple[dict[str, Any], tuple[Any, ...]]:
    """An API item holding a distinct value at every column's path, and the row it must give."""
    item: dict[str, Any] = {}
    row = []
    for column in columns:
        if column.path is None:
            row.append("listed-group")
            continue
        value: Any = SAMPLE[column.type]
        value = value.format(column.name) if isinstance(value, str) else value
        if column.convert == "json_text":
            value = {"field": column.name}
        node = item
        for key in column.path[:-1]:
            node = node.setdefault(key, {})
        node[column.path[-1]] = value
        row.append(CONVERTED[column.convert](value) if column.convert in CONVERTED else value)
    return item, tuple(row)


@pytest.mark.parametrize("table", settings.RAW_TABLES, ids=[t.name for t in settings.RAW_TABLES])
def test_every_column_is_in_the_schema_and_read_from_its_path(table: settings.RawTable) -> None:
    assert table.schema.names == [column.name for column in table.columns]
    assert [table.schema.field(c.name).type for c in table.columns] == [c.type for c in table.columns]
    item, expected = item_of(table.columns)
    if table is settings.GROUP_MEMBERS:
        assert member_row("listed-group", item) == expected
    else:
        assert ROW_FUNCTIONS[table.name](item) == expected


def test_absent_or_null_objects_on_a_path_give_nulls() -> None:
    row = member_row("g", {"member": None, "group": "not an object"})
    assert row == ("g",) + (None,) * (len(settings.GROUP_MEMBERS_COLUMNS) - 1)


def test_the_typed_member_path_reads_every_member_column() -> None:
    """The msgspec structs and the JSON reader's schema come from the same table as `member_row`."""
    item, expected = item_of(settings.GROUP_MEMBERS_COLUMNS)
    page = decode_page(json.dumps({"data": [item]}).encode())
    assert page is not None and not isinstance(page["data"][0], dict)  # typed, not the dict fallback
    batcher = MembersBatcher()
    tables = [*batcher.add("listed-group", page["data"]), *batcher.flush()]
    assert [tuple(row.values()) for t in tables for row in t.to_pylist()] == [expected]
    assert tables[0].schema == settings.GROUP_MEMBERS_SCHEMA


def test_a_new_column_is_one_line() -> None:
    """What adding `RawColumn("member__language", ("member", "language"))` gives the row function."""
    columns = (
        *settings.GROUP_MEMBERS_COLUMNS,
        settings.RawColumn("member__language", ("member", "language")),
    )
    row = row_function(columns, "row")("g", {"member": {"id": "m", "language": "fr"}})
    assert row[-1] == "fr" and row[2] == "m" and len(row) == len(columns)
    assert settings.arrow_schema(columns).names[-1] == "member__language"
