"""New and trial tenants: no people, no groups, groups without members. Each is a valid sync.

dlt creates no table for a resource that yielded no rows, so before the raw layer guaranteed its
tables these syncs failed with `Table with name groups does not exist!`. Each case syncs through
the CLI against the simulator, then reads the `.c1z` back three ways: our reader, `inspect stats`
and baton-sdk's own reader (`gobaton-read`, when the shared interop binaries are present).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import duckdb
import pytest

from orchestration.cli import main
from pipelines.xmatters import settings
from simulator import OrgSpec, build_org
from tests.orchestration.conftest import expected_from_org, read_sync
from tests.orchestration.test_sync_cli import sync_args

RAW_SCHEMAS = {
    "people": settings.PEOPLE_SCHEMA,
    "groups": settings.GROUPS_SCHEMA,
    "group_members": settings.GROUP_MEMBERS_SCHEMA,
    "email_devices": settings.EMAIL_DEVICES_SCHEMA,
}


def _gobaton_read() -> Path | None:
    """baton-sdk's reader in the nearest `shared/interop/baton-cli` above the repository."""
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / "interop" / "baton-cli" / "gobaton-read"
        if candidate.is_file():
            return candidate
    return None


def tenant(people: int, groups: int, members_per_group: int, hidden_people: int = 0) -> OrgSpec:
    return OrgSpec(
        seed=3,
        people=people,
        groups=groups,
        members_per_group=members_per_group,
        hidden_people=hidden_people,
        large_groups=0,
        large_group_size=0,
    )


# name -> (spec, users, groups, grants, hidden users, member rows)
CASES = {
    "nothing": (tenant(0, 0, 0), 0, 0, 0, 0, 0),
    "people_no_groups": (tenant(5, 0, 0), 5, 0, 0, 0, 0),
    "groups_no_members": (tenant(5, 3, 0), 5, 3, 0, 0, 0),
    "no_people_hidden_members": (tenant(0, 2, 0, hidden_people=3), 3, 2, 3, 3, 3),
}


def raw_columns(home: Path) -> dict[str, list[str]]:
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        rows = con.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'xmatters_raw' ORDER BY table_name, ordinal_position"
        ).fetchall()
    finally:
        con.close()
    columns: dict[str, list[str]] = {}
    for table, column in rows:
        columns.setdefault(table, []).append(column)
    return columns


def raw_count(home: Path, table: str) -> int:
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        return int(con.sql(f"SELECT count(*) FROM xmatters_raw.{table}").fetchall()[0][0])
    finally:
        con.close()


def published_counts(home: Path) -> tuple[int, ...]:
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        return tuple(
            con.sql(f"SELECT count(*) FROM {table}").fetchall()[0][0]
            for table in ("xmatters_raw.groups", "c1.users", "c1.groups", "c1.grants")
        )
    finally:
        con.close()


def assert_readable_by_baton_sdk(sync_file: Path, users: int, groups: int, grants: int) -> None:
    reader = _gobaton_read()
    if reader is None:
        return  # the reading by our own reader and `inspect` still ran; see test_baton_sdk_reader_present
    done = subprocess.run([str(reader), str(sync_file)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["validation_failures"] == [] and report["dangling_references"] == {}
    assert report["stats"] == {
        "entitlements": groups,
        "grants": grants,
        "group": groups,
        "user": users,
        "resource_types": 2,
    }
    assert (report["resources_total"], report["entitlements"], report["grants"]) == (
        users + groups,
        groups,
        grants,
    )


@pytest.mark.parametrize("case", list(CASES))
def test_an_empty_or_sparse_tenant_syncs(case, make_simulator, data_home, tmp_path, capsys):
    spec, users, groups, grants, hidden, members = CASES[case]
    org = build_org(spec)
    expected = expected_from_org(org)
    assert (len(expected.users), len(expected.groups), len(expected.grants)) == (users, groups, grants)
    sim = make_simulator(spec=spec)
    sync_file = tmp_path / "sync.c1z"

    assert main(sync_args(sim, sync_file)) == 0
    out = capsys.readouterr().out.splitlines()
    hidden_note = f" ({hidden} not visible to the connector account)" if hidden else ""
    assert f"  users          {users}{hidden_note}" in out
    assert f"  groups         {groups}" in out
    assert f"  entitlements   {groups}" in out
    assert f"  grants         {grants}" in out

    contents = read_sync(sync_file)
    assert (contents.users, contents.groups, contents.entitlements, contents.grants) == (
        expected.users,
        expected.groups,
        expected.entitlements,
        expected.grants,
    )
    assert main(["inspect", "-f", str(sync_file), "stats", "-o", "json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["entitlements"] == groups and stats["grants"] == grants
    assert stats["resource_types"].get("user", 0) == users
    assert stats["resource_types"].get("group", 0) == groups
    assert_readable_by_baton_sdk(sync_file, users, groups, grants)

    # the raw layer always has all four tables, with exactly the declared columns
    columns = {k: v for k, v in raw_columns(data_home).items() if not k.startswith("_dlt")}
    assert columns == {name: schema.names for name, schema in RAW_SCHEMAS.items()}
    assert raw_count(data_home, "group_members") == members == org.membership_rows()
    assert published_counts(data_home) == (groups, users, groups, grants)


def test_groups_going_from_some_to_none_leave_no_stale_rows(make_simulator, data_home, tmp_path, capsys):
    """The same people; every group deleted between two syncs: the second publishes 0 groups."""
    before = tenant(5, 3, 4)
    after = tenant(5, 0, 0)
    first = expected_from_org(build_org(before))
    assert first.grants and first.users == expected_from_org(build_org(after)).users
    sync_file = tmp_path / "sync.c1z"
    sim = make_simulator(spec=before)
    assert main(sync_args(sim, sync_file)) == 0
    assert published_counts(data_home) == (3, 5, 3, len(first.grants))
    capsys.readouterr()

    sim.serve(build_org(after))  # the same tenant (URL and account), its groups deleted
    # losing every grant is what the sudden-drop guard exists for: blocked unless accepted
    assert main(sync_args(sim, sync_file)) == 1
    assert "grants_sudden_drop" in capsys.readouterr().err
    assert read_sync(sync_file).grants == first.grants
    assert main(sync_args(sim, sync_file, "--max-drop", "1")) == 0
    assert "  groups         0" in capsys.readouterr().out.splitlines()

    contents = read_sync(sync_file)
    assert (len(contents.users), contents.groups, contents.entitlements, contents.grants) == (
        5,
        set(),
        set(),
        set(),
    )
    assert published_counts(data_home) == (0, 5, 0, 0)
    assert_readable_by_baton_sdk(sync_file, 5, 0, 0)


def test_diff_lists_the_syncs_of_an_empty_tenant(make_simulator, data_home, tmp_path, capsys):
    """`diff` took a sync as aged out of the history when it had no snapshot rows, which is every
    sync of a tenant with no people and no groups: an empty tenant's baseline printed "no sync with
    change history in the selection", and the sync that removed every user was left out of
    `--last 3`, the one change a reviewer must see."""
    sync_file = tmp_path / "sync.c1z"
    sim = make_simulator(spec=tenant(0, 0, 0))
    assert main(sync_args(sim, sync_file)) == 0
    capsys.readouterr()
    assert main(["diff"]) == 0
    [baseline] = capsys.readouterr().out.splitlines()
    assert baseline.endswith(": first published sync (baseline for change history)"), baseline

    sim.serve(build_org(tenant(5, 0, 0)))  # the same tenant: five people arrive, then all leave
    assert main(sync_args(sim, sync_file)) == 0
    sim.serve(build_org(tenant(0, 0, 0)))
    assert main(sync_args(sim, sync_file, "--max-drop", "1")) == 0
    capsys.readouterr()
    assert main(["diff", "--last", "3"]) == 0
    headers = [line for line in capsys.readouterr().out.splitlines() if line.startswith("sync ")]
    assert [header.rsplit(": ", 1)[1] for header in headers] == [
        "-5 users",
        "+5 users",
        "first published sync (baseline for change history)",
    ]


def test_baton_sdk_reader_present():
    """Says loudly, once, when the checks with baton-sdk's own reader above were skipped."""
    if _gobaton_read() is None:
        pytest.skip("gobaton-read not found in any shared/interop/baton-cli above the repository")
