"""A re-execution runs on the code location's warehouse: refused when its parent ran on another one."""

from __future__ import annotations

import hashlib
from pathlib import Path

import dagster as dg
import duckdb

from orchestration.cli import main
from orchestration.definitions import build_definitions
from orchestration.jobs import SYNC_JOB_NAME
from orchestration.resources import SyncSettings
from orchestration.run_outcome import failure_line
from orchestration.run_retention import Pruned, prune_runs
from orchestration.run_tags import STARTED_BY
from orchestration.run_warehouse import PARENT_WAREHOUSE, WAREHOUSE
from tests.orchestration.conftest import read_sync, use_simulator
from tests.orchestration.test_sync_cli import sync_args
from tests.orchestration.tiny_job import tiny_job


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_re_execution_of_a_run_on_another_warehouse_fails_before_touching_either(
    simulator, data_home, tmp_path, monkeypatch
) -> None:
    """ "Re-execute from failure" of a CLI run with its own `--warehouse`, from a UI on another
    warehouse, skipped the steps the CLI finished and read the UI warehouse's staged tables (older,
    or another tenant's) under the CLI run's check results. On the same warehouse it still runs."""
    cli_warehouse = tmp_path / "cli" / "warehouse.duckdb"
    cli_file = tmp_path / "cli.c1z"
    assert main(sync_args(simulator, cli_file, "--warehouse", str(cli_warehouse))) == 0
    ui_warehouse = data_home / "warehouse.duckdb"  # the code location's: BATON_XMATTERS_HOME
    ui_warehouse.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(ui_warehouse)) as con:
        con.execute("CREATE SCHEMA c1_staging; CREATE TABLE c1_staging.users AS SELECT 'stale' AS user_id")
    before = {path: _digest(path) for path in (ui_warehouse, cli_warehouse)}

    use_simulator(monkeypatch, simulator)
    ui_file = tmp_path / "ui.c1z"
    settings = SyncSettings(sync_file=str(ui_file), history_retention=1)
    job = build_definitions({"sync_settings": settings}).resolve_job_def(SYNC_JOB_NAME)
    with dg.DagsterInstance.from_config(str(data_home / "dagster")) as instance:
        (parent,) = instance.get_runs()
        assert parent.tags[WAREHOUSE] == str(cli_warehouse.resolve())
        ui_path, cli_path = str(ui_warehouse.resolve()), str(cli_warehouse.resolve())
        # an earlier failed run of the code location on its own warehouse (planning no asset: the
        # run of an asset's latest planned materialization is kept)
        failure, ui_tags = dg.DagsterRunStatus.FAILURE, {STARTED_BY: "schedule", WAREHOUSE: ui_path}
        earlier = instance.create_run_for_job(tiny_job, status=failure, tags=ui_tags).run_id
        # what Dagster gives a re-execution: the parent's tags, ours too, and the parent's ids
        tags = {**parent.tags, "dagster/parent_run_id": parent.run_id, "dagster/root_run_id": parent.run_id}
        c1_sync = [dg.AssetKey("c1_sync")]  # "From failure" after a failed write: the rest skipped
        refused = job.execute_in_process(
            instance=instance, tags=tags, asset_selection=c1_sync, raise_on_error=False
        )
        assert not refused.success
        assert failure_line(refused.all_events) == (
            f"xmatters: this run re-executes run {parent.run_id[:8]}, which ran on the warehouse "
            f"{cli_warehouse.resolve()}, but this code location's warehouse is {ui_warehouse.resolve()}: "
            "the steps it skips left their tables in the other one; re-execute it from a UI started on "
            "that run's data home (BATON_XMATTERS_HOME), or launch a new full run (Materialize all)"
        )
        assert {path: _digest(path) for path in before} == before
        assert not ui_file.exists()

        # the refused run ran against this warehouse: tagged with it (it kept the parent's tag), it
        # prunes this warehouse's history at its end and this warehouse's retention deletes it; the
        # steps it skipped are still the CLI warehouse's, so its own re-execution is refused as well
        refused_tags = instance.get_run_by_id(refused.run_id).tags
        assert (refused_tags[WAREHOUSE], refused_tags.get(PARENT_WAREHOUSE)) == (ui_path, cli_path)
        ids = {"dagster/parent_run_id": refused.run_id, "dagster/root_run_id": parent.run_id}
        again = job.execute_in_process(
            instance=instance,
            tags={**refused_tags, **ids},
            asset_selection=c1_sync,
            raise_on_error=False,
        )
        assert not again.success
        reexecutes = f"this run re-executes run {refused.run_id[:8]}, which ran on the warehouse {cli_path}, "
        assert failure_line(again.all_events).startswith(f"xmatters: {reexecutes}")
        # retention 1: at the end of `again` the newest finished run that published nothing stays
        assert {run.run_id for run in instance.get_runs()} == {parent.run_id, refused.run_id, again.run_id}
        assert earlier not in {run.run_id for run in instance.get_runs()}
        assert prune_runs(instance, 1, [], warehouse=ui_path) == Pruned(deleted=1, left=0)  # `refused`
        assert {path: _digest(path) for path in before} == before

        # the CLI's own warehouse in the code location: the re-execution runs, and records its own
        monkeypatch.setenv("BATON_XMATTERS_HOME", str(cli_warehouse.parent))
        job = build_definitions({"sync_settings": SyncSettings(sync_file=str(ui_file))}).resolve_job_def(
            SYNC_JOB_NAME
        )
        rerun = job.execute_in_process(instance=instance, tags=tags, asset_selection=c1_sync)
        assert rerun.success
        assert read_sync(ui_file).users == read_sync(cli_file).users  # published from the CLI's tables
        recorded = instance.get_run_by_id(rerun.run_id).tags
        assert (recorded[WAREHOUSE], recorded[STARTED_BY]) == (str(cli_warehouse.resolve()), "ui")
