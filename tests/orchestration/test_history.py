"""Access-change history: each published sync keeps a snapshot; c1.access_changes says what changed."""

from __future__ import annotations

import dataclasses

import duckdb

from orchestration import history
from orchestration.cli import main
from orchestration.history import AccessChanges
from simulator.faults import Faults
from tests.orchestration.conftest import expected_from_org
from tests.orchestration.test_sync_cli import published, sync_args


def _statuses(org) -> dict[str, str]:
    return {p["id"]: p["status"] for p in org.people}


def test_second_sync_reports_exactly_what_changed(
    simulator, org, org_spec, make_simulator, data_home, tmp_path, capsys
):
    sync_file = tmp_path / "sync.c1z"
    assert main(sync_args(simulator, sync_file)) == 0
    first_out = capsys.readouterr().out
    assert "changes        first published sync" in first_out

    changed_org_spec = dataclasses.replace(org_spec, inactive_share=0.4)
    victim = next(g for g in org.groups if len(org.members[g["id"]]) > 3 and g["id"] != org.groups[0]["id"])
    second = make_simulator(spec=changed_org_spec, faults=Faults(deleted_groups={victim["id"]}))
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
        "group_added": len(new.groups - old.groups),
        "group_removed": len(old.groups - new.groups),
    }
    assert expected["grant_removed"] > 0 and expected["user_deactivated"] > 0

    rows = published(data_home, "SELECT change, count(*) FROM c1.access_changes GROUP BY 1")
    assert {k: v for k, v in rows} == {k: v for k, v in expected.items() if v}
    summary = AccessChanges("s", "p", expected).summary()
    assert f"changes        {summary}" in out
    assert f"-{expected['grant_removed']} grants" in summary

    syncs = published(data_home, "SELECT count(DISTINCT sync_id) FROM c1.history_grants")[0][0]
    assert syncs == 2


def test_history_keeps_only_the_configured_number_of_syncs(simulator, data_home, tmp_path):
    sync_file = tmp_path / "sync.c1z"
    for _ in range(3):
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
