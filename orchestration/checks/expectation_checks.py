"""Runs the Great Expectations suite of each staged table (expectations/) as a blocking check.

The suites run in the expectations worker process (ExpectationsResource): GX is never imported
by the definitions or the run's own process, and the table goes to the worker as Arrow batches.
"""

import dagster as dg

from orchestration.assets.c1_tables import STAGING, staging_key
from orchestration.resources import ExpectationsResource, WarehouseResource

# the columns each suite reads: loading only these keeps a million grants cheap to validate (GX is not
# imported here; tests/expectations/test_suites.py checks these are exactly the suites' columns)
SUITE_COLUMNS = {
    "users": ["user_id", "display_name", "status"],
    "groups": ["group_id", "display_name"],
    "entitlements": ["entitlement_id", "group_id", "slug"],
    "grants": ["grant_id", "entitlement_id", "principal_type", "principal_id"],
}


def _build_check(table: str, columns: list[str]) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=staging_key(table),
        name=f"{table}_expectations",
        blocking=True,
        description=f"Great Expectations suite c1_{table} (expectations/{table}.py).",
    )
    def _check(warehouse: WarehouseResource, expectations: ExpectationsResource) -> dg.AssetCheckResult:
        with warehouse.connect() as con:
            rows = con.sql(f"SELECT {', '.join(columns)} FROM {STAGING}.{table}").arrow()
            outcome, row_count = expectations.validate(table, rows)
        return dg.AssetCheckResult(
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

    return _check


expectation_checks = [_build_check(table, columns) for table, columns in SUITE_COLUMNS.items()]
