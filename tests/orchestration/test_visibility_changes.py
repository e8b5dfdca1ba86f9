"""A user's status change between syncs is named by what C1 now shows: activated (ENABLED),
deactivated (DISABLED) or hidden (UNSPECIFIED: a group member `/people` no longer returns).

Before, only the ENABLED bit was compared: a person who fell out of the API account's scope while
still in a group (ENABLED -> UNSPECIFIED, "not visible to the connector account") was reported as
deactivated, though xMatters had not deactivated anyone, and DISABLED -> UNSPECIFIED or a hidden
member who became visible as INACTIVE (UNSPECIFIED -> DISABLED) changed C1's status silently.
"""

from __future__ import annotations

from datetime import datetime

import duckdb

from orchestration import history
from orchestration.cli import main
from tests.orchestration.conftest import empty_history_warehouse
from tests.orchestration.test_sync_cli import published, sync_args

# user id -> (status at the first sync, status at the second)
TRANSITIONS = {
    "u1": ("ENABLED", "UNSPECIFIED"),
    "u2": ("DISABLED", "UNSPECIFIED"),
    "u3": ("UNSPECIFIED", "DISABLED"),
    "u4": ("UNSPECIFIED", "ENABLED"),
    "u5": ("ENABLED", "DISABLED"),
    "u6": ("DISABLED", "ENABLED"),
    "u7": ("UNSPECIFIED", "UNSPECIFIED"),
    "u8": ("ENABLED", "ENABLED"),
}


def _two_snapshots() -> duckdb.DuckDBPyConnection:
    con = empty_history_warehouse()
    for index, sync_id in enumerate(("s1", "s2")):
        con.executemany(
            "INSERT INTO c1.history_users VALUES (?, ?, ?, ?)",
            [(sync_id, user, f"Name {user}", statuses[index]) for user, statuses in TRANSITIONS.items()],
        )
        con.execute("INSERT INTO c1.history_groups VALUES (?, 'g1', 'Ops')", [sync_id])
        con.execute(
            "INSERT INTO c1.sync_runs (sync_id, published_at, source_url, source_account) "
            "VALUES (?, ?, ?, ?)",
            [sync_id, datetime(2026, 1, index + 1, 3), "https://a/api/xm/1", "x"],
        )
    return con


def test_each_status_change_is_named_by_the_new_status():
    con = _two_snapshots()
    changes = history.compute_changes(con, retention=30)
    assert changes is not None
    rows = con.execute("SELECT object_id, change FROM c1.access_changes ORDER BY object_id").fetchall()
    assert rows == [
        ("u1", "user_hidden"),
        ("u2", "user_hidden"),
        ("u3", "user_deactivated"),
        ("u4", "user_activated"),
        ("u5", "user_deactivated"),
        ("u6", "user_activated"),
    ]
    assert changes.summary() == "2 users activated, 2 users deactivated, 2 users no longer visible"


def test_a_person_out_of_the_accounts_scope_is_not_reported_deactivated(
    simulator, org, data_home, tmp_path, capsys
):
    """An ACTIVE person whom `/people` stops returning (the account's permission scope changed) but
    who is still a group member: C1 gets them UNSPECIFIED, "not visible to the connector account";
    `diff` says so, not "deactivated"."""
    person = org.people[-1]  # the last visible person: moved to the hidden ones, no index moves
    assert any(person["id"] == pid for _, pid in org.person_memberships())
    active = org.with_changes(statuses={person["id"]: "ACTIVE"})
    simulator.serve(active)
    sync_file = tmp_path / "sync.c1z"
    assert main(sync_args(simulator, sync_file)) == 0

    out_of_scope = active.with_changes()
    out_of_scope.people = active.people[:-1]
    out_of_scope.hidden_people = [active.people[-1], *active.hidden_people]
    simulator.serve(out_of_scope)
    capsys.readouterr()
    assert main(sync_args(simulator, sync_file)) == 0
    assert "changes        1 users no longer visible\n" in capsys.readouterr().out
    assert published(
        data_home, f"SELECT status, status_details FROM c1.users WHERE user_id = '{person['id']}'"
    ) == [("UNSPECIFIED", "not visible to the connector account")]
    assert published(data_home, "SELECT object_id, change FROM c1.access_changes") == [
        (person["id"], "user_hidden")
    ]
    assert main(["diff"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith(": 1 users no longer visible")
    # the simulated organisation has other people of that name: the line names the id too
    assert lines[1:] == [
        f"  ~ user   {_display_name(person)} ({person['id']}): no longer visible to the connector account"
    ]


def _display_name(person: dict) -> str:
    names = [person.get("firstName"), person.get("lastName")]
    return " ".join(n for n in names if n) or person["targetName"]
