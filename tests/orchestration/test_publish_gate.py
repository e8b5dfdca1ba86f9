"""Write-audit-publish: a sync that fails a blocking check publishes nothing.

The drop check is the realistic trigger: a permission change on the API account makes people
vanish, which must not be published as mass revocation.
"""

from __future__ import annotations

import copy
import dataclasses

from orchestration.cli import main
from simulator import OrgSpec, XmattersSimulator, build_org
from tests.conftest import cached_org
from tests.orchestration.conftest import read_sync
from tests.orchestration.test_sync_cli import published, sync_args


def test_vanished_people_block_publishing_and_leave_everything_as_it_was(
    simulator, org_spec, data_home, tmp_path, capsys
):
    sync_file = tmp_path / "sync.c1z"
    assert main(sync_args(simulator, sync_file)) == 0
    before = sync_file.read_bytes()
    tables_before = {
        t: published(data_home, f"SELECT * FROM c1.{t} ORDER BY ALL") for t in ("users", "groups", "grants")
    }
    capsys.readouterr()
    previous = len(simulator.org.people)  # the users `/people` listed: the drop check's count

    # the same tenant (same URL and account) now shows the API account far fewer people
    simulator.serve(
        cached_org(dataclasses.replace(org_spec, people=10, hidden_people=0, large_groups=0, groups=15))
    )
    shrunk = simulator
    assert main(sync_args(shrunk, sync_file)) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "users_sudden_drop" in err
    assert previous == 120
    assert "users listed by /people 120 -> 10: 92% of users dropped; limit 50% (--max-drop)" in err
    assert "nothing was published" in err
    assert sync_file.read_bytes() == before
    assert not sync_file.with_name("sync.c1z.pending").exists()
    for table, rows in tables_before.items():
        assert published(data_home, f"SELECT * FROM c1.{table} ORDER BY ALL") == rows
    assert published(data_home, "SELECT count(*) FROM c1.sync_runs")[0][0] == 1

    # the operator, having checked the change is real, lets this one run through
    assert main([*sync_args(shrunk, sync_file), "--max-drop", "1"]) == 0
    assert read_sync(sync_file).users == {p["id"] for p in shrunk.org.people}
    assert published(data_home, "SELECT count(*) FROM c1.sync_runs")[0][0] == 2


def test_people_gone_from_people_but_still_members_block_publishing(data_home, tmp_path, capsys):
    """`/people` returns nobody (the account's scope shrank) while the groups still list everyone as
    a member: each member stays a user, "not visible to the connector account", so the count of all
    users holds. The check counts the users `/people` listed, and blocks (it published every user
    as unknown before)."""
    org = build_org(
        OrgSpec(
            seed=3,
            people=20,
            groups=4,
            members_per_group=8,
            hidden_people=0,
            large_groups=1,
            large_group_size=20,
        )
    )
    assert {pid for _, pid in org.person_memberships()} == {
        p["id"] for p in org.people
    }  # everyone is a member
    unseen = copy.copy(org)  # the same members; member codes index `all_people`, whose order is kept
    unseen.people, unseen.hidden_people = [], [*org.people, *org.hidden_people]
    sync_file = tmp_path / "sync.c1z"
    with XmattersSimulator(org) as simulator:
        assert main(sync_args(simulator, sync_file)) == 0
        before = sync_file.read_bytes()
        users_before = published(data_home, "SELECT * FROM c1.users ORDER BY ALL")
        capsys.readouterr()
        simulator.serve(unseen)
        assert main(sync_args(simulator, sync_file)) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "users_sudden_drop" in err and "nothing was published" in err
    assert "users listed by /people 20 -> 0: 100% of users dropped; limit 50% (--max-drop)" in err
    assert sync_file.read_bytes() == before
    assert published(data_home, "SELECT * FROM c1.users ORDER BY ALL") == users_before
