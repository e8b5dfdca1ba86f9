"""The Dagster job itself (not via the CLI): runs in-process with every check and publishes."""

from __future__ import annotations

import dagster as dg

from orchestration.definitions import build_definitions
from orchestration.jobs import SYNC_JOB_NAME
from orchestration.resources import SyncSettings, WarehouseResource
from pipelines.c1z.reader import open_c1z
from tests.orchestration.conftest import use_simulator


def test_job_runs_with_all_checks_passing_and_reports_metadata(
    simulator, org, data_home, tmp_path, monkeypatch
):
    use_simulator(monkeypatch, simulator)
    sync_file = tmp_path / "job.c1z"
    defs = build_definitions(
        {
            "warehouse": WarehouseResource(
                database=str(tmp_path / "wh.duckdb"), dlt_pipelines_dir=str(tmp_path / "dlt")
            ),
            "sync_settings": SyncSettings(sync_file=str(sync_file)),
        }
    )
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def(SYNC_JOB_NAME).execute_in_process(instance=instance)
    assert result.success

    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) == 13  # 4 GX suites, 3 SQL reference rules, 2 drop guards, 4 C1 limits
    assert all(e.passed for e in evaluations), [e.check_name for e in evaluations if not e.passed]

    materialized = {
        e.asset_key.to_user_string(): e.step_materialization_data.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    assert materialized["xmatters_raw/people"]["dagster/row_count"].value == len(org.people)
    assert "preview" in materialized["xmatters_raw/group_members"]
    assert materialized["c1_staging/grants"]["dagster/row_count"].value == len(org.person_memberships())
    assert materialized["c1_sync"]["path"].value == str(sync_file)
    with open_c1z(sync_file) as reader:
        assert reader.stats()["grants"] == len(org.person_memberships())
    assert "BATON_PASSWORD" not in str(materialized)
    assert simulator.password not in str(materialized)

    # The GX suites ran in the expectations worker over every row of their tables.
    gx_rows = {
        e.check_name: e.metadata["rows"].value for e in evaluations if e.check_name.endswith("_expectations")
    }
    staged_rows = {
        f"{table}_expectations": materialized[f"c1_staging/{table}"]["dagster/row_count"].value
        for table in ("users", "groups", "entitlements", "grants")
    }
    assert gx_rows == staged_rows
    assert gx_rows["grants_expectations"] == len(org.person_memberships())
