"""Access-change history: each published sync keeps a snapshot; c1.access_changes says what changed."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime

import duckdb

from orchestration import history
from orchestration.cli import main
from orchestration.history import AccessChanges
from simulator.faults import Faults
from tests.conftest import cached_org
from tests.orchestration.conftest import empty_history_warehouse, expected_from_org
from tests.orchestration.test_sync_cli import published, sync_args


def _statuses(org) -> dict[str, str]:
    return {p["id"]: p["status"] for p in org.people}


def test_second_sync_reports_exactly_what_changed(simulator, org, org_spec, data_home, tmp_path, capsys):
    sync_file = tmp_path / "sync.c1z"
    assert main(sync_args(simulator, sync_file)) == 0
    first_out = capsys.readouterr().out
    assert "changes        first published sync" in first_out

    users_before, groups_before = _names(data_home)
    changed_org_spec = dataclasses.replace(org_spec, inactive_share=0.4)
    victim = next(g for g in org.groups if len(org.members[g["id"]]) > 3 and g["id"] != org.groups[0]["id"])
    simulator.serve(cached_org(changed_org_spec))  # the same tenant, changed
    simulator.faults = Faults(deleted_groups={victim["id"]})
    second = simulator
    assert main(sync_args(second, sync_file)) == 0
    out = capsys.readouterr().out

    old, new = expected_from_org(org), expected_from_org(second.org)
    new_grants = {g for g in new.grants if not g.startswith(f"group:{victim['id']}:member:")}
    before, after = _statuses(org), _statuses(second.org)
    common = before.keys() & after.keys()
    expected = {
        "grant_added": len(new_grants - old.grants),
        "grant_removed": len(old.grants - new_grants),
        "user_added": len(new.users - old.users),
        "user_removed": len(old.users - new.users),
        "user_activated": sum(before[u] != "ACTIVE" and after[u] == "ACTIVE" for u in common),
        "user_deactivated": sum(before[u] == "ACTIVE" and after[u] != "ACTIVE" for u in common),
        # listed by /people before, now only a member of a group: "not visible to the connector account"
        "user_hidden": len((before.keys() - after.keys()) & new.users),
        "group_added": len(new.groups - old.groups),
        "group_removed": len(old.groups - new.groups),
    }
    # the changed org is generated anew: its people and two groups have other names (same ids)
    users_after, groups_after = _names(data_home)
    expected["user_renamed"] = sum(
        users_before[u] != users_after[u] for u in users_before.keys() & users_after.keys()
    )
    expected["group_renamed"] = sum(
        groups_before[g] != groups_after[g] for g in groups_before.keys() & groups_after.keys()
    )
    assert expected["grant_removed"] > 0 and expected["user_deactivated"] > 0
    assert expected["user_renamed"] > 0 and expected["group_renamed"] > 0

    rows = published(data_home, "SELECT change, count(*) FROM c1.access_changes GROUP BY 1")
    assert {k: v for k, v in rows} == {k: v for k, v in expected.items() if v}
    summary = AccessChanges("s", "p", expected).summary()
    assert f"changes        {summary}" in out
    assert f"-{expected['grant_removed']} grants" in summary

    syncs = published(data_home, "SELECT count(DISTINCT sync_id) FROM c1.history_grants")[0][0]
    assert syncs == 2


def test_history_keeps_only_the_configured_number_of_syncs(synced_once, data_home, tmp_path):
    simulator, sync_file = synced_once, tmp_path / "sync.c1z"  # the first of three syncs done
    for _ in range(2):
        assert main(sync_args(simulator, sync_file)) == 0
    assert published(data_home, "SELECT count(DISTINCT sync_id) FROM c1.history_users")[0][0] == 3

    con = duckdb.connect(str(data_home / "warehouse.duckdb"))
    try:
        result = history.compute_changes(con, retention=2)
        kept = con.sql("SELECT count(DISTINCT sync_id) FROM c1.history_users").fetchall()[0][0]
    finally:
        con.close()
    assert kept == 2
    assert result is not None and result.summary() == "no access changes"
    assert published(data_home, "SELECT count(*) FROM c1.sync_runs")[0][0] == 3


def query(home, sql: str, *params: object) -> list[tuple]:
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def _names(data_home) -> tuple[dict[str, str], dict[str, str]]:
    users = dict(published(data_home, "SELECT user_id, display_name FROM c1.users"))
    groups = dict(published(data_home, "SELECT group_id, display_name FROM c1.groups"))
    return users, groups


def _shown(names: dict[str, str], object_id: str) -> str:
    """How `diff` names a user or group: with its id when another has the same name (the simulated
    organisation has several people of one name)."""
    name = names[object_id]
    return f"{name} ({object_id})" if list(names.values()).count(name) > 1 else name


def test_a_membership_edit_and_a_deactivation_read_as_names(synced_once, org, data_home, tmp_path, capsys):
    """Sync, then in xMatters: one person leaves a group, another joins it, a third is deactivated;
    the second sync's changes carry the time, the sync ids and everyone's display names, in
    c1.access_changes, c1.recent_changes and `baton-xmatters diff`."""
    simulator, sync_file = synced_once, tmp_path / "sync.c1z"  # the first sync done
    visible = {p["id"]: p for p in org.people}
    group = next(
        g
        for g in org.groups[1:]
        if 3 <= len(org.members[g["id"]]) <= 50
        and sum(m["member"]["id"] in visible for m in org.members[g["id"]]) >= 2
    )
    in_group = [m["member"]["id"] for m in org.members[group["id"]] if m["member"]["id"] in visible]
    leaver = in_group[0]
    joiner = next(p for p in visible if p not in in_group and visible[p]["status"] == "ACTIVE")
    deactivated = next(p for p in visible if p not in (leaver, joiner) and visible[p]["status"] == "ACTIVE")
    users, groups = _names(data_home)
    ((first_id, first_at),) = query(data_home, "SELECT sync_id, published_at FROM c1.sync_runs")

    simulator.serve(
        org.with_changes(
            remove_members=[(group["id"], leaver)],
            add_members=[(group["id"], joiner)],
            statuses={deactivated: "INACTIVE"},
        )
    )
    capsys.readouterr()
    assert main(sync_args(simulator, sync_file)) == 0
    assert "changes        +1 grants, -1 grants, 1 users deactivated" in capsys.readouterr().out

    ((second_id, published_at),) = query(
        data_home, "SELECT sync_id, published_at FROM c1.sync_runs WHERE sync_id <> ?", first_id
    )
    gid, gname = group["id"], groups[group["id"]]
    rows = published(
        data_home,
        "SELECT sync_id, previous_sync_id, changed_at, change, object_type, object_id, group_id, group_name, "
        "principal_type, principal_id, principal_name, display_name FROM c1.access_changes ORDER BY change",
    )
    assert rows == [
        (second_id, first_id, published_at, "grant_added", "grant", f"group:{gid}:member:user:{joiner}",
         gid, gname, "user", joiner, users[joiner], None),
        (second_id, first_id, published_at, "grant_removed", "grant", f"group:{gid}:member:user:{leaver}",
         gid, gname, "user", leaver, users[leaver], None),
        (second_id, first_id, published_at, "user_deactivated", "user", deactivated,
         None, None, "user", deactivated, users[deactivated], users[deactivated]),
    ]  # fmt: skip
    assert published(
        data_home, "SELECT changed_at, change, group_name, principal_name, sync_id FROM c1.recent_changes"
    ) == [
        (published_at, "grant_added", gname, users[joiner], second_id),
        (published_at, "grant_removed", gname, users[leaver], second_id),
        (published_at, "user_deactivated", None, users[deactivated], second_id),
    ]
    access = query(data_home, "SELECT user_name, user_status FROM c1.group_access WHERE group_id = ?", gid)
    assert (users[joiner], "ENABLED") in access and users[leaver] not in {name for name, _ in access}
    assert published(data_home, "SELECT count(*) FROM c1.group_access") == published(
        data_home, "SELECT count(*) FROM c1.grants WHERE principal_type = 'user'"
    )
    assert {
        row[0]
        for row in query(data_home, "SELECT user_status FROM c1.group_access WHERE user_id = ?", deactivated)
    } <= {"DISABLED"}

    assert main(["diff"]) == 0
    expected = (
        f"sync {second_id} published {published_at:%Y-%m-%d %H:%M:%S} UTC, since {first_id}: "
        "+1 grants, -1 grants, 1 users deactivated\n"
        f"  ~ user   {_shown(users, deactivated)}: deactivated\n"
        f"  + grant  {_shown(users, joiner)} in {_shown(groups, gid)}\n"
        f"  - grant  {_shown(users, leaver)} in {_shown(groups, gid)}\n"
    )
    assert capsys.readouterr().out == expected
    assert main(["diff", "--since", first_id]) == 0
    assert capsys.readouterr().out == expected
    assert main(["diff", "--last", "2"]) == 0
    assert capsys.readouterr().out == expected + (
        f"\nsync {first_id} published {first_at:%Y-%m-%d %H:%M:%S} UTC: "
        "first published sync (baseline for change history)\n"
    )

    assert main(["diff", "--since", "2pXnope"]) == 2
    assert capsys.readouterr().err == (
        f"baton-xmatters: error: --since: no published sync 2pXnope in {data_home / 'warehouse.duckdb'}\n"
    )

    assert main(["diff", "-o", "json"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)
    assert entry["sync_id"] == second_id and entry["previous_sync_id"] == first_id
    assert entry["resources"] == {
        "created": [],
        "deleted": [],
        "modified": [
            {
                "resource_type": "user",
                "id": deactivated,
                "display_name": users[deactivated],
                "change": "user_deactivated",
            }
        ],
    }
    assert entry["grants"]["created"] == [
        {
            "id": f"group:{gid}:member:user:{joiner}",
            "entitlement_id": f"group:{gid}:member",
            "group": {"id": gid, "display_name": gname},
            "principal": {"resource_type": "user", "id": joiner, "display_name": users[joiner]},
        }
    ]
    assert [g["principal"]["id"] for g in entry["grants"]["deleted"]] == [leaver]


def _warehouse_with_two_snapshots(
    sources: tuple[tuple[str, str], tuple[str, str]],
) -> duckdb.DuckDBPyConnection:
    """Sync s1: Ana and Bo in Ops; sync s2: Bo deleted from xMatters, Ops renamed Ops Team, Cy joins."""
    con = empty_history_warehouse()
    snapshots = {
        "s1": ([("u1", "Ana", "ENABLED"), ("u2", "Bo", "ENABLED")], "Ops", ["u1", "u2"]),
        "s2": ([("u1", "Ana", "ENABLED"), ("u3", "Cy", "ENABLED")], "Ops Team", ["u1", "u3"]),
    }
    for (sync_id, (users, group_name, members)), (url, account), day in zip(
        snapshots.items(), sources, (1, 2), strict=True
    ):
        con.executemany("INSERT INTO c1.history_users VALUES (?, ?, ?, ?)", [(sync_id, *u) for u in users])
        con.execute("INSERT INTO c1.history_groups VALUES (?, 'g1', ?)", [sync_id, group_name])
        con.executemany(
            "INSERT INTO c1.history_grants VALUES (?, ?, 'g1', 'user', ?)",
            [(sync_id, f"group:g1:member:user:{u}", u) for u in members],
        )
        con.execute(
            "INSERT INTO c1.sync_runs (sync_id, published_at, source_url, source_account) "
            "VALUES (?, ?, ?, ?)",
            [sync_id, datetime(2026, 1, day, 3), url, account],
        )
    return con


def test_a_removed_grant_keeps_the_names_of_the_previous_snapshot():
    con = _warehouse_with_two_snapshots((("https://a/api/xm/1", "x"), ("https://a/api/xm/1", "x")))
    changes = history.compute_changes(con, retention=30)
    assert changes is not None
    assert changes.summary() == "+1 grants, -1 grants, +1 users, -1 users, 1 groups renamed"
    rows = con.execute(
        "SELECT changed_at, change, group_name, principal_name, display_name, previous_display_name "
        "FROM c1.access_changes ORDER BY change"
    ).fetchall()
    at = datetime(2026, 1, 2, 3)
    assert rows == [
        (at, "grant_added", "Ops Team", "Cy", None, None),
        (at, "grant_removed", "Ops", "Bo", None, None),  # Bo is gone: the name is the previous sync's
        (at, "group_renamed", "Ops Team", None, "Ops Team", "Ops"),
        (at, "user_added", None, "Cy", "Cy", None),
        (at, "user_removed", None, "Bo", "Bo", None),
    ]


def test_a_sync_of_a_new_source_is_a_new_baseline():
    con = _warehouse_with_two_snapshots((("https://a/api/xm/1", "x"), ("https://b/api/xm/1", "x")))
    changes = history.compute_changes(con, retention=30)
    assert changes is not None and changes.previous_sync_id is None and changes.new_source
    assert changes.summary() == "first sync of a new source (new baseline for change history)"
    assert con.execute("SELECT count(*) FROM c1.access_changes").fetchall() == [(0,)]


def test_renamed_users_and_groups_are_changes_with_the_old_and_new_name(
    synced_once, org, data_home, tmp_path, capsys
):
    """A person's name edited in xMatters (same id) and a group renamed: `baton-xmatters diff` said
    nothing ("no access changes"), though C1 shows the new names. Now each is a `user_renamed` /
    `group_renamed` change with its id, old -> new."""
    simulator, sync_file = synced_once, tmp_path / "sync.c1z"  # the first sync done
    users, groups = _names(data_home)
    person = next(p for p in org.people if p.get("firstName") and p.get("lastName"))
    group = org.groups[1]
    renamed = org.with_changes()
    renamed.people = [dict(p, lastName="Renamed") if p is person else p for p in renamed.people]
    renamed.groups = [dict(g, targetName="Renamed Group") if g is group else g for g in renamed.groups]
    simulator.serve(renamed)
    capsys.readouterr()
    assert main(sync_args(simulator, sync_file)) == 0
    assert "changes        1 users renamed, 1 groups renamed" in capsys.readouterr().out

    pid, gid = person["id"], group["id"]
    new_name = f"{person['firstName']} Renamed"
    assert published(
        data_home,
        "SELECT change, object_id, display_name, previous_display_name FROM c1.access_changes "
        "ORDER BY change",
    ) == [
        ("group_renamed", gid, "Renamed Group", groups[gid]),
        ("user_renamed", pid, new_name, users[pid]),
    ]
    ((second_id, published_at),) = query(
        data_home, "SELECT sync_id, published_at FROM c1.sync_runs ORDER BY published_at DESC LIMIT 1"
    )
    assert main(["diff"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith(": 1 users renamed, 1 groups renamed")
    assert lines[1:] == [
        f"  ~ user   {users[pid]} -> {new_name} ({pid}): renamed",
        f"  ~ group  {groups[gid]} -> Renamed Group ({gid}): renamed",
    ]
    assert main(["diff", "-o", "json"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)
    assert entry["resources"]["modified"] == [
        {
            "resource_type": "user",
            "id": pid,
            "display_name": new_name,
            "change": "user_renamed",
            "previous_display_name": users[pid],
        },
        {
            "resource_type": "group",
            "id": gid,
            "display_name": "Renamed Group",
            "change": "group_renamed",
            "previous_display_name": groups[gid],
        },
    ]
    assert entry["entitlements"]["modified"] == [
        {
            "id": f"group:{gid}:member",
            "group_id": gid,
            "slug": "member",
            "change": "group_renamed",
            "display_name": "Renamed Group Group Member",
            "previous_display_name": f"{groups[gid]} Group Member",
        }
    ]


# c1.access_changes as the first history version (798c9bb, 2026-11-27) created it: no times, no names.
EARLIER_CHANGES_DDL = """CREATE TABLE c1.access_changes (sync_id VARCHAR, previous_sync_id VARCHAR,
    change VARCHAR, object_type VARCHAR, object_id VARCHAR, group_id VARCHAR, principal_id VARCHAR,
    display_name VARCHAR)"""


def _changes_columns(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [
        row[0]
        for row in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'c1' "
            "AND table_name = 'access_changes' ORDER BY ordinal_position"
        ).fetchall()
    ]


def test_an_earlier_versions_changes_table_gets_the_columns_in_a_new_tables_order():
    """`SELECT *` and CSV exports of an upgraded warehouse list the columns as a new one (and the
    docs) do: the added columns were appended, changed_at last instead of third."""
    fresh = duckdb.connect()
    fresh.execute("CREATE SCHEMA c1")
    history.ensure_changes_table(fresh)
    con = duckdb.connect()
    con.execute("CREATE SCHEMA c1")
    con.execute(EARLIER_CHANGES_DDL)
    con.execute(
        "INSERT INTO c1.access_changes VALUES ('s2', 's1', 'grant_added', 'grant', 'x', 'g1', 'u1', NULL)"
    )

    history.ensure_changes_table(con)
    history.ensure_changes_table(con)  # once in order, left as it is

    assert _changes_columns(con) == _changes_columns(fresh)
    assert _changes_columns(con)[:4] == ["sync_id", "previous_sync_id", "changed_at", "change"]
    rows = con.execute(
        "SELECT sync_id, previous_sync_id, change, object_type, object_id, group_id, principal_id, "
        "display_name, changed_at, group_name, principal_type, principal_name FROM c1.access_changes"
    ).fetchall()
    assert rows == [("s2", "s1", "grant_added", "grant", "x", "g1", "u1", None, None, None, None, None)]
