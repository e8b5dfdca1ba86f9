"""Shared reads and ground truth for the xMatters source tests."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import duckdb

from simulator import Org, OrgSpec

PAGE_SIZE = 100
PASSWORD = "Sw0rdfish-4c9e-sim-secret"
USERNAME = "sim-user"

# Small, but people span three pages and the large group four member pages at PAGE_SIZE.
SPEC = OrgSpec(seed=11, people=230, groups=14, members_per_group=10, hidden_people=3, large_group_size=320)


def rows(warehouse: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.sql(sql).fetchall()
    finally:
        con.close()


def table_ids(warehouse: Path) -> tuple[set[str], set[str], set[tuple[str, str]]]:
    """(people ids, group ids, (group_id, member id) pairs) as loaded."""
    people = {r[0] for r in rows(warehouse, "select id from xmatters_raw.people")}
    groups = {r[0] for r in rows(warehouse, "select id from xmatters_raw.groups")}
    pairs = rows(warehouse, "select group_id, member__id from xmatters_raw.group_members")
    members = {(group_id, member_id) for group_id, member_id in pairs}
    return people, groups, members


def expected_memberships(org: Org, skip: set[str] = frozenset()) -> set[tuple[str, str]]:
    """Ground truth: (group id, member id) of every member item of every group not in `skip`."""
    return {
        (group["id"], item["member"]["id"])
        for group in org.groups
        if group["id"] not in skip
        for item in org.members[group["id"]]
    }


def snapshot(warehouse: Path) -> dict[str, list[tuple]]:
    """Every row of the three raw tables, sorted: to compare a warehouse before and after."""
    return {
        table: rows(warehouse, f"select * from xmatters_raw.{table} order by all")
        for table in ("people", "groups", "group_members")
    }


def read_request_head(rfile: BinaryIO) -> bytes | None:
    """One request's head (request line and headers) as a raw test server reads it; None once the
    client closed the connection."""
    request = b""
    while not request.endswith(b"\r\n\r\n"):
        line = rfile.readline()
        if not line:
            return None
        request += line
    return request
