"""Profiles keep blank text as xMatters sent it, users' and groups' alike.

A person's blank `firstName` ("") stayed "" in the user's profile while a group's blank
`description` was dropped from the group's profile (the top-level fields, display names and the
group's `Resource.description`, rightly treat blank as missing). The profile's documented rule is
"the values as the API sends them; absent values left out", as a baton-sdk connector's profile map
holds the API's strings (a Go connector's blank string stays ""): now groups follow it too.
"""

from __future__ import annotations

import json

import duckdb
import pytest

from orchestration import sql
from orchestration.c1_limits_sql import install_macros
from orchestration.key_ranges import ALL
from orchestration.staged_users import stage_users
from tests.c1z.mapping.group import group_from_xmatters
from tests.c1z.mapping.user import user_from_person

PEOPLE = (
    "id, first_name, last_name, target_name, status, web_login, external_key, license_type, language, "
    "timezone, site__name, site__id, externally_owned, last_login, when_created, properties, when_updated"
)
GROUPS = (
    "id, target_name, description, group_type, status, site__name, site__id, externally_owned, "
    "allow_duplicates, use_default_devices, observed_by_all, created"
)
MEMBERS = "group_id, member__id, member__recipient_type, member__first_name, member__last_name, "
MEMBERS += "member__target_name, member__license_type"
BLANKS = {"empty": "", "spaces": "  ", "absent": None}


def _warehouse() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    install_macros(con)
    con.execute("CREATE SCHEMA xmatters_raw; CREATE SCHEMA c1_staging")
    for table, columns in (("people", PEOPLE), ("groups", GROUPS), ("group_members", MEMBERS)):
        typed = ", ".join(f"{column} VARCHAR" for column in columns.split(", "))
        con.execute(f"CREATE TABLE xmatters_raw.{table} ({typed})")
    con.execute("CREATE TABLE c1_staging.user_emails (user_id VARCHAR, address VARCHAR, is_primary BOOLEAN)")
    for name, blank in BLANKS.items():
        con.execute(
            "INSERT INTO xmatters_raw.people (id, first_name, last_name, target_name, status) "
            "VALUES (?, ?, 'Lee', 'ann', 'ACTIVE')",
            [f"p-{name}", blank],
        )
        con.execute(
            "INSERT INTO xmatters_raw.groups (id, target_name, description, status) "
            "VALUES (?, 'Ops', ?, 'ACTIVE')",
            [f"g-{name}", blank],
        )
    stage_users(con)
    con.execute(sql.load("groups"), ALL.params())
    return con


@pytest.mark.parametrize("name", BLANKS)
def test_blank_text_stays_in_users_and_groups_profiles_alike(name: str) -> None:
    blank = BLANKS[name]
    con = _warehouse()
    [(user_profile, given_name)] = con.execute(
        "SELECT profile, given_name FROM c1_staging.users WHERE user_id = ?", [f"p-{name}"]
    ).fetchall()
    [(group_profile, description)] = con.execute(
        "SELECT profile, description FROM c1_staging.groups WHERE group_id = ?", [f"g-{name}"]
    ).fetchall()
    assert (given_name, description) == (None, None)  # the fields: blank counts as missing
    user_profile, group_profile = json.loads(user_profile), json.loads(group_profile)
    assert user_profile["firstName"] == blank and group_profile["description"] == blank  # as sent
    # the mapping the SQL mirrors (tests/c1z/mapping/) says the same
    person = {
        "id": f"p-{name}",
        "firstName": blank,
        "lastName": "Lee",
        "targetName": "ann",
        "status": "ACTIVE",
    }
    group = {"id": f"g-{name}", "targetName": "Ops", "description": blank, "status": "ACTIVE"}
    assert user_from_person(person).profile["firstName"] == blank
    assert group_from_xmatters(group).profile["description"] == blank
