"""xMatters JSON (as the API returns it) -> rows, following the rules in the mapping docstrings."""

from __future__ import annotations

from datetime import UTC, datetime

from pipelines.c1z.rows import EntitlementRow, GrantRow
from tests.c1z.mapping import (
    HIDDEN_MEMBER_DETAILS,
    entitlement_for_group,
    grant_from_member_item,
    group_from_xmatters,
    user_from_hidden_member,
    user_from_person,
)

PERSON = {
    "id": "a1b2c3d4-0000-4000-8000-000000000001",
    "targetName": "mmcbride",
    "recipientType": "PERSON",
    "externallyOwned": False,
    "externalKey": "EMP-1",
    "locked": False,
    "status": "ACTIVE",
    "firstName": "Mary",
    "lastName": "McBride",
    "language": "en",
    "timezone": "US/Eastern",
    "webLogin": "mary.mcbride",
    "licenseType": "FULL_USER",
    "site": {"id": "site-1", "name": "Default Site", "links": {"self": "/api/xm/1/sites/site-1"}},
    "properties": {"Cost Center": "42", "On Call": True, "Skills": ["db", "net"]},
    "lastLogin": "2024-05-01T10:00:00.000Z",
    "whenCreated": "2019-06-14T22:17:31.450Z",
    "links": {"self": "/api/xm/1/people/a1b2"},
}


def test_person_to_user() -> None:
    user = user_from_person(PERSON)
    assert (user.user_id, user.display_name, user.status, user.login) == (
        PERSON["id"], "Mary McBride", "ENABLED", "mary.mcbride",
    )  # fmt: skip
    assert (user.given_name, user.family_name, user.status_details, user.emails) == (
        "Mary",
        "McBride",
        None,
        (),
    )
    assert user.created_at == datetime(2019, 6, 14, 22, 17, 31, 450000, tzinfo=UTC)
    assert user.last_login == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    assert user.profile == {
        "targetName": "mmcbride", "firstName": "Mary", "lastName": "McBride", "licenseType": "FULL_USER",
        "language": "en", "timezone": "US/Eastern", "site": "Default Site", "externalKey": "EMP-1",
        "externallyOwned": False, "lastLogin": "2024-05-01T10:00:00.000Z",
        "whenCreated": "2019-06-14T22:17:31.450Z",
        "properties": {"Cost Center": "42", "On Call": True, "Skills": ["db", "net"]},
        "visibleToConnector": True,
    }  # fmt: skip


def test_person_fallbacks() -> None:
    sparse = {"id": "p2", "targetName": "svc-bot", "status": "INACTIVE", "site": {"id": "site-9"}}
    user = user_from_person(sparse)
    assert (user.display_name, user.status, user.login) == ("svc-bot", "DISABLED", "svc-bot")
    assert (
        user.profile is not None and user.profile["site"] == "site-9" and user.profile["properties"] is None
    )
    assert user.created_at is None and user.last_login is None
    assert user_from_person({"id": "p3", "firstName": "Only", "status": "WEIRD"}).display_name == "Only"
    assert user_from_person({"id": "p3", "status": "WEIRD"}).status == "UNSPECIFIED"
    assert user_from_person({"id": "p4", "lastLogin": "not a date"}).last_login is None


def test_hidden_member_to_user() -> None:
    member = {"id": "p9", "targetName": "ghost", "recipientType": "PERSON", "firstName": "Gho",
              "lastName": "St", "licenseType": "STAKEHOLDER_USER", "links": {}}  # fmt: skip
    user = user_from_hidden_member(member)
    assert (user.status, user.status_details, user.login) == ("UNSPECIFIED", HIDDEN_MEMBER_DETAILS, "ghost")
    assert user.display_name == "Gho St"
    assert user.profile is not None and user.profile["visibleToConnector"] is False
    assert user.profile["licenseType"] == "STAKEHOLDER_USER"


def test_group_and_its_entitlement() -> None:
    group = group_from_xmatters({
        "id": "g-1", "targetName": "Database Ops ☎", "recipientType": "GROUP", "status": "ACTIVE",
        "groupType": "ON_CALL", "description": "", "externallyOwned": False, "allowDuplicates": True,
        "useDefaultDevices": True, "observedByAll": False, "site": {"id": "s1", "name": "HQ"},
        "created": "2020-01-01T00:00:00.000Z", "links": {"self": "/api/xm/1/groups/g-1"},
    })  # fmt: skip
    assert (group.group_id, group.display_name, group.description) == ("g-1", "Database Ops ☎", None)
    assert group.profile == {  # the profile keeps the blank description as sent (as users' profiles)
        "targetName": "Database Ops ☎", "groupType": "ON_CALL", "status": "ACTIVE", "description": "",
        "site": "HQ", "externallyOwned": False, "allowDuplicates": True, "useDefaultDevices": True,
        "observedByAll": False, "created": "2020-01-01T00:00:00.000Z",
    }  # fmt: skip
    assert entitlement_for_group(group) == EntitlementRow(
        "g-1", "Database Ops ☎ Group Member", "Member of the Database Ops ☎ group in xMatters"
    )


def _item(member_type: str, member_id: str = "m1") -> dict[str, object]:
    return {
        "group": {"id": "g-1", "targetName": "Ops", "recipientType": "GROUP"},
        "member": {"id": member_id, "targetName": "x", "recipientType": member_type},
    }


def test_membership_items_to_grants() -> None:
    assert grant_from_member_item(_item("PERSON")) == GrantRow("g-1", "user", "m1")
    assert grant_from_member_item(_item("GROUP")) is None
    assert grant_from_member_item(_item("GROUP"), expand_nested_groups=True) == GrantRow(
        "g-1", "group", "m1", True
    )
    assert grant_from_member_item(_item("DEVICE")) is None
    assert grant_from_member_item(_item("DYNAMIC_TEAM"), expand_nested_groups=True) is None


def test_login_aliases_and_employee_id() -> None:
    user = user_from_person(PERSON)  # webLogin "mary.mcbride", targetName "mmcbride"
    assert (user.login, user.login_aliases, user.employee_ids) == ("mary.mcbride", ("mmcbride",), ("EMP-1",))
    same = user_from_person({"id": "p5", "targetName": "sam", "webLogin": "sam"})
    assert (same.login, same.login_aliases, same.employee_ids) == ("sam", (), ())
    no_web = user_from_person({"id": "p6", "targetName": "tom", "webLogin": " ", "externalKey": "\t"})
    assert (no_web.login, no_web.login_aliases, no_web.employee_ids) == ("tom", (), ())
    hidden = user_from_hidden_member({"id": "p9", "targetName": "ghost", "recipientType": "PERSON"})
    assert (hidden.login, hidden.login_aliases, hidden.employee_ids) == ("ghost", (), ())


def test_blank_text_falls_back_like_missing_text() -> None:
    blank = {"id": "p7", "firstName": "  ", "lastName": "\u3000", "targetName": "\t\n", "webLogin": ""}
    user = user_from_person(blank)
    assert (user.display_name, user.login, user.given_name, user.family_name) == ("p7", None, None, None)
    assert user_from_person({"id": "p8", "firstName": " ", "lastName": "Doe"}).display_name == "Doe"
    assert user_from_person({"id": "p8", "firstName": " Ann ", "lastName": ""}).display_name == " Ann "
    group = group_from_xmatters({"id": "g-2", "targetName": "\u00a0 ", "description": " "})
    assert (group.display_name, group.description) == ("g-2", None)
