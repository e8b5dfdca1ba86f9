"""The run history keeps the runs of the newest `history_retention` syncs: older Dagster runs go.

Every sync added ~440 KB to the home's SQLite event log and nothing ever removed it. Now the runs
older than the run of the oldest kept sync are deleted after each sync (orchestration/run_retention.py),
except runs not finished, runs of another code location, and the runs the publish gate reads.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import dagster as dg
from dagster._core.instance.ref import InstanceRef

from orchestration import run_tags
from orchestration.checks.per_table import table_checks
from orchestration.cli import main
from orchestration.definitions import build_definitions
from orchestration.jobs import SYNC_JOB_NAME
from orchestration.resources import SyncSettings
from orchestration.run_retention import Pruned, prune_runs
from orchestration.sync_command import ensure_dagster_home
from tests.conftest import SMALL_ORG_SPEC
from tests.orchestration.conftest import read_sync, use_simulator
from tests.orchestration.test_sync_cli import sync_args

# 30 people in 5 groups: a sync of a few seconds, with every asset and check of a big one
TINY = dataclasses.replace(SMALL_ORG_SPEC, people=30, groups=5, large_groups=0, hidden_people=1)
C1_SYNC = dg.AssetKey("c1_sync")


def _instance(home: Path) -> dg.DagsterInstance:
    return dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home / "dagster")))


def _newest_run(home: Path) -> str:
    with _instance(home) as instance:
        return instance.get_run_records(limit=1)[0].dagster_run.run_id


def _run_ids(home: Path) -> set[str]:
    with _instance(home) as instance:
        return {record.dagster_run.run_id for record in instance.get_run_records()}


def _history_bytes(home: Path) -> int:
    """The run storage and the event log (`dagster/history/*.db`)."""
    return sum(path.stat().st_size for path in (home / "dagster" / "history").glob("*.db"))


def _runs_in_event_log(home: Path) -> tuple[set[str], set[str]]:
    """The runs that have events, and those that have check executions."""
    with sqlite3.connect(home / "dagster" / "history" / "event_log.db") as con:
        events = {row[0] for row in con.execute("SELECT DISTINCT run_id FROM event_logs WHERE run_id != ''")}
        checks = {row[0] for row in con.execute("SELECT DISTINCT run_id FROM asset_check_executions")}
    return events, checks


@dg.op
def _elsewhere() -> None:
    """A step of another code location's job."""


@dg.job
def other_location_job() -> None:
    _elsewhere()


@dg.asset(name="c1_sync")
def stand_in_sync() -> dg.MaterializeResult:
    """Stands in for a published sync: a run that materializes `c1_sync`, in well under a second."""
    return dg.MaterializeResult()


def test_the_oldest_runs_go_first_a_few_per_sync_and_a_hand_reported_sync_is_none():
    job = dg.Definitions(assets=[stand_in_sync]).resolve_implicit_global_asset_job_def()
    with dg.instance_for_test() as instance:
        runs = [job.execute_in_process(instance=instance, tags=run_tags.CLI).run_id for _ in range(5)]
        assert prune_runs(instance, 1, [], max_deleted=2) == Pruned(deleted=2, left=2)
        assert {r.dagster_run.run_id for r in instance.get_run_records()} == set(runs[2:])

        # the UI's "Report materialization event" on c1_sync: no run, no sync. Its empty run id as
        # the oldest kept sync's run deleted every run, the newest sync's too
        instance.report_runless_asset_event(dg.AssetMaterialization(C1_SYNC))
        assert prune_runs(instance, 1, []) == Pruned(deleted=2, left=0)
        assert {r.dagster_run.run_id for r in instance.get_run_records()} == {runs[4]}


def test_a_scheduled_home_keeps_the_runs_of_the_newest_syncs_and_stops_growing(
    make_simulator, data_home, tmp_path, monkeypatch, capsys
):
    sim = make_simulator(spec=TINY)
    use_simulator(monkeypatch, sim)  # for the UI's runs below; the CLI's flags win over it
    sync_file = tmp_path / "sync.c1z"
    retention = ["--history-retention", "2"]
    good = [*sync_args(sim, sync_file), *retention]
    wrong_password = [*sync_args(sim, sync_file), *retention, "--password", "not-the-password"]
    runs: dict[str, str] = {}
    sizes: dict[str, int] = {}

    assert main(good) == 0
    runs["S1"], sizes["S1"] = _newest_run(data_home), _history_bytes(data_home)
    with _instance(data_home) as instance:
        # the UI's "Materialize all" waiting in the queue, and another code location's finished run
        queued = instance.create_run_for_job(
            build_definitions().resolve_job_def(SYNC_JOB_NAME), tags=run_tags.SCHEDULE
        ).run_id
        foreign = other_location_job.execute_in_process(instance=instance).run_id
    for label in ("F1", "S2", "S3", "S4", "F2", "S5"):
        assert main(wrong_password if label.startswith("F") else good) == (1 if label.startswith("F") else 0)
        runs[label], sizes[label] = _newest_run(data_home), _history_bytes(data_home)
    out = capsys.readouterr().out
    print({label: f"{size:,} B" for label, size in sizes.items()})  # noqa: T201 (the report's figures)

    # the runs of the two newest syncs and every run since the older of them; the queued run and
    # the other location's are not ours to delete
    kept = {runs["S4"], runs["F2"], runs["S5"]}
    assert _run_ids(data_home) == kept | {queued, foreign}
    events, check_runs = _runs_in_event_log(data_home)
    assert events == kept | {queued, foreign}  # the queued run's planning events
    assert check_runs == kept | {queued}  # planned when it was queued
    assert "old Dagster runs" not in out

    # the files stop growing: two more syncs (and a failed one) after S3 added less than half of
    # what one sync added before anything was deleted (S1 -> S2: the events of F1 and S2)
    one_sync = sizes["S2"] - sizes["S1"]
    assert sizes["S5"] - sizes["S3"] < one_sync / 2, sizes

    with _instance(data_home) as instance:
        for record in instance.get_asset_records():
            key = record.asset_entry.asset_key
            latest = instance.get_latest_materialization_event(key)
            assert latest is not None and latest.run_id == runs["S5"], key
            history = instance.fetch_materializations(key, limit=10).records
            assert [r.run_id for r in history] == [runs["S5"], runs["S4"]], key
        check_keys = [key for checks in table_checks for key in checks.check_keys]
        latest_checks = instance.event_log_storage.get_latest_asset_check_execution_by_key(check_keys)
        assert {key: (e.run_id, e.status.value) for key, e in latest_checks.items()} == {
            key: (runs["S5"], "SUCCEEDED") for key in check_keys
        }
        settings = SyncSettings(sync_file=str(sync_file), history_retention=2)
        job = build_definitions({"sync_settings": settings}).resolve_implicit_global_asset_job_def()
        # the asset page's "Materialize" on c1_sync alone: the publish gate reads S5's checks
        alone = job.execute_in_process(instance=instance, asset_selection=[C1_SYNC], raise_on_error=False)
    failures = [str(e.step_failure_data.error) for e in alone.all_events if e.is_step_failure]
    assert alone.success, failures
    assert read_sync(sync_file).users == {p["id"] for p in sim.org.all_people}


def test_the_runs_the_publish_gate_reads_are_kept(make_simulator, data_home, tmp_path, monkeypatch):
    """UI runs, retention 1: "Materialize all" (A), then twice "Materialize" on `c1_sync` and
    `c1_access_changes` (B, C), each publishing A's staged tables. A is older than the one kept
    sync, but it holds the staged tables' latest materializations and checks: deleted, the next
    "Materialize" of `c1_sync` (D) would find no check run on them and refuse to publish."""
    sim = make_simulator(spec=TINY)
    use_simulator(monkeypatch, sim)
    sync_file = tmp_path / "sync.c1z"
    home = data_home / "dagster"
    ensure_dagster_home(home)  # what `make ui` writes; compute logs captured under storage/<run id>
    settings = SyncSettings(sync_file=str(sync_file), history_retention=1)
    job = build_definitions({"sync_settings": settings}).resolve_implicit_global_asset_job_def()
    publish = [C1_SYNC, dg.AssetKey("c1_access_changes")]
    with _instance(data_home) as instance:
        a = job.execute_in_process(instance=instance).run_id
        b = job.execute_in_process(instance=instance, asset_selection=publish).run_id
        assert (home / "storage" / b).is_dir()  # its captured stdout/stderr
        c = job.execute_in_process(instance=instance, asset_selection=publish).run_id
        d = job.execute_in_process(instance=instance, asset_selection=[C1_SYNC], raise_on_error=False)
        assert all(instance.get_run_by_id(run).tags[run_tags.STARTED_BY] == "ui" for run in (a, c))
    failures = [str(e.step_failure_data.error) for e in d.all_events if e.is_step_failure]
    assert d.success, failures
    assert _run_ids(data_home) == {a, c, d.run_id}
    assert not (home / "storage" / b).exists()
    assert (home / "storage" / a).is_dir()


def test_a_pruning_error_is_one_warning_and_the_sync_is_published(
    make_simulator, data_home, tmp_path, capsys
):
    """A run storage that refuses deletes (here a SQLite trigger): the sync still publishes, exit 0,
    and says so in one warning line; the next sync deletes what this one could not."""
    sim = make_simulator(spec=TINY)
    sync_file = tmp_path / "sync.c1z"
    args = [*sync_args(sim, sync_file), "--history-retention", "1"]
    assert main(args) == 0
    first = _newest_run(data_home)
    runs_db = data_home / "dagster" / "history" / "runs.db"
    with sqlite3.connect(runs_db) as con:
        con.execute(
            "CREATE TRIGGER keep_runs BEFORE DELETE ON runs BEGIN SELECT RAISE(ABORT, 'runs are kept'); END"
        )
    capsys.readouterr()

    assert main(args) == 0
    out = capsys.readouterr().out
    second = _newest_run(data_home)
    warnings = [line.strip() for line in out.splitlines() if "old Dagster runs" in line]
    assert warnings == [
        "warning        old Dagster runs were not deleted (IntegrityError: runs are kept); "
        "the next sync tries again"
    ]
    assert "sync file" in out and read_sync(sync_file).users == {p["id"] for p in sim.org.all_people}
    assert _run_ids(data_home) == {first, second}

    with sqlite3.connect(runs_db) as con:
        con.execute("DROP TRIGGER keep_runs")
    assert main(args) == 0
    assert "old Dagster runs" not in capsys.readouterr().out
    assert _run_ids(data_home) == {_newest_run(data_home)}
