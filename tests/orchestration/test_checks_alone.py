"""An asset check run alone (its asset page's "Execute") before the tables it reads are staged.

Every check failed with DuckDB's `Catalog Error: Table with name "c1_staging.users" does not exist
because schema "c1_staging" does not exist.` under a stack trace; a cross-table rule named only the
first table DuckDB missed. Now the step stops with one line naming every table missing and what to run.
"""

from __future__ import annotations

import dagster as dg
import duckdb
import pytest

from orchestration.run_outcome import step_failure_cause
from tests.orchestration.conftest import job_on_a_new_warehouse


def _run_alone(tmp_path, monkeypatch, asset: str, check: str) -> tuple[dg.DagsterEvent, str]:
    job, warehouse = job_on_a_new_warehouse(tmp_path, monkeypatch)
    key = dg.AssetCheckKey(dg.AssetKey(["c1_staging", asset]), check)
    with dg.instance_for_test() as instance:
        result = job.get_subset(asset_selection=set(), asset_check_selection={key}).execute_in_process(
            instance=instance, raise_on_error=False
        )
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    return failure, str(warehouse)


@pytest.mark.parametrize(
    ("asset", "check", "reads"),
    [
        ("users", "users_sudden_drop", "c1_staging/users, not in the warehouse {db} yet: materialize it"),
        ("groups", "groups_expectations", "c1_staging/groups, not in the warehouse {db} yet: materialize it"),
        (
            "grants",
            "grant_principals_exist",
            "c1_staging/grants, c1_staging/users, c1_staging/groups, not in the warehouse {db} yet: "
            "materialize them",
        ),
    ],
)
def test_a_check_alone_on_a_new_warehouse_names_what_to_materialize(
    tmp_path, monkeypatch, asset, check, reads
):
    failure, database = _run_alone(tmp_path, monkeypatch, asset, check)
    expected = f"{check} reads {reads.format(db=database)} first (Materialize all runs the whole sync)"
    assert step_failure_cause(failure, first_line=False) == expected
    # a dagster.Failure: the UI heads the step's error with this description, not DuckDB's catalog error
    assert failure.step_failure_data.user_failure_data.description == expected
    assert "Catalog Error" not in str(failure.step_failure_data.error)


def test_a_cross_table_check_names_only_the_tables_still_missing(tmp_path, monkeypatch):
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    con.execute("CREATE SCHEMA c1_staging")
    for table in ("grants", "users"):
        con.execute(f"CREATE TABLE c1_staging.{table} (id VARCHAR)")
    con.close()
    failure, database = _run_alone(tmp_path, monkeypatch, "grants", "grant_principals_exist")
    assert step_failure_cause(failure, first_line=False) == (
        f"grant_principals_exist reads c1_staging/groups, not in the warehouse {database} yet: "
        "materialize it first (Materialize all runs the whole sync)"
    )
