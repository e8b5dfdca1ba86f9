"""The UI's Terminate during a step: one clear line on that step, the run Canceled, nothing else run.

Dagster terminates a run of the code location by marking it canceling and sending its run worker
SIGINT; that is done here from inside the `groups` transform, as the click lands. The step's failure
read `dagster._core.errors.DagsterExecutionInterruptedError` over a stack trace of DuckDB's call,
and nothing said what became of the data.
"""

from __future__ import annotations

import signal

import dagster as dg
import duckdb
import pytest

from orchestration.assets import c1_tables
from orchestration.definitions import build_definitions
from orchestration.jobs import SYNC_JOB_NAME
from orchestration.resources import SyncSettings, WarehouseResource
from tests.orchestration.conftest import use_simulator


def _terminate_the_running_run(instance: dg.DagsterInstance) -> None:
    """What the UI's Terminate does to a run of the code location: canceling, then SIGINT."""
    [run] = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
    instance.report_run_canceling(run)
    signal.raise_signal(signal.SIGINT)


@pytest.mark.parametrize("job_name", [SYNC_JOB_NAME, "__ASSET_JOB"], ids=["sync_job", "materialize_all"])
def test_a_step_terminated_in_the_ui_fails_with_one_line_and_the_run_stops_there(
    simulator, data_home, tmp_path, monkeypatch, job_name
):
    """In a run of the job and of "Materialize all" (the implicit asset job, which README suggests)."""
    use_simulator(monkeypatch, simulator)
    sync_file = tmp_path / "sync.c1z"
    warehouse = str(tmp_path / "wh.duckdb")
    defs = build_definitions(
        {
            "warehouse": WarehouseResource(database=warehouse, dlt_pipelines_dir=str(tmp_path / "dlt")),
            "sync_settings": SyncSettings(sync_file=str(sync_file)),
        }
    )
    job = defs.resolve_job_def(job_name)
    with dg.instance_for_test() as instance:
        assert job.execute_in_process(instance=instance).success
        previous = sync_file.read_bytes()
        with duckdb.connect(warehouse, read_only=True) as con:
            published = con.execute("SELECT * FROM c1.sync_runs").fetchall()

        count = c1_tables._count

        def count_then_terminate(con, table):  # the first transform to count its rows: groups
            _terminate_the_running_run(instance)
            return count(con, table)

        monkeypatch.setattr(c1_tables, "_count", count_then_terminate)
        result = job.execute_in_process(instance=instance, raise_on_error=False)

        run_id = result.run_id
        assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.CANCELED
        started = [e.step_key for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_START)]
        # the step stopped was the last one run: the other transforms and the checks did not start
        assert started == ["xmatters_raw", "c1_staging__groups"]
        [failure] = instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE)

    data = failure.dagster_event.step_failure_data
    line = (
        "Run stopped by the user (Terminate) during step c1_staging__groups: nothing was published; "
        f"the previous {sync_file} and c1 tables are kept; the steps after it did not run."
    )
    assert data.user_failure_data.description == line  # the step's failure in the UI
    assert data.user_failure_data.metadata["published"] == dg.MetadataValue.text("nothing")
    assert data.error.message == f"orchestration.stopped_run.RunStopped: {line}\n"
    assert data.error.cause is None and data.error.context is None  # no DuckDB frames under it
    assert sync_file.read_bytes() == previous
    with duckdb.connect(warehouse, read_only=True) as con:
        assert con.execute("SELECT * FROM c1.sync_runs").fetchall() == published
