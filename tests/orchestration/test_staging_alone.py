"""A staged table materialized alone (its asset page's "Materialize") before its upstream exists.

Dagster asks "Are you sure?" and then ran the SQL, which failed with DuckDB's multi-line
`Catalog Error: Table with name "xmatters_raw.people" does not exist ... LINE 10: FROM ...`.
"""

from __future__ import annotations

import dagster as dg

from orchestration.run_outcome import step_failure_cause
from tests.orchestration.conftest import job_on_a_new_warehouse


def test_a_staged_table_alone_on_a_new_warehouse_names_what_to_materialize_first(tmp_path, monkeypatch):
    job, warehouse = job_on_a_new_warehouse(tmp_path, monkeypatch)
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(
            instance=instance, asset_selection=[dg.AssetKey(["c1_staging", "users"])], raise_on_error=False
        )
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert step_failure_cause(failure, first_line=False) == (
        f"c1_staging/users reads xmatters_raw/people, xmatters_raw/group_members, c1_staging/user_emails, "
        f"not in the warehouse {warehouse} yet: materialize them first (Materialize all runs the whole sync)"
    )
