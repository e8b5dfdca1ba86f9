"""The run history's retention at its edges, on stand-in runs of well under a second each.

Found by reading orchestration/run_retention.py against what an operator meets:
- a schedule failing for weeks (credentials expired) kept every failed run: only published syncs
  were counted, and the runs since the newest one were all "between kept syncs";
- a failed run was deleted before the alert sensors read it (a good sync right after it, retention 1;
  or the daemon down), so it was never alerted on;
- two warehouses sharing a Dagster home counted each other's syncs: one warehouse's syncs deleted
  the other's history;
- a home with one event-log file per run (before 2026-11-27) kept an empty file per deleted run;
- the files never shrank after a large deletion (orchestration/history_space.py).
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
from dagster._core.instance.ref import InstanceRef
from dagster._core.remote_origin import (
    RegisteredCodeLocationOrigin,
    RemoteInstigatorOrigin,
    RemoteRepositoryOrigin,
)
from dagster._core.scheduler.instigation import (
    InstigatorState,
    InstigatorStatus,
    InstigatorType,
    SensorInstigatorData,
)

from orchestration import history_space, run_tags, run_warehouse
from orchestration.cli import main
from orchestration.run_retention import Pruned, prune_or_warn, prune_runs
from orchestration.sensors import failed_check_alert, run_failure_alert
from tests.orchestration.test_run_retention import TINY
from tests.orchestration.test_sync_cli import sync_args


@dg.asset(name="c1_sync")
def stand_in_sync() -> dg.MaterializeResult:
    """Stands in for a published sync: a run that materializes `c1_sync`."""
    return dg.MaterializeResult()


@dg.asset_check(asset=stand_in_sync, name="warns")
def warns() -> dg.AssetCheckResult:
    """A failed non-blocking check in a sync that publishes: the check sensor alerts on it."""
    return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN, description="odd")


@dg.op
def extract() -> None:
    raise RuntimeError("xmatters: HTTP 401 (wrong password)")


@dg.job
def failing_sync() -> None:
    """Stands in for a sync that failed before it published (credentials expired)."""
    extract()


SYNC = dg.Definitions(assets=[stand_in_sync]).resolve_implicit_global_asset_job_def()
SYNC_WITH_WARNING = dg.Definitions(
    assets=[stand_in_sync], asset_checks=[warns]
).resolve_implicit_global_asset_job_def()


def _tags(warehouse: Path | None) -> dict[str, str]:
    return {**run_tags.CLI, **({run_warehouse.WAREHOUSE: str(warehouse)} if warehouse else {})}


def sync(instance: dg.DagsterInstance, warehouse: Path | None = None, job: dg.JobDefinition = SYNC) -> str:
    return job.execute_in_process(instance=instance, tags=_tags(warehouse)).run_id


def fail(instance: dg.DagsterInstance, warehouse: Path | None = None) -> str:
    return failing_sync.execute_in_process(
        instance=instance, tags=_tags(warehouse), raise_on_error=False
    ).run_id


def run_ids(instance: dg.DagsterInstance) -> set[str]:
    return {record.dagster_run.run_id for record in instance.get_run_records()}


def test_failed_runs_are_kept_for_as_many_runs_as_syncs_while_nothing_publishes():
    """Retention 1: the newest sync's run, and of the runs that published nothing (before the first
    sync too) only the newest one; before the fix all of them stayed."""
    with dg.instance_for_test() as instance:
        never = [fail(instance) for _ in range(2)]  # wrong credentials from the first day
        assert prune_runs(instance, 1, []) == Pruned(deleted=1, left=0)
        assert run_ids(instance) == {never[1]}

        synced = sync(instance)
        failures = [fail(instance) for _ in range(2)]  # then they expired
        assert prune_runs(instance, 1, []) == Pruned(deleted=2, left=0)
        assert run_ids(instance) == {synced, failures[1]}


def _sensor_on(instance: dg.DagsterInstance, sensor: dg.SensorDefinition, status: InstigatorStatus) -> None:
    """The sensor's state as the daemon stores it, with the cursor of a first tick taken now."""
    tick = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=None))
    origin = RemoteInstigatorOrigin(
        RemoteRepositoryOrigin(RegisteredCodeLocationOrigin("orchestration.definitions"), "__repository__"),
        sensor.name,
    )
    data = SensorInstigatorData(cursor=tick.cursor, sensor_type=sensor.sensor_type)
    state = InstigatorState(origin, InstigatorType.SENSOR, status, data)
    if instance.get_instigator_state(origin.get_id(), origin.get_selector().get_id()):
        instance.update_instigator_state(state)
    else:
        instance.add_instigator_state(state)


def test_a_run_the_alert_sensors_have_not_read_is_kept_until_they_do():
    """Retention 1: a failed run (F), then a good sync within the sensors' 30 s: F is older than the
    one kept sync and went before either sensor saw it. Kept until they tick past it, for at most
    7 days, and never for a sensor stopped in the UI."""
    with dg.instance_for_test() as instance:
        sync(instance)
        for sensor in (run_failure_alert, failed_check_alert):
            _sensor_on(instance, sensor, InstigatorStatus.DECLARED_IN_CODE)
        failed = fail(instance)
        warned = sync(instance, job=SYNC_WITH_WARNING)  # a failed WARN check: the check sensor's
        latest = sync(instance)
        assert prune_runs(instance, 1, []) == Pruned(deleted=1, left=0)  # the first sync only
        assert run_ids(instance) == {failed, warned, latest}

        _sensor_on(instance, run_failure_alert, InstigatorStatus.RUNNING)  # it ticked past F
        assert prune_runs(instance, 1, []) == Pruned(deleted=1, left=0)
        assert run_ids(instance) == {warned, latest}
        _sensor_on(instance, failed_check_alert, InstigatorStatus.STOPPED)  # alerting off
        assert prune_runs(instance, 1, []) == Pruned(deleted=1, left=0)
        assert run_ids(instance) == {latest}


def test_an_alert_backlog_older_than_a_week_is_not_kept():
    with dg.instance_for_test() as instance:
        sync(instance)
        _sensor_on(instance, run_failure_alert, InstigatorStatus.DECLARED_IN_CODE)
        fail(instance)
        latest = sync(instance)
        assert prune_runs(instance, 1, [], now=time.time() + 8 * 24 * 3600) == Pruned(deleted=2, left=0)
        assert run_ids(instance) == {latest}


def test_two_warehouses_in_one_home_keep_their_own_runs(tmp_path):
    """A and B share the Dagster home; A syncs more often. A's syncs counted B's as its own, and
    B's runs as A's to delete. A run of a warehouse file that is gone is anyone's to delete."""
    a, b, gone = tmp_path / "a.duckdb", tmp_path / "b.duckdb", tmp_path / "gone.duckdb"
    for path in (a, b, gone):
        path.touch()
    with dg.instance_for_test() as instance:
        b1, old, a1 = sync(instance, b), sync(instance, gone), sync(instance, a)
        gone.unlink()
        b2, a2 = fail(instance, b), sync(instance, a)
        assert prune_runs(instance, 1, [], warehouse=str(a)) == Pruned(deleted=2, left=0)
        assert run_ids(instance) == {b1, b2, a2}
        assert old not in run_ids(instance) and a1 not in run_ids(instance)
        assert prune_runs(instance, 1, [], warehouse=str(b)) == Pruned(deleted=0, left=0)


def test_the_empty_event_log_file_of_a_deleted_run_is_removed():
    """`instance_for_test` keeps Dagster's one file per run, as homes written before 2026-11-27."""
    with dg.instance_for_test() as instance:
        shards = Path(instance.root_directory) / "history" / "runs"
        earlier = sync(instance)
        instance.delete_run(earlier)  # the retention before this fix: the file stayed, emptied
        assert (shards / f"{earlier}.db").exists()
        runs = [sync(instance) for _ in range(3)]
        pruned, warning = prune_or_warn(instance, 1, [])
        assert warning is None and pruned is not None
        assert (pruned.deleted, pruned.leftover_files) == (2, 1)
        assert sorted(p.name for p in shards.glob("*.db")) == sorted([f"{runs[-1]}.db", "index.db"])


def _file_with_free_pages(path: Path) -> int:
    """A WAL-mode SQLite file (as the CLI's history) of ~4 MB, three quarters of it freed."""
    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("CREATE TABLE events (body BLOB)")
        con.executemany("INSERT INTO events VALUES (randomblob(4000))", [()] * 1000)
        con.execute("DELETE FROM events WHERE rowid % 4 != 0")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()
    return path.stat().st_size


def test_a_file_mostly_free_is_vacuumed_unless_another_process_has_it_open(tmp_path):
    path = tmp_path / "event_log.db"
    before = _file_with_free_pages(path)
    assert history_space.reclaim([path], worth=8 * 1024 * 1024) == []  # not worth it yet

    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import sqlite3, sys; c = sqlite3.connect({str(path)!r}); "
            "c.execute('SELECT count(*) FROM events').fetchall(); "
            "print('open', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "open\n"
        [kept] = history_space.reclaim([path], worth=1024 * 1024)
        assert kept.skipped is not None and f"PID {holder.pid} (" in kept.skipped
        assert path.stat().st_size == before
    finally:
        holder.communicate("")

    [late] = history_space.reclaim([path], deadline_s=0.0, worth=1024 * 1024)
    assert late.skipped == "not vacuumed (took over 0 s)" and path.stat().st_size == before
    [done] = history_space.reclaim([path], worth=1024 * 1024)
    assert done.skipped is None and done.before == before and done.after < before // 3, done
    with sqlite3.connect(path) as con:
        assert con.execute("SELECT count(*) FROM events").fetchone() == (250,)
    con.close()


def test_a_failed_cli_sync_deletes_the_failures_beyond_the_kept_ones(make_simulator, data_home, tmp_path):
    """A failed sync never reaches the step that prunes (`c1_access_changes`): the CLI prunes after
    it, so credentials expired for weeks keep `history_retention` failed runs, not one per sync."""
    sim = make_simulator(spec=TINY)
    wrong = [
        *sync_args(sim, tmp_path / "sync.c1z"),
        "--history-retention",
        "1",
        "--password",
        "not-the-password",
    ]
    assert main(wrong) == 1
    assert main(wrong) == 1
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(data_home / "dagster"))) as instance:
        records = instance.get_run_records()
        assert [r.dagster_run.status for r in records] == [dg.DagsterRunStatus.FAILURE]


def test_the_summary_says_1_run_not_1_runs():
    """The line a run's log and `c1_access_changes`' metadata show read "deleted 1 runs not kept"."""
    assert Pruned(deleted=1, left=0).summary() == "deleted 1 run not kept"
    assert Pruned(deleted=2, left=1).summary() == "deleted 2 runs not kept (1 more at the next syncs)"
    assert Pruned(deleted=1, left=0, leftover_files=1).summary() == (
        "deleted 1 run not kept; removed the empty event-log files of 1 deleted run"
    )
    assert Pruned(deleted=0, left=0, leftover_files=3).summary() == (
        "deleted 0 runs not kept; removed the empty event-log files of 3 deleted runs"
    )
