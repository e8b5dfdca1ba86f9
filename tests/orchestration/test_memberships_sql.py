"""orchestration/sql/memberships.sql: one row per (group, member), whatever the raw layer repeats."""

from __future__ import annotations

from pathlib import Path

import duckdb

from orchestration import sql
from orchestration.c1_limits_sql import install_macros

RAW_COLUMNS = (
    "group_id, member__id, member__recipient_type, member__first_name, member__last_name, "
    "member__target_name, member__name, member__device_type, member__owner__id"
)


def staged_groups_and_raw_members(database: str = ":memory:") -> duckdb.DuckDBPyConnection:
    """A warehouse (in memory unless `database` names a file) with the staged groups g1 (Ops) and
    g2 (Dev), an empty raw `group_members` table of RAW_COLUMNS, and the transforms' macros (`c1_text`)."""
    con = duckdb.connect(database)
    install_macros(con)
    con.execute("CREATE SCHEMA xmatters_raw; CREATE SCHEMA c1_staging")
    con.execute("CREATE TABLE c1_staging.groups (group_id VARCHAR, display_name VARCHAR)")
    con.execute("INSERT INTO c1_staging.groups VALUES ('g1', 'Ops'), ('g2', 'Dev')")
    columns = ", ".join(f"{column} VARCHAR" for column in RAW_COLUMNS.split(", "))
    con.execute(f"CREATE TABLE xmatters_raw.group_members ({columns})")
    return con


def test_a_member_listed_twice_is_one_row_and_the_others_all_stay() -> None:
    con = staged_groups_and_raw_members()
    rows = [
        ("g1", "p1", "PERSON", "Ann", "Lee", "ann", None, None, None),
        ("g1", "p1", "PERSON", "Ann", "Lee", "ann", None, None, None),  # repeated by the API
        ("g1", "p1", "PERSON", "Ann", "Lee", "ann", None, None, None),
        ("g1", "p2", "PERSON", "", "", "bob", None, None, None),
        ("g2", "p1", "PERSON", "Ann", "Lee", "ann", None, None, None),  # same member, other group
        ("g2", "g1", "GROUP", None, None, "Ops", None, None, None),
        ("g2", "d1", "DEVICE", None, None, "ann|Work Email", "Work Email", "EMAIL", "p1"),
        ("g2", "d1", "DEVICE", None, None, "ann|Work Email", "Work Email", "EMAIL", "p1"),
        ("g3", "p3", "PERSON", "Cy", None, "cy", None, None, None),  # group outside the staged groups
    ]
    con.executemany(
        f"INSERT INTO xmatters_raw.group_members ({RAW_COLUMNS}) VALUES ({', '.join('?' * 9)})", rows
    )
    con.execute(sql.load("memberships"), {"expand_nested_groups": False})
    assert con.execute("SELECT * FROM c1_staging.memberships ORDER BY group_id, member_id").fetchall() == [
        ("g1", "Ops", "p1", "PERSON", "Ann Lee", "ann", None, None, True),
        ("g1", "Ops", "p2", "PERSON", "bob", "bob", None, None, True),
        ("g2", "Dev", "d1", "DEVICE", "ann|Work Email", "ann|Work Email", "EMAIL", "p1", False),
        ("g2", "Dev", "g1", "GROUP", "Ops", "Ops", None, None, False),
        ("g2", "Dev", "p1", "PERSON", "Ann Lee", "ann", None, None, True),
    ]


def test_a_nested_group_is_a_grant_only_when_expanded_and_listed_by_groups() -> None:
    """`is_grant` says what grants.sql makes of the row: a nested group outside the account's scope
    (not in `/groups`) has no resource to grant to, so it is no grant even with --expand-nested-groups
    (it read true while no grant existed)."""
    con = staged_groups_and_raw_members()
    rows = [
        ("g1", "g2", "GROUP", None, None, "Dev", None, None, None),
        ("g1", "g1", "GROUP", None, None, "Ops", None, None, None),  # a group in itself
        ("g1", "g9", "GROUP", None, None, "Hidden", None, None, None),  # not listed by /groups
        ("g1", "p1", "PERSON", "Ann", "Lee", "ann", None, None, None),
    ]
    con.executemany(
        f"INSERT INTO xmatters_raw.group_members ({RAW_COLUMNS}) VALUES ({', '.join('?' * 9)})", rows
    )
    for expand in (False, True):
        con.execute(sql.load("memberships"), {"expand_nested_groups": expand})
        is_grant = dict(con.execute("SELECT member_id, is_grant FROM c1_staging.memberships").fetchall())
        assert is_grant == {"g1": expand, "g2": expand, "g9": False, "p1": True}
        con.execute(sql.load("grants"))
        grants = {row[0] for row in con.execute("SELECT principal_id FROM c1_staging.grants").fetchall()}
        assert grants == {member for member, granted in is_grant.items() if granted}


def test_blank_member_names_fall_back_as_users_display_names_do() -> None:
    """`member_name` follows `users.display_name`'s rule (`c1_text`): empty or whitespace-only text
    counts as missing, down to the member's id. It only dropped empty strings: a first name of
    spaces made " Lee", and a person whose names were all blank had a blank `member_name`."""
    con = staged_groups_and_raw_members()
    rows = [
        ("g1", "p1", "PERSON", " ", "Lee", "lee", None, None, None),
        ("g1", "p2", "PERSON", "\u3000", "\t", "\u2003 ", None, None, None),  # all blank: the id
        ("g1", "p3", "PERSON", "Ann", "\u00a0", "ann", None, None, None),
        ("g1", "p4", "PERSON", " Zoë ", None, "zoe", None, None, None),  # not blank: kept as sent
        ("g1", "g2", "GROUP", None, None, "  ", "Dev", None, None),
        ("g1", "d1", "DEVICE", None, None, "\n", "Work Email", "EMAIL", "p1"),
        ("g2", "p5", "PERSON", "", "", "", None, None, None),
    ]
    con.executemany(
        f"INSERT INTO xmatters_raw.group_members ({RAW_COLUMNS}) VALUES ({', '.join('?' * 9)})", rows
    )
    con.execute(sql.load("memberships"), {"expand_nested_groups": False})
    names = dict(con.execute("SELECT member_id, member_name FROM c1_staging.memberships").fetchall())
    assert names == {
        "p1": "Lee",
        "p2": "p2",
        "p3": "Ann",
        "p4": " Zoë ",
        "g2": "Dev",
        "d1": "Work Email",
        "p5": "p5",
    }


def test_members_with_huge_names_are_staged_within_duckdbs_memory_limit(tmp_path: Path) -> None:
    """Names far wider than DuckDB's memory allows in one sort: 100 MB of 5 KB names (a tenth of them
    listed twice) in 48 MB. DuckDB 2.0 cannot spill a sort or a window whose rows hold long strings,
    and the ORDER BY (and the dedupe window) over whole rows failed the step, as a tenant of 30 KB
    member names failed the sync at 256 MB: "Out of Memory Error: failed to pin block". Every
    membership is staged once, with its whole name (the warehouse keeps the full text)."""
    con = staged_groups_and_raw_members(str(tmp_path / "warehouse.duckdb"))
    rows, width = 20_000, 5_000
    wide = (
        "SELECT 'g' || (i % 2 + 1), 'p' || i, 'PERSON', NULL, NULL, lpad(i::VARCHAR, {width}, 'x'), "
        "NULL, NULL, NULL FROM range({start}, {stop}) AS r(i)"
    )
    for stop in (rows, rows // 10):  # the first tenth twice
        con.execute(f"INSERT INTO xmatters_raw.group_members {wide.format(width=width, start=0, stop=stop)}")
    con.execute("SET memory_limit = '48MB'")
    con.execute(sql.load("memberships"), {"expand_nested_groups": False})
    staged = con.execute(
        "SELECT count(*), count(DISTINCT (group_id, member_id)), min(strlen(member_target_name)), "
        "count(*) FILTER (WHERE member_name = member_target_name AND member_target_name LIKE '%' || "
        "substr(member_id, 2)) FROM c1_staging.memberships"
    ).fetchone()
    assert staged == (rows, rows, width, rows)
