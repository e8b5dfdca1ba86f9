"""Typed members pages give exactly the rows of the generic (dict) path, or step aside for it."""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
import pytest

from pipelines.xmatters import member_pages
from pipelines.xmatters.errors import ProtocolError
from pipelines.xmatters.member_pages import MemberItem, MembersBatcher, decode_page, member_key
from pipelines.xmatters.settings import GROUP_MEMBERS_SCHEMA
from pipelines.xmatters.tables import member_row, to_table

# Shapes seen in members pages: full items, fields left out, null objects, unknown fields.
ITEMS: list[dict[str, Any]] = [
    {
        "group": {"id": "g-1", "targetName": "Ops", "recipientType": "GROUP", "links": {"self": "/x"}},
        "member": {
            "id": "p-1",
            "targetName": "ada",
            "recipientType": "PERSON",
            "status": "ACTIVE",
            "firstName": "Ada",
            "lastName": "Lovelace",
            "licenseType": "FULL_USER",
            "links": {"self": "/api/xm/1/people/p-1"},
        },
    },
    {
        "member": {
            "id": "d-1",
            "recipientType": "DEVICE",
            "deviceType": "EMAIL",
            "name": "Work Email",
            "owner": {"id": "p-1", "targetName": "ada", "links": {}},
        }
    },
    {"group": None, "member": {"id": "g-2", "targetName": "Nested", "recipientType": "GROUP", "owner": None}},
    {"member": {"id": "t-1", "targetName": "On call", "recipientType": "DYNAMIC_TEAM"}, "extra": [1, 2]},
]


def page_body(items: list[Any], next_link: str | None = None) -> bytes:
    links: dict[str, Any] = {"self": "/api/xm/1/groups/g-1/members?offset=0&limit=1000"}
    if next_link is not None:
        links["next"] = next_link
    return json.dumps({"count": len(items), "total": len(items), "data": items, "links": links}).encode()


def rows_table(group_id: str, items: list[dict[str, Any]]) -> pa.Table:
    return to_table([member_row(group_id, item) for item in items], GROUP_MEMBERS_SCHEMA)


def batched(batcher: MembersBatcher, groups: list[tuple[str, list[Any]]]) -> list[pa.Table]:
    tables = [table for group_id, items in groups for table in batcher.add(group_id, items)]
    return tables + list(batcher.flush())


def test_typed_page_gives_the_same_rows_as_the_dict_path() -> None:
    page = decode_page(page_body(ITEMS, next_link="/api/xm/1/groups/g-1/members?offset=4&limit=1000"))
    assert page is not None
    assert all(isinstance(item, MemberItem) for item in page["data"])
    assert page["links"] == {"next": "/api/xm/1/groups/g-1/members?offset=4&limit=1000"}
    assert [member_key(item) for item in page["data"]] == ["p-1", "d-1", "g-2", "t-1"]

    (table,) = batched(MembersBatcher(), [("g-1", page["data"])])
    expected = rows_table("g-1", ITEMS)
    assert table.schema == GROUP_MEMBERS_SCHEMA
    assert table.to_pylist() == expected.to_pylist()
    assert table.column("member__owner__id").to_pylist() == [None, "p-1", None, None]
    assert table.column("group__target_name").to_pylist() == ["Ops", None, None, None]


@pytest.mark.parametrize(
    "body",
    [
        b"<html>maintenance</html>",
        b'{"data": {"member": {}}}',  # data is not a list
        b'{"count": 0}',  # no data at all
        page_body(["not an object"]),
        page_body([{"member": "p-1"}]),  # member is not an object
        page_body([{"member": {"id": 7}}]),  # an id that is not a string
        page_body([{"member": {"id": "p-1", "status": True}}]),
        page_body([{"member": {"id": "p-1"}, "group": "Ops"}]),
        page_body(ITEMS)[:-9],  # truncated
        json.dumps({"data": [], "links": "next"}).encode(),
        json.dumps({"data": [], "links": {"next": 5}}).encode(),
    ],
    ids=[
        "html",
        "data_object",
        "no_data",
        "item_string",
        "member_string",
        "id_number",
        "status_bool",
        "group_string",
        "truncated",
        "links_string",
        "next_number",
    ],
)
def test_anything_unexpected_is_left_to_the_generic_decoder(body: bytes) -> None:
    assert decode_page(body) is None


def test_page_without_links_has_no_next_page() -> None:
    assert decode_page(b'{"data": []}') == {"data": [], "links": None, "total": None}


def test_member_key_of_dict_items_and_of_items_without_an_id() -> None:
    assert member_key({"member": {"id": "p-1"}}) == "p-1"
    assert member_key({"member": {"id": ""}}) is None
    assert member_key("p-1") is None
    typed = decode_page(
        page_body([{"member": {"targetName": "no id"}}, {"group": {}}, {"member": {"id": ""}}])
    )
    assert typed is not None
    assert [member_key(item) for item in typed["data"]] == [None, None, None]


def test_batches_hold_at_least_batch_rows_and_keep_every_row_in_order() -> None:
    groups = []
    for number in range(7):
        items = [{"member": {"id": f"p-{number}-{i}", "recipientType": "PERSON"}} for i in range(number + 1)]
        typed = decode_page(page_body(items))
        assert typed is not None
        groups.append((f"g-{number}", typed["data"]))

    tables = batched(MembersBatcher(batch_rows=5), groups)

    assert [t.num_rows for t in tables[:-1]] and all(t.num_rows >= 5 for t in tables[:-1])
    rows = [row for table in tables for row in table.to_pylist()]
    assert [(r["group_id"], r["member__id"]) for r in rows] == [
        (f"g-{n}", f"p-{n}-{i}") for n in range(7) for i in range(n + 1)
    ]


def test_a_value_longer_than_a_json_read_block_is_kept_whole() -> None:
    long_name = "x" * (3 << 20)  # pyarrow reads JSON lines in 1 MiB blocks
    items = [{"member": {"id": "p-1", "targetName": long_name}}, {"member": {"id": "p-2"}}]
    typed = decode_page(page_body(items))
    assert typed is not None

    (table,) = batched(MembersBatcher(), [("g-1", typed["data"])])

    assert table.column("member__target_name").to_pylist() == [long_name, None]


def test_items_of_a_generically_decoded_page_take_the_row_path() -> None:
    typed = decode_page(page_body(ITEMS[:2]))
    assert typed is not None
    mixed = [*typed["data"], *ITEMS[2:]]  # a later page of the group fell back to dicts

    tables = batched(MembersBatcher(), [("g-1", mixed)])

    rows = sorted((row for table in tables for row in table.to_pylist()), key=lambda r: r["member__id"])
    assert rows == sorted(rows_table("g-1", ITEMS).to_pylist(), key=lambda r: r["member__id"])


def test_a_value_of_the_wrong_type_fails_naming_its_column() -> None:
    batcher = MembersBatcher()
    with pytest.raises(ProtocolError, match="unexpected value type for column member__status: bool"):
        batched(batcher, [("g-1", [{"member": {"id": "p-1", "status": True}}])])


def test_a_batch_encoded_in_parts_is_the_same_table(monkeypatch: pytest.MonkeyPatch) -> None:
    typed = decode_page(page_body(ITEMS * 5))
    assert typed is not None
    whole = batched(MembersBatcher(), [("g-1", typed["data"])])
    monkeypatch.setattr(member_pages, "ENCODE_YIELD_ITEMS", 3)  # 20 items: parts of 3, and a last of 2
    in_parts = batched(MembersBatcher(), [("g-1", typed["data"])])
    assert in_parts[0].equals(whole[0]) and whole[0].num_rows == 20
