"""A run of the code location (the UI, the schedule) while another process holds the warehouse open.

The CLI says so before any request (tests/reliability/test_output_faults.py); a UI or schedule run
failed at its resource set-up with DuckDB's own `IO Error: Could not set lock on file ... However,
you would be able to open this database in read-only mode`, advice a sync cannot follow.
"""

from __future__ import annotations

import dagster as dg
import duckdb

from orchestration.definitions import build_definitions
from orchestration.resources import SyncSettings, WarehouseResource
from orchestration.run_outcome import run_failure_cause, summarize_run
from tests.held_warehouse import held_open
from tests.orchestration.conftest import use_simulator


def test_a_ui_run_names_the_process_holding_the_warehouse(simulator, data_home, tmp_path, monkeypatch):
    use_simulator(monkeypatch, simulator)
    warehouse = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(warehouse)).close()
    sync_file = tmp_path / "sync.c1z"
    resources = {
        "warehouse": WarehouseResource(database=str(warehouse), dlt_pipelines_dir=str(tmp_path / "dlt")),
        "sync_settings": SyncSettings(sync_file=str(sync_file)),
    }
    job = build_definitions(resources).resolve_implicit_global_asset_job_def()
    with held_open(warehouse) as holder, dg.instance_for_test() as instance:
        result = job.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE]
    cause = run_failure_cause(failure)
    assert cause is not None
    assert cause.startswith(
        f"xmatters: the warehouse {warehouse} is open in another process (PID {holder.pid}"
    )
    assert "close that session" in cause and "read-only mode" not in cause
    # the CLI's line: a CLI sync whose run met the held file after its own check (a UI run that
    # opened it in between) printed only `baton-xmatters: error: the run failed`
    assert summarize_run(result).error == cause
    assert simulator.requests == []
    assert not sync_file.exists()
