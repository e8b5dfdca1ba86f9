"""Runs the Great Expectations suite of each staged table (expectations/) as a blocking check.

The suites run in the expectations worker process (ExpectationsResource): GX is never imported
by the definitions or the run's own process, and the table goes to the worker as Arrow batches.
"""

from __future__ import annotations

import dagster as dg
import duckdb

from orchestration.assets.c1_tables import STAGING, staging_key
from orchestration.checks.table_check import CheckResources, TableCheck

# the columns each suite reads: loading only these keeps a million grants cheap to validate (GX is not
# imported here; tests/expectations/test_suites.py checks these are exactly the suites' columns)
SUITE_COLUMNS = {
    "users": ["user_id", "display_name", "status"],
    "groups": ["group_id", "display_name"],
    "entitlements": ["entitlement_id", "group_id", "slug"],
    "grants": ["grant_id", "entitlement_id", "principal_type", "principal_id"],
}


def expectations_result(
    table: str, con: duckdb.DuckDBPyConnection, expectations: object
) -> dg.AssetCheckResult:
    """The suite of `table` validated by the worker, as the check's result."""
    columns = SUITE_COLUMNS[table]
    rows = con.sql(f"SELECT {', '.join(columns)} FROM {STAGING}.{table}").arrow()
    outcome, row_count = expectations.validate(table, rows)  # type: ignore[attr-defined]
    return dg.AssetCheckResult(
        check_name=f"{table}_expectations",
        asset_key=staging_key(table),
        passed=outcome.success,
        description=outcome.describe(),
        metadata={
            "rows": dg.MetadataValue.int(row_count),
            "expectations": dg.MetadataValue.int(outcome.evaluated),
            "failures": dg.MetadataValue.json(
                [
                    {
                        "expectation": f.expectation,
                        "column": f.column,
                        "unexpected_count": f.unexpected_count,
                        "examples": f.examples,
                    }
                    for f in outcome.failures
                ]
            ),
        },
    )


def _check(table: str) -> TableCheck:
    def evaluate(con: duckdb.DuckDBPyConnection, resources: CheckResources) -> dg.AssetCheckResult:
        return expectations_result(table, con, resources.expectations)

    spec = dg.AssetCheckSpec(
        name=f"{table}_expectations",
        asset=staging_key(table),
        blocking=True,
        description=f"Great Expectations suite c1_{table} (expectations/{table}.py).",
    )
    return TableCheck(spec, evaluate, in_worker=True)


expectation_checks = [_check(table) for table in SUITE_COLUMNS]
