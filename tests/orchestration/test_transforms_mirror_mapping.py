"""The SQL transforms (orchestration/sql/) and the Python mapping (tests/c1z/mapping/) agree.

The mapping modules state the rules; the SQL applies them set-based for speed. This test holds the
two to the same answer, row for row, over the simulator's varied organisation, and over the same
organisation with hostile text (blank names fall back alike; the warehouse keeps the full text).
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from orchestration.cli import main
from tests.c1z.mapping.grant import entitlement_for_group
from tests.c1z.mapping.group import group_from_xmatters
from tests.c1z.mapping.user import user_from_hidden_member, user_from_person
from tests.conftest import cached_org
from tests.orchestration.test_sync_cli import published, sync_args

USER_COLUMNS = (
    "user_id, display_name, status, status_details, login, given_name, family_name, profile, "
    "created_at, last_login, login_aliases, employee_ids"
)


def _without_nones(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nones(v) for k, v in value.items() if v is not None}
    return value


def _naive_utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def _user_tuple(row) -> tuple:
    return (
        row.user_id,
        row.display_name,
        row.status,
        row.status_details,
        row.login,
        row.given_name,
        row.family_name,
        _without_nones(row.profile),
        _naive_utc(row.created_at),
        _naive_utc(row.last_login),
        list(row.login_aliases),
        list(row.employee_ids),
    )


@pytest.mark.parametrize("hostile", [False, True], ids=["default", "hostile-text"])
def test_sql_users_and_groups_match_the_python_mapping(
    hostile, org_spec, make_simulator, data_home, tmp_path
):
    spec = dataclasses.replace(org_spec, hostile_text=hostile)  # blank names, huge multi-byte text
    org = cached_org(spec)
    assert main(sync_args(make_simulator(spec), tmp_path / "sync.c1z")) == 0

    sql_users = {
        r[0]: (*r[:7], _without_nones(json.loads(r[7])), *r[8:])
        for r in published(data_home, f"SELECT {USER_COLUMNS} FROM c1.users")
    }
    visible = {p["id"] for p in org.people}
    python_users = {p["id"]: _user_tuple(user_from_person(p)) for p in org.people}
    for items in org.members.values():
        for item in items:
            member = item["member"]
            if member["recipientType"] == "PERSON" and member["id"] not in visible:
                python_users.setdefault(member["id"], _user_tuple(user_from_hidden_member(member)))
    assert sql_users.keys() == python_users.keys()
    mismatched = [uid for uid in python_users if sql_users[uid] != python_users[uid]]
    assert not mismatched, (sql_users[mismatched[0]], python_users[mismatched[0]])

    sql_groups = {
        r[0]: (r[0], r[1], r[2], _without_nones(json.loads(r[3])))
        for r in published(data_home, "SELECT group_id, display_name, description, profile FROM c1.groups")
    }
    python_groups = {}
    python_entitlements = set()
    for group in org.groups:
        row = group_from_xmatters(group)
        entitlement = entitlement_for_group(row)
        python_entitlements.add((entitlement.group_id, entitlement.display_name, entitlement.description))
        python_groups[row.group_id] = (
            row.group_id,
            row.display_name,
            row.description,
            _without_nones(row.profile),
        )
    assert sql_groups == python_groups
    sql_entitlements = published(data_home, "SELECT group_id, display_name, description FROM c1.entitlements")
    assert set(sql_entitlements) == python_entitlements
