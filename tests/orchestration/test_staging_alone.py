"""A staged table materialized alone (its asset page's "Materialize") before its upstream exists.

Dagster asks "Are you sure?" and then ran the SQL, which failed with DuckDB's multi-line
`Catalog Error: Table with name "xmatters_raw.people" does not exist ... LINE 10: FROM ...`.
"""

from __future__ import annotations

import dagster as dg

from orchestration.definitions import build_definitions
from orchestration.resources import SyncSettings, WarehouseResource
from orchestration.run_outcome import step_failure_cause


def test_a_staged_table_alone_on_a_new_warehouse_names_what_to_materialize_first(tmp_path, monkeypatch):
    for name, value in (("BASE_URL", "http://127.0.0.1:9/api/xm/1"), ("USERNAME", "u"), ("PASSWORD", "p")):
        monkeypatch.setenv(f"BATON_{name}", value)
    warehouse = tmp_path / "warehouse.duckdb"
    resources = {
        "warehouse": WarehouseResource(database=str(warehouse), dlt_pipelines_dir=str(tmp_path / "dlt")),
        "sync_settings": SyncSettings(sync_file=str(tmp_path / "sync.c1z")),
    }
    job = build_definitions(resources).resolve_implicit_global_asset_job_def()
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(
            instance=instance, asset_selection=[dg.AssetKey(["c1_staging", "users"])], raise_on_error=False
        )
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert step_failure_cause(failure, first_line=False) == (
        f"c1_staging/users reads xmatters_raw/people, xmatters_raw/group_members, c1_staging/user_emails, "
        f"not in the warehouse {warehouse} yet: materialize them first (Materialize all runs the whole sync)"
    )
