"""Member pages parsed into Arrow (the fast path) give exactly the rows of the Python path, or step aside.

The Python path (`JsonMembersPage`: decode, `member_row`, `to_table`) is the reference: every page
the fast path accepts must give the same table, and every page it cannot reproduce exactly must be
left to the Python path (None), which then judges it as before.
"""

from __future__ import annotations

import base64
import json

import pyarrow as pa
import pytest
import urllib3

from pipelines.xmatters.errors import ProtocolError
from pipelines.xmatters.member_pages import JsonMembersPage, parse_member_page
from pipelines.xmatters.settings import GROUP_MEMBERS_SCHEMA
from tests.xmatters.helpers import PASSWORD, USERNAME

GROUP_ID = "g-1"
URL = "https://example.xmatters.com/api/xm/1/groups/g-1/members"


def python_path(body: bytes) -> tuple[pa.Table, str | None]:
    page = JsonMembersPage(json.loads(body), URL, GROUP_ID)
    return page.take(list(range(len(page.keys())))), page.next_link


def fast_path(body: bytes) -> tuple[pa.Table, str | None]:
    page = parse_member_page(body, GROUP_ID)
    assert page is not None, "the fast path refused a page it should take"
    return page.take(list(range(len(page.keys())))), page.next_link


def assert_same(body: bytes) -> pa.Table:
    fast, fast_next = fast_path(body)
    reference, reference_next = python_path(body)
    assert fast.schema == GROUP_MEMBERS_SCHEMA
    assert fast.to_pylist() == reference.to_pylist()
    assert fast_next == reference_next
    return fast


def page(items: list[object], **envelope: object) -> bytes:
    return json.dumps({"count": len(items), "total": len(items), "data": items, **envelope}).encode()


PERSON = {
    "group": {"id": GROUP_ID, "targetName": "Ops", "recipientType": "GROUP", "links": {"self": "/x"}},
    "member": {
        "id": "p-1",
        "targetName": "ada",
        "recipientType": "PERSON",
        "firstName": "Ada",
        "lastName": "Lovelace",
        "licenseType": "FULL_USER",
        "status": "ACTIVE",
        "links": {"self": "/api/xm/1/people/p-1"},
    },
}
DEVICE = {
    "group": {"targetName": "Ops"},
    "member": {
        "id": "d-1",
        "recipientType": "DEVICE",
        "deviceType": "EMAIL",
        "name": "Work Email",
        "owner": {"id": "p-1", "targetName": "ada", "links": {"self": "/p"}},
    },
}


def test_every_simulator_member_page_gives_the_python_paths_rows(xm_org, xm_sim):
    auth = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
    http = urllib3.PoolManager(headers={"Authorization": f"Basic {auth}"})
    pages = 0
    for group in xm_org.groups:
        url: str | None = f"{xm_sim.base_url}/groups/{group['id']}/members?limit=100"
        while url:
            body = http.request("GET", url).data
            table = assert_same(body)
            assert table.column("group_id").to_pylist() == [GROUP_ID] * table.num_rows
            link = json.loads(body).get("links", {}).get("next")
            url = f"{xm_sim.base_url.removesuffix('/api/xm/1')}{link}" if link else None
            pages += 1
    assert pages > len(xm_org.groups), "a group with several member pages was read"


@pytest.mark.parametrize(
    "body",
    [
        page([PERSON, DEVICE]),
        page([PERSON], links={"self": "/a", "next": "/api/xm/1/groups/g-1/members?offset=100"}),
        page([PERSON], links={"next": ""}),
        page([PERSON], links=None),
        page([]),
        page([{"member": {"id": "p-2"}}]),  # nothing but an id; no group object
        page([{"group": None, "member": {"id": "p-3", "owner": None, "firstName": None}}]),
        page([{**PERSON, "member": {**PERSON["member"], "firstName": "Zoë \u00e9 \U0001f600 \"q\" \\ \n"}}]),
        json.dumps(json.loads(page([PERSON, DEVICE])), indent=2).encode(),  # pretty-printed
        json.dumps(json.loads(page([PERSON])), ensure_ascii=True).encode(),  # \\u escapes
        page([PERSON, PERSON]),  # a repeated member: paging drops it, both paths list it
    ],
    ids=[
        "person-and-device",
        "next-link",
        "empty-next-link",
        "null-links",
        "empty-page",
        "id-only",
        "nulls",
        "unicode-and-escapes",
        "pretty-printed",
        "ascii-escapes",
        "repeated-member",
    ],
)
def test_pages_the_fast_path_takes_match_the_python_path(body):
    assert_same(body)


@pytest.mark.parametrize(
    "body",
    [
        page([{**PERSON, "member": {**PERSON["member"], "firstName": 7}}]),
        page([{**PERSON, "member": {**PERSON["member"], "id": 12}}]),
        page([{**PERSON, "member": {**PERSON["member"], "id": ""}}]),
        page([{"group": {"targetName": "Ops"}}]),
        page([{"member": None}]),
        page([None]),
        page([{**PERSON, "group": "Ops"}]),
        b'{"data": {"member": {"id": "p-1"}}}',
        b'{"links": {"next": 5}, "data": []}',
        b'{"links": "next", "data": []}',
        b'{"count": 0}',
        b'{"data": [{"member": {"id": "a"}, "member": {"id": "b"}}]}',
        b'{"data": [{"member": {"id": "\\ud800"}}]}',
        b'{"data": [{"member": {"id": "\xff\xfe"}}]}',
        b'{"links": {"next": "/p?offset=\xff"}, "data": []}',
        b'{"data": []}{"data": []}',
        b"[]",
        b"",
        b"<html>busy</html>",
        b'{"data": [{"member": {"id": "p-1"}}',
    ],
    ids=[
        "number-in-a-text-field",
        "numeric-id",
        "empty-id",
        "no-member",
        "null-member",
        "null-item",
        "group-not-an-object",
        "data-not-a-list",
        "next-not-a-string",
        "links-not-an-object",
        "no-data",
        "repeated-key",
        "lone-surrogate",
        "invalid-utf8",
        "invalid-utf8-in-the-next-link",
        "two-documents",
        "top-level-array",
        "empty-body",
        "html",
        "truncated",
    ],
)
def test_pages_the_fast_path_cannot_reproduce_are_left_to_the_python_path(body):
    assert parse_member_page(body, GROUP_ID) is None


def test_the_python_path_still_names_a_column_with_a_wrong_type():
    body = page([{**PERSON, "member": {**PERSON["member"], "firstName": 7}}])
    with pytest.raises(ProtocolError, match="unexpected value type for column member__first_name: int"):
        python_path(body)


def test_only_the_kept_items_become_rows():
    page_ = parse_member_page(page([PERSON, DEVICE]), GROUP_ID)
    assert page_ is not None
    assert page_.keys() == ["p-1", "d-1"]
    assert page_.take([1]).column("member__id").to_pylist() == ["d-1"]
