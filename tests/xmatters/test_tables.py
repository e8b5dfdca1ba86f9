"""`to_table_json` builds the same tables as `to_table`, fails the same way, and imports no pandas."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pipelines.xmatters.errors import ProtocolError
from pipelines.xmatters.settings import GROUPS_SCHEMA, PEOPLE_SCHEMA
from pipelines.xmatters.tables import at_least_one_table, group_row, person_row, to_table, to_table_json

GROUPS = [
    {
        "id": "g-1",
        "targetName": "Ops «on-call» 東京",
        "recipientType": "GROUP",
        "status": "ACTIVE",
        "groupType": "ON_CALL",
        "description": 'quotes " and \\ and a\nnewline',
        "externallyOwned": False,
        "allowDuplicates": True,
        "useDefaultDevices": None,
        "observedByAll": True,
        "site": {"id": "s-1", "name": "Default Site"},
        "created": "2021-01-01T00:00:00.000Z",
    },
    {"id": "g-2"},  # every other field absent
    {"id": "g-3", "site": None, "description": "", "unknownField": {"nested": [1, 2]}},
]


@pytest.mark.parametrize(
    ("items", "row", "schema"),
    [
        (GROUPS, group_row, GROUPS_SCHEMA),
        ([], group_row, GROUPS_SCHEMA),
        (
            [{"id": "p-1", "properties": {"Skills": ["a", "b"]}, "locked": False}, {"id": "p-2"}],
            person_row,
            PEOPLE_SCHEMA,
        ),
    ],
    ids=["groups", "empty", "people"],
)
def test_the_json_route_builds_the_same_table(items, row, schema):
    rows = [row(item) for item in items]
    built = to_table_json(rows, schema)
    assert built.schema == schema
    assert built.equals(to_table(rows, schema))


@pytest.mark.parametrize(
    ("field", "value", "column", "type_name"),
    [
        ("targetName", {"a": 1}, "target_name", "dict"),
        ("targetName", 7, "target_name", "int"),
        ("allowDuplicates", "yes", "allow_duplicates", "str"),
        ("status", ["ACTIVE"], "status", "list"),
    ],
)
def test_a_value_of_the_wrong_type_fails_as_to_table_does(field, value, column, type_name):
    rows = [group_row(GROUPS[1]), group_row({**GROUPS[0], field: value})]
    with pytest.raises(ProtocolError) as json_route:
        to_table_json(rows, GROUPS_SCHEMA)
    with pytest.raises(ProtocolError) as array_route:
        to_table(rows, GROUPS_SCHEMA)
    assert str(json_route.value) == str(array_route.value)
    assert f"column {column}: {type_name}" in str(json_route.value)


def test_a_string_orjson_cannot_encode_takes_the_array_route():
    lone_surrogate = {**GROUPS[1], "targetName": "bad \ud800 name"}
    rows = [group_row(lone_surrogate)]
    try:
        expected = to_table(rows, GROUPS_SCHEMA)
    except Exception as exc:  # whatever pyarrow does with it, the JSON route does the same
        with pytest.raises(type(exc)):
            to_table_json(rows, GROUPS_SCHEMA)
    else:
        assert to_table_json(rows, GROUPS_SCHEMA).equals(expected)


def test_building_the_extract_tables_does_not_import_pandas():
    """Run in a fresh interpreter: this one imported pandas long ago."""
    script = """
import sys
from pipelines.xmatters.member_pages import MembersBatcher, decode_page
from pipelines.xmatters.settings import GROUPS_SCHEMA, PEOPLE_SCHEMA
from pipelines.xmatters.tables import at_least_one_table, group_row, person_row, to_table_json
[empty] = at_least_one_table([], PEOPLE_SCHEMA)
groups = to_table_json([group_row({"id": "g-1", "allowDuplicates": True})], GROUPS_SCHEMA)
people = to_table_json([person_row({"id": "p-1", "locked": False})], PEOPLE_SCHEMA)
page = decode_page(b'{"data": [{"member": {"id": "p-1", "recipientType": "PERSON"}}]}')
batcher = MembersBatcher()
members = [*batcher.add("g-1", page["data"]), *batcher.flush()]
print(empty.num_rows, groups.num_rows, people.num_rows, members[0].column("group_id").to_pylist())
print("pandas imported:", "pandas" in sys.modules)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.splitlines() == ["0 1 1 ['g-1']", "pandas imported: False"]


def test_a_value_of_the_wrong_type_fails_without_importing_pandas():
    """A person whose `status` is an object (a hostile or broken server) goes the row path to
    `to_table`, whose `pa.array` imported pandas to build the error. In the sync that import ran on
    dlt's extract thread beside the others and the sync ended with `partially initialized module
    'pandas' has no attribute 'DataFrame' (most likely due to a circular import)`, not the column."""
    script = """
import sys
from pipelines.xmatters.errors import ProtocolError
from pipelines.xmatters.people_pages import people_tables
for field, value in (("status", {"a": 1}), ("locked", "yes"), ("targetName", ["x"])):
    try:
        list(people_tables([[{"id": "p-1", field: value}]]))
    except ProtocolError as exc:
        print(exc)
print("pandas imported:", "pandas" in sys.modules)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.splitlines() == [
        "xmatters: unexpected value type for column status: dict",
        "xmatters: unexpected value type for column locked: str",
        "xmatters: unexpected value type for column target_name: list",
        "pandas imported: False",
    ]


def test_no_tables_become_one_empty_table_of_the_schema():
    """dlt creates no raw table for a resource that yielded nothing (an empty tenant)."""
    [empty] = at_least_one_table(iter(()), GROUPS_SCHEMA)
    assert (empty.num_rows, empty.schema) == (0, GROUPS_SCHEMA)
    table = to_table_json([group_row({"id": "g-1"})], GROUPS_SCHEMA)
    assert list(at_least_one_table([table], GROUPS_SCHEMA)) == [table]


def _strict_json(text: str) -> object:
    def refuse(constant: str) -> object:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_a_number_beyond_a_double_in_properties_is_stored_as_json():
    """`1e400` is legal JSON that decodes to infinity: the properties text read `{"big":Infinity}`,
    which no JSON reader (DuckDB's `properties::JSON` included) accepts. Now a JSON string. (The
    typed decoder refuses such a page; the client decodes it the generic way, as here.)"""
    from pipelines.xmatters.people_pages import decode_page, people_tables

    body = (
        b'{"count":1,"total":1,"data":[{"id":"p1","targetName":"p1","status":"ACTIVE",'
        b'"properties":{"big":1e400,"list":[-1e400,2],"ok":1.5}}],"links":{}}'
    )
    assert decode_page(body) is None
    page = json.loads(body)
    [table] = people_tables([page["data"]])
    [text] = table.column("properties").to_pylist()
    assert _strict_json(text) == {"big": "Infinity", "list": ["-Infinity", 2], "ok": 1.5}
