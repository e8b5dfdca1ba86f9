"""Typed `/people` pages give exactly the rows of the generic (dict) path, or step aside for it."""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
import pytest

from pipelines.xmatters.errors import ProtocolError
from pipelines.xmatters.people_pages import PersonItem, decode_page, people_tables, person_key
from pipelines.xmatters.settings import PEOPLE_SCHEMA
from pipelines.xmatters.tables import person_row, to_table

# Shapes seen in people pages: full items, fields left out, null objects, custom properties of
# every JSON kind (empty ones are NULL), unknown fields, text that is not ASCII.
PEOPLE: list[dict[str, Any]] = [
    {
        "id": "p-1",
        "targetName": "björn.θεοδωρίδης",
        "recipientType": "PERSON",
        "externallyOwned": True,
        "links": {"self": "/api/xm/1/people/p-1"},
        "firstName": "Björn",
        "lastName": "Θεοδωρίδης",
        "language": "ja",
        "timezone": "UTC",
        "webLogin": "bjorn",
        "phoneLogin": "1234",
        "site": {"id": "s-1", "name": "Zürich HQ", "links": {"self": "/api/xm/1/sites/s-1"}},
        "externalKey": "EMP-1",
        "lastLogin": "2022-11-30T05:53:10.021Z",
        "whenCreated": "2021-01-05T05:10:05.858Z",
        "whenUpdated": "2023-06-27T08:19:26.450Z",
        "properties": {
            "Skills": ["Oracle DBA", "日本語"],
            "Cost Center": "CC-1",
            "N": 7,
            "F": 1e16,
            "R": False,
        },
        "status": "ACTIVE",
        "licenseType": "FULL_USER",
        "locked": False,
    },
    {"id": "p-2", "properties": {}, "site": None, "locked": None},
    {"id": "p-3", "properties": [], "site": {"name": "no id"}, "extra": {"a": [1, 2]}},
    {"id": "p-4", "properties": "text", "status": "INACTIVE"},
    {"id": "p-5", "properties": {"b": {"z": 1, "a": None}, "a": 0.1, "c": "line\nbreak\u0001"}},
    {"id": "p-6", "properties": 0},
]


def page_body(items: list[Any], next_link: str | None = None) -> bytes:
    links: dict[str, Any] = {"self": "/api/xm/1/people?offset=0&limit=1000"}
    if next_link is not None:
        links["next"] = next_link
    return json.dumps({"count": len(items), "total": len(items), "data": items, "links": links}).encode()


def rows_table(items: list[dict[str, Any]]) -> pa.Table:
    return to_table([person_row(item) for item in items], PEOPLE_SCHEMA)


def test_typed_page_gives_the_same_rows_as_the_dict_path() -> None:
    page = decode_page(page_body(PEOPLE, next_link="/api/xm/1/people?offset=6&limit=1000"))
    assert page is not None
    assert all(isinstance(item, PersonItem) for item in page["data"])
    assert page["links"] == {"next": "/api/xm/1/people?offset=6&limit=1000"}
    assert page["total"] == len(PEOPLE)
    assert [person_key(item) for item in page["data"]] == [f"p-{n}" for n in range(1, 7)]

    (table,) = people_tables([page["data"]])

    assert table.schema == PEOPLE_SCHEMA
    assert table.to_pylist() == rows_table(PEOPLE).to_pylist()
    assert table.column("properties").to_pylist()[:4] == [
        '{"Cost Center":"CC-1","F":1e+16,"N":7,"R":false,"Skills":["Oracle DBA","日本語"]}',
        None,
        None,
        '"text"',
    ]
    assert table.column("site__name").to_pylist()[:3] == ["Zürich HQ", None, "no id"]


@pytest.mark.parametrize(
    "body",
    [
        b"<html>maintenance</html>",
        b'{"data": {"id": "p-1"}}',  # data is not a list
        b'{"count": 0}',  # no data at all
        page_body(["p-1"]),  # an item that is not an object
        page_body([{"id": 7}]),  # an id that is not a string
        page_body([{"id": "p-1", "locked": "no"}]),
        page_body([{"id": "p-1", "status": True}]),
        page_body([{"id": "p-1", "site": "HQ"}]),  # site is not an object
        page_body([{"id": "p-1", "firstName": "\ud800"}]),  # a lone surrogate
        page_body(PEOPLE)[:-9],  # truncated
        json.dumps({"data": [], "links": "next"}).encode(),
        json.dumps({"data": [], "links": {"next": 5}}).encode(),
    ],
    ids=[
        "html",
        "data_object",
        "no_data",
        "item_string",
        "id_number",
        "locked_string",
        "status_bool",
        "site_string",
        "lone_surrogate",
        "truncated",
        "links_string",
        "next_number",
    ],
)
def test_anything_unexpected_is_left_to_the_generic_decoder(body: bytes) -> None:
    assert decode_page(body) is None


def test_person_key_of_dict_items_and_of_items_without_an_id() -> None:
    assert person_key({"id": "p-1"}) == "p-1"
    assert person_key({"id": ""}) is None
    assert person_key("p-1") is None
    typed = decode_page(page_body([{"targetName": "no id"}, {"id": ""}, {"id": None}]))
    assert typed is not None
    assert [person_key(item) for item in typed["data"]] == [None, None, None]


def test_batches_hold_at_most_batch_rows_and_keep_every_row_in_order() -> None:
    pages = []
    for number in range(5):
        typed = decode_page(page_body([{"id": f"p-{number}-{i}"} for i in range(number + 1)]))
        assert typed is not None
        pages.append(typed["data"])

    tables = list(people_tables(pages, batch_rows=4))

    assert [table.num_rows for table in tables] == [4, 4, 4, 3]
    ids = [row["id"] for table in tables for row in table.to_pylist()]
    assert ids == [f"p-{n}-{i}" for n in range(5) for i in range(n + 1)]


def test_people_of_a_generically_decoded_page_take_the_row_path() -> None:
    typed = decode_page(page_body(PEOPLE[:3]))
    assert typed is not None
    generic = json.loads(page_body(PEOPLE[3:]))["data"]  # a later page fell back to dicts

    tables = list(people_tables([typed["data"], generic]))

    rows = sorted((row for table in tables for row in table.to_pylist()), key=lambda r: r["id"])
    assert rows == rows_table(PEOPLE).to_pylist()


def test_a_value_of_the_wrong_type_fails_naming_its_column() -> None:
    generic = json.loads(page_body([{"id": "p-1", "locked": "no"}]))["data"]
    with pytest.raises(ProtocolError, match="unexpected value type for column locked: str"):
        list(people_tables([generic]))
