"""Write-audit-publish: a sync that fails a blocking check publishes nothing.

The drop check is the realistic trigger: a permission change on the API account makes people
vanish, which must not be published as mass revocation.
"""

from __future__ import annotations

import copy
import dataclasses

import dagster as dg
from dagster._core.execution.api import execute_run

from orchestration.cli import main
from orchestration.definitions import build_definitions
from orchestration.jobs import SYNC_JOB_NAME
from orchestration.resources import SyncSettings
from pipelines.c1z.reader import open_c1z
from simulator import XmattersSimulator, build_org
from tests.conftest import SMALL_ORG_SPEC, cached_org
from tests.orchestration.conftest import read_sync, use_simulator
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
    # a large group of 20 holds all 20 people
    spec = dataclasses.replace(
        SMALL_ORG_SPEC, seed=3, people=20, groups=4, hidden_people=0, large_group_size=20
    )
    org = build_org(spec)
    assert {pid for _, pid in org.person_memberships()} == {p["id"] for p in org.people}
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


def test_c1_sync_alone_does_not_publish_what_the_checks_blocked(
    simulator, org_spec, data_home, tmp_path, monkeypatch
):
    """A blocked sync leaves its staged tables behind; "Materialize" on `c1_sync` alone (a run
    without the checks) must not publish them. After a sync whose checks passed, it still may
    (what "Re-execute from failure" runs after a failed write)."""
    use_simulator(monkeypatch, simulator)
    sync_file = tmp_path / "sync.c1z"
    defs = build_definitions({"sync_settings": SyncSettings(sync_file=str(sync_file))})
    job = defs.resolve_implicit_global_asset_job_def()
    c1_sync = [dg.AssetKey("c1_sync")]
    with dg.instance_for_test() as instance:
        assert job.execute_in_process(instance=instance).success
        assert job.execute_in_process(instance=instance, asset_selection=c1_sync).success
        before = sync_file.read_bytes()
        users_before = published(data_home, "SELECT user_id FROM c1.users ORDER BY ALL")

        simulator.serve(
            cached_org(dataclasses.replace(org_spec, people=10, hidden_people=0, large_groups=0, groups=15))
        )
        blocked = job.execute_in_process(instance=instance, raise_on_error=False)
        assert not blocked.success
        alone = job.execute_in_process(instance=instance, asset_selection=c1_sync, raise_on_error=False)

    assert not alone.success
    [failure] = [e for e in alone.all_events if e.is_step_failure]
    message = failure.step_failure_data.error.cause.message
    assert (
        "UnauditedTablesError: c1_sync publishes only staged tables whose blocking checks passed" in message
    )
    assert f"c1_staging/users check users_sudden_drop failed in run {blocked.run_id[:8]}: users" in message
    assert "nothing was published" in message and len(message.strip().splitlines()) == 1
    assert sync_file.read_bytes() == before
    assert published(data_home, "SELECT user_id FROM c1.users ORDER BY ALL") == users_before


def test_c1_sync_alone_on_a_new_home_names_the_tables_never_staged(data_home, tmp_path, monkeypatch):
    """Before: DuckDB's `Catalog Error: Table with name "c1_staging.users" does not exist`."""
    monkeypatch.setenv("BATON_BASE_URL", "http://127.0.0.1:9/api/xm/1")  # never requested
    monkeypatch.setenv("BATON_USERNAME", "someone")
    monkeypatch.setenv("BATON_PASSWORD", "secret")
    sync_file = tmp_path / "sync.c1z"
    job = build_definitions(
        {"sync_settings": SyncSettings(sync_file=str(sync_file))}
    ).resolve_implicit_global_asset_job_def()
    with dg.instance_for_test() as instance:
        alone = job.execute_in_process(
            instance=instance, asset_selection=[dg.AssetKey("c1_sync")], raise_on_error=False
        )
    [failure] = [e for e in alone.all_events if e.is_step_failure]
    message = failure.step_failure_data.error.cause.message
    assert (
        "c1_sync publishes only staged tables whose blocking checks passed: c1_staging/entitlements, "
        "c1_staging/grants, c1_staging/groups, c1_staging/memberships, c1_staging/user_emails, "
        "c1_staging/users were never materialized; nothing was published" in message
    )
    assert not sync_file.exists()


def test_a_run_queued_behind_does_not_keep_the_run_ahead_from_publishing(
    simulator, data_home, tmp_path, monkeypatch
):
    """ "Materialize all" clicked twice in the UI: the second run waits in the queue (one run at a
    time), and Dagster records its checks as planned when it is queued. The first run, whose checks
    passed, then failed at `c1_sync` with `AttributeError: 'AssetCheckEvaluationPlanned' object has
    no attribute 'target_materialization_data'`: the gate read the queued run's planned execution
    as each check's latest. Here the first run stops short of `c1_sync` and the queued run is
    created; `c1_sync` (the rest of the first run, as "Re-execute from failure" runs it) publishes."""
    use_simulator(monkeypatch, simulator)
    sync_file = tmp_path / "sync.c1z"
    defs = build_definitions({"sync_settings": SyncSettings(sync_file=str(sync_file))})
    job = defs.resolve_implicit_global_asset_job_def()
    staged_and_checked = [
        key for key in job.asset_layer.executable_asset_keys if key.path[0] in ("xmatters_raw", "c1_staging")
    ]
    with dg.instance_for_test() as instance:
        assert job.execute_in_process(instance=instance, asset_selection=staged_and_checked).success
        queued = instance.create_run_for_job(job)  # not started: its checks planned
        planned = instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [dg.AssetCheckKey(dg.AssetKey(["c1_staging", "users"]), "users_sudden_drop")]
        )
        assert [record.run_id for record in planned.values()] == [queued.run_id]
        publish = job.execute_in_process(
            instance=instance, asset_selection=[dg.AssetKey("c1_sync")], raise_on_error=False
        )
        failures = [str(e.step_failure_data.error) for e in publish.all_events if e.is_step_failure]
    assert publish.success, failures
    assert read_sync(sync_file).users == {p["id"] for p in simulator.org.all_people}


def overtaken_sync_job() -> dg.JobDefinition:
    """The sync job with the default resources (the UI's), for `dg.reconstructable` below."""
    return build_definitions().resolve_job_def(SYNC_JOB_NAME)


def test_a_run_overtaken_in_the_queue_publishes_when_it_runs(simulator, data_home, tmp_path, monkeypatch):
    """ "Materialize all" in the UI while a CLI sync runs: the UI run waits in the queue, its checks
    planned when it was queued; the CLI sync (in-process, never queued) is created after it and
    finishes first. When the queued run then ran, every check passed, yet `c1_sync` refused:
    `c1_staging/users check users_expectations did not run on its latest materialization`. The gate
    took the check execution recorded last (the CLI's, recorded after the queued run's plan) for the
    latest, though the queued run's own had run later, on the latest materialization."""
    use_simulator(monkeypatch, simulator)
    sync_file = tmp_path / "sync.c1z"
    monkeypatch.setenv("BATON_FILE", str(sync_file))
    job = overtaken_sync_job()
    with dg.instance_for_test() as instance:
        queued = instance.create_run_for_job(job, tags={"queued": "ui"})  # checks planned
        assert job.execute_in_process(instance=instance).success  # the CLI's run overtakes it
        first = read_sync(sync_file)
        with open_c1z(sync_file) as reader:
            first_sync_id = reader.sync_id
        ran = execute_run(dg.reconstructable(overtaken_sync_job), queued, instance)
        failures = [str(e.step_failure_data.error) for e in ran.all_events if e.is_step_failure]
        assert ran.success, failures
        syncs = published(data_home, "SELECT sync_id FROM c1.sync_runs ORDER BY published_at DESC")
    assert read_sync(sync_file).users == first.users == {p["id"] for p in simulator.org.all_people}
    with open_c1z(sync_file) as reader:
        assert [row[0] for row in syncs] == [reader.sync_id, first_sync_id] != [first_sync_id] * 2


def test_c1_sync_alone_after_the_raw_assets_alone_names_the_tables_built_before_the_extract(
    simulator, org_spec, data_home, tmp_path, monkeypatch
):
    """The UI's "Materialize" on the raw assets, then on the staged users alone, then on `c1_sync` alone: each
    staged table passed its own checks, but against different extracts. With people gone from
    xMatters, the writer then refused a grant to a user the new users table no longer had
    (`C1ZWriteError: ... unknown principal user`); with nothing gone it published users of one
    extract beside grants of another. Now the gate names the tables built before the extract."""
    use_simulator(monkeypatch, simulator)
    sync_file = tmp_path / "sync.c1z"
    defs = build_definitions({"sync_settings": SyncSettings(sync_file=str(sync_file))})
    job = defs.resolve_implicit_global_asset_job_def()
    raw = [key for key in job.asset_layer.asset_graph.get_all_asset_keys() if key.path[0] == "xmatters_raw"]
    with dg.instance_for_test() as instance:
        assert job.execute_in_process(instance=instance).success
        before = sync_file.read_bytes()
        assert job.execute_in_process(instance=instance, asset_selection=raw).success
        users = [dg.AssetKey(["c1_staging", "user_emails"]), dg.AssetKey(["c1_staging", "users"])]
        assert job.execute_in_process(instance=instance, asset_selection=users).success
        alone = job.execute_in_process(
            instance=instance, asset_selection=[dg.AssetKey("c1_sync")], raise_on_error=False
        )

    assert not alone.success
    [failure] = [e for e in alone.all_events if e.is_step_failure]
    message = failure.step_failure_data.error.cause.message
    assert (
        "c1_sync publishes only staged tables whose blocking checks passed: c1_staging/entitlements, "
        "c1_staging/grants, c1_staging/groups, c1_staging/memberships were built before the latest "
        "extract (xmatters_raw); nothing was published" in message
    ), message
    assert sync_file.read_bytes() == before
